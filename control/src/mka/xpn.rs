//! XPN parameters MKA derives for a SAK (IEEE 802.1X-2020 9.8.3 with IEEE 802.1AE-2018 10.7.8):
//! the 96-bit salt from the Key Identifier, and the SSCI of each participant.

use macsec_dataplane::secy::{Salt, Sci, Ssci};

use super::mkpdu::{Kn, Mi};

/// The salt of the SAK with Key Identifier (MI, KN): the key server's MI with the KN mixed into
/// its most significant 32 bits: octets 0..4 of the MI are XORed with KN octets 2, 3, 0, 1.
pub fn salt(mi: &Mi, kn: Kn) -> Salt {
    let k = kn.0.to_be_bytes();
    let mut s = mi.0;
    s[0] ^= k[2];
    s[1] ^= k[3];
    s[2] ^= k[0];
    s[3] ^= k[1];
    Salt(s)
}

/// SSCIs 1..=N assigned in descending numerical order of the participants' SCIs, the key server
/// included (the order the key server's Live Peer List then follows).
pub fn ssci_of(me: Sci, all: &[Sci]) -> Ssci {
    let higher = all.iter().filter(|s| **s > me).count();
    Ssci(higher as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssci_by_descending_sci_and_salt_layout() {
        let (a, b) = (Sci(1), Sci(2));
        assert_eq!(ssci_of(b, &[a, b]), Ssci(1));
        assert_eq!(ssci_of(a, &[a, b]), Ssci(2));
        let s = salt(&Mi([0; 12]), Kn(0x0102_0304));
        assert_eq!(&s.0[..4], &[3, 4, 1, 2]);
    }
}
