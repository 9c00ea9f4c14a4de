//! The four MACsec cipher suites (IEEE 802.1AE-2018 14.5, 14.6, 14.7).

use std::fmt;
use std::str::FromStr;

/// A MACsec cipher suite. All four use a 16-octet ICV (IEEE 802.1AE-2018 Table 14-1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum CipherSuite {
    GcmAes128,
    GcmAes256,
    GcmAesXpn128,
    GcmAesXpn256,
}

impl CipherSuite {
    pub const ALL: [CipherSuite; 4] = [Self::GcmAes128, Self::GcmAes256, Self::GcmAesXpn128, Self::GcmAesXpn256];

    /// IEEE 802.1AE-2018 Table 14-1: the 64-bit Cipher Suite Identifier.
    pub fn id(self) -> u64 {
        match self {
            Self::GcmAes128 => 0x0080_c200_0100_0001,
            Self::GcmAes256 => 0x0080_c200_0100_0002,
            Self::GcmAesXpn128 => 0x0080_c200_0100_0003,
            Self::GcmAesXpn256 => 0x0080_c200_0100_0004,
        }
    }

    pub fn from_id(id: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|cs| cs.id() == id)
    }

    /// SAK length in octets.
    pub fn key_len(self) -> usize {
        match self {
            Self::GcmAes128 | Self::GcmAesXpn128 => 16,
            Self::GcmAes256 | Self::GcmAesXpn256 => 32,
        }
    }

    /// Extended Packet Numbering: 64-bit PNs, SSCI and salt in the IV (IEEE 802.1AE-2018 14.7).
    pub fn is_xpn(self) -> bool {
        matches!(self, Self::GcmAesXpn128 | Self::GcmAesXpn256)
    }

    /// The highest PN a SA of this suite may use (IEEE 802.1AE-2018 10.7.8: a SA must not
    /// wrap its PN; without XPN the PN is 32 bits).
    pub fn max_pn(self) -> u64 {
        if self.is_xpn() {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        }
    }

    /// The name used in configs and on the command line (`gcm-aes-xpn-256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::GcmAes128 => "gcm-aes-128",
            Self::GcmAes256 => "gcm-aes-256",
            Self::GcmAesXpn128 => "gcm-aes-xpn-128",
            Self::GcmAesXpn256 => "gcm-aes-xpn-256",
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a cipher suite name we do not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCipherSuite;

impl fmt::Display for UnknownCipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected one of gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128, gcm-aes-xpn-256")
    }
}

impl std::error::Error for UnknownCipherSuite {}

impl FromStr for CipherSuite {
    type Err = UnknownCipherSuite;

    /// Accepts the config spelling (`gcm-aes-xpn-256`) and the standard's (`GCM-AES-XPN-256`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL.into_iter().find(|cs| cs.name() == lower).ok_or(UnknownCipherSuite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for cs in CipherSuite::ALL {
            assert_eq!(cs.name().parse::<CipherSuite>(), Ok(cs));
            assert_eq!(CipherSuite::from_id(cs.id()), Some(cs));
        }
        assert_eq!("GCM-AES-XPN-256".parse(), Ok(CipherSuite::GcmAesXpn256));
        assert_eq!("gcm-aes-512".parse::<CipherSuite>(), Err(UnknownCipherSuite));
    }
}
