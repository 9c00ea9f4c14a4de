//! Key material of a Secure Association: the SAK and, for XPN, the salt.
//!
//! A [`Sak`] never prints, never clones implicitly and is zeroized when dropped.

use std::fmt;

use zeroize::Zeroize;

use super::CipherSuite;

/// A Secure Association Key: 16 or 32 octets (IEEE 802.1AE-2018 14.5, 14.6).
pub struct Sak {
    bytes: [u8; 32],
    len: u8,
}

/// Why bytes or text were not accepted as a SAK. The message names the expected form and never
/// repeats the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SakError {
    /// The key is not 16 or 32 octets (counted in hex digits).
    Length { digits: usize },
    /// Hex text with a character that is not a hex digit.
    NotHex,
    /// The key length does not match the cipher suite.
    SuiteMismatch { suite: CipherSuite, got: usize },
}

impl fmt::Display for SakError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { digits } => write!(f, "expected 32 or 64 hex digits, got {digits}"),
            Self::NotHex => {
                f.write_str("expected 32 or 64 hex digits (0-9, a-f), got a character that is not a hex digit")
            }
            Self::SuiteMismatch { suite, got } => write!(
                f,
                "{suite} needs a {}-octet key ({} hex digits), got {} hex digits",
                suite.key_len(),
                suite.key_len() * 2,
                got * 2
            ),
        }
    }
}

impl std::error::Error for SakError {}

impl Sak {
    pub fn from_slice(key: &[u8]) -> Result<Self, SakError> {
        if key.len() != 16 && key.len() != 32 {
            return Err(SakError::Length { digits: key.len() * 2 });
        }
        let mut bytes = [0u8; 32];
        bytes[..key.len()].copy_from_slice(key);
        Ok(Sak { bytes, len: key.len() as u8 })
    }

    /// Parses 32 or 64 hex digits. The error counts digits and never echoes them.
    pub fn from_hex(text: &str) -> Result<Self, SakError> {
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SakError::NotHex);
        }
        if text.len() != 32 && text.len() != 64 {
            return Err(SakError::Length { digits: text.len() });
        }
        let mut bytes = [0u8; 32];
        let n = text.len() / 2;
        if hex::decode_to_slice(text, &mut bytes[..n]).is_err() {
            bytes.zeroize();
            return Err(SakError::NotHex);
        }
        Ok(Sak { bytes, len: n as u8 })
    }

    /// Checks that the key length fits `suite`.
    pub fn check_suite(&self, suite: CipherSuite) -> Result<(), SakError> {
        if self.len() == suite.key_len() {
            Ok(())
        } else {
            Err(SakError::SuiteMismatch { suite, got: self.len() })
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key bytes, for the cipher backend only.
    pub fn expose(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    /// An explicit copy (e.g. one for the Rx SA, one for the Tx SA).
    pub fn duplicate(&self) -> Self {
        Sak { bytes: self.bytes, len: self.len }
    }
}

impl Drop for Sak {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Sak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sak({} bits, redacted)", self.len() * 8)
    }
}

/// The 12-octet XPN salt (IEEE 802.1AE-2018 14.7). Not secret: MKA derives it from the key
/// server's MI and the SSCI (802.1X-2020 9.8.2), which travel in clear.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 12]);

impl Salt {
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut b = [0u8; 12];
        hex::decode_to_slice(text.trim(), &mut b).ok()?;
        Some(Salt(b))
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lengths_are_checked_and_never_echoed() {
        let e = Sak::from_hex(&"a".repeat(63)).unwrap_err();
        assert_eq!(e.to_string(), "expected 32 or 64 hex digits, got 63");
        let e = Sak::from_hex(&"ab".repeat(15)).unwrap_err();
        assert_eq!(e.to_string(), "expected 32 or 64 hex digits, got 30");
        let e = Sak::from_hex(&"zz".repeat(16)).unwrap_err();
        assert!(!e.to_string().contains("zz"));
        assert_eq!(Sak::from_hex(&"01".repeat(32)).unwrap().len(), 32);
    }

    #[test]
    fn debug_is_redacted() {
        let sak = Sak::from_hex(&"5a".repeat(16)).unwrap();
        let s = format!("{sak:?}");
        assert!(!s.contains("5a") && s.contains("redacted"));
        assert_eq!(
            sak.check_suite(CipherSuite::GcmAes256),
            Err(SakError::SuiteMismatch { suite: CipherSuite::GcmAes256, got: 16 })
        );
    }
}
