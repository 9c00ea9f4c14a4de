//! The GCM IV of each cipher suite, and the recovery of a 64-bit XPN PN from the 32 bits on the
//! wire.

use super::{Iv, Pn, Salt, Sci, Ssci};

/// IEEE 802.1AE-2018 14.5: IV = SCI (8 octets) ‖ PN (4 octets).
#[inline]
pub fn iv_gcm(sci: Sci, pn: u32) -> Iv {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(&sci.to_bytes());
    iv[8..].copy_from_slice(&pn.to_be_bytes());
    Iv(iv)
}

/// IEEE 802.1AE-2018 14.7: IV = (SSCI (4 octets) ‖ PN (8 octets)) XOR Salt (12 octets).
pub fn iv_xpn(ssci: Ssci, pn: Pn, salt: &Salt) -> Iv {
    let mut iv = [0u8; 12];
    iv[..4].copy_from_slice(&ssci.0.to_be_bytes());
    iv[4..].copy_from_slice(&pn.0.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt.0.iter()) {
        *b ^= s;
    }
    Iv(iv)
}

/// [`iv_xpn`] with what is the same for every frame of an SA worked out once: the SSCI XOR the
/// salt's first 4 octets, and the salt's last 8 as the number the PN is XORed with. A frame's
/// IV is then one XOR and a byte swap, not a 12-octet loop.
#[derive(Clone, Copy, Debug)]
pub struct XpnIv {
    /// The SSCI XOR the salt's first 4 octets, in the high half.
    head: u64,
    salt_low: u64,
}

impl XpnIv {
    pub fn new(ssci: Ssci, salt: &Salt) -> Self {
        let [s0, s1, s2, s3, low @ ..] = salt.0;
        let head = ssci.0 ^ u32::from_be_bytes([s0, s1, s2, s3]);
        XpnIv { head: u64::from(head) << 32, salt_low: u64::from_be_bytes(low) }
    }

    #[inline]
    pub fn iv(&self, pn: Pn) -> Iv {
        // Written as 8 + 4 octets, the halves an `Iv` is copied in: built from a 4-octet and an
        // 8-octet store, the next copy's 8-octet load spanned both and waited for them (a failed
        // store forward, 23% of an XPN validate loop in `perf annotate`).
        let x = pn.0 ^ self.salt_low;
        let mut iv = [0u8; 12];
        iv[..8].copy_from_slice(&(self.head | (x >> 32)).to_be_bytes());
        iv[8..].copy_from_slice(&(x as u32).to_be_bytes());
        Iv(iv)
    }
}

/// IEEE 802.1AE-2018 10.6.2: with XPN only the low 32 bits of the PN travel; the receiver
/// recovers the high 32 bits from the lowest acceptable PN. We take the 64-bit value nearest
/// to `lowest_acceptable` (within ±2^31), as the Linux driver and DPDK do, so a frame a little
/// below the window is recognised as late instead of being tried against the next 2^32 epoch.
pub fn recover(wire: u32, lowest_acceptable: Pn) -> Pn {
    let reference = lowest_acceptable.0;
    let high = reference >> 32;
    let low = reference as u32;
    let half = 1u32 << 31;
    let candidate_high = if wire < low && low - wire >= half {
        high.wrapping_add(1) // wrapped forward into the next epoch
    } else if wire > low && wire - low > half && high > 0 {
        high - 1 // a late frame from the previous epoch
    } else {
        high
    };
    if candidate_high > u64::from(u32::MAX) {
        // Beyond the end of the PN space: the value stays in this epoch (and will be late).
        return Pn((high << 32) | u64::from(wire));
    }
    Pn((candidate_high << 32) | u64::from(wire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_follows_the_window() {
        // The XPN anti-replay sequence of DPDK's test (vectors: replay-xpn128) crosses 2^32.
        assert_eq!(recover(0xffff_fffe, Pn(1)), Pn(0xffff_fffe));
        assert_eq!(recover(0x62, Pn(0xffff_ffdf)), Pn(0x1_0000_0062));
        assert_eq!(recover(0x58, Pn(0x1_0000_0043)), Pn(0x1_0000_0058));
        assert_eq!(recover(0x02, Pn(0x1_0000_0043)), Pn(0x1_0000_0002)); // late, not next epoch
        assert_eq!(recover(0xffff_fff0, Pn(0x1_0000_0005)), Pn(0xffff_fff0)); // previous epoch
        assert_eq!(recover(5, Pn(u64::MAX - 10)), Pn(0xffff_ffff_0000_0005));
    }

    proptest::proptest! {
        #[test]
        fn xpn_iv_is_iv_xpn(ssci in proptest::prelude::any::<u32>(), pn in proptest::prelude::any::<u64>(), salt in proptest::prelude::any::<[u8; 12]>()) {
            let (ssci, salt) = (Ssci(ssci), Salt(salt));
            proptest::prop_assert_eq!(XpnIv::new(ssci, &salt).iv(Pn(pn)).0, iv_xpn(ssci, Pn(pn), &salt).0);
        }
    }

    #[test]
    fn xpn_iv_xors_the_salt() {
        let salt = Salt([0xff; 12]);
        let iv = iv_xpn(Ssci(0), Pn(0), &salt);
        assert_eq!(iv.0, [0xff; 12]);
    }
}
