//! The MKPDU Integrity Check Value (IEEE 802.1X-2020 9.4.1, 11.11.2): AES-CMAC with the ICK over
//! the frame from the destination MAC address up to the ICV, 16 octets.

use subtle_eq::ct_eq;

use super::kdf::aes_cmac;
use super::keys::Ick;

pub const ICV_LEN: usize = 16;

/// The ICV of `frame_without_icv` (DA, SA, EtherType, EAPOL header, parameter sets).
pub fn compute(ick: &Ick, frame_without_icv: &[u8]) -> [u8; ICV_LEN] {
    // The ICK is 16 or 32 octets by construction.
    aes_cmac(ick.expose(), &[frame_without_icv]).unwrap_or([0u8; ICV_LEN])
}

/// Checks the ICV in constant time.
pub fn verify(ick: &Ick, frame_without_icv: &[u8], icv: &[u8]) -> bool {
    icv.len() == ICV_LEN && ct_eq(&compute(ick, frame_without_icv), icv)
}

mod subtle_eq {
    /// Equality without an early exit on the first differing octet.
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
