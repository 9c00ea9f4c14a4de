//! Keychain input rules (AWS Direct Connect semantics): up to 3 CKN/CAK pairs per connection;
//! CKN and CAK are 64 hex digits (a 32-digit CAK is accepted for labs, with a warning). Errors
//! name the field and the expected form and never echo a key.

use std::fmt;

use crate::mka::keys::{Cak, Ckn};

pub const MAX_KEYS: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeychainError {
    Ckn { digits: usize },
    Cak { digits: usize },
    NotHex { field: &'static str },
    Full { connection: String },
    AlreadyAssociated { ckn: String },
    NoSuchKey { connection: String, ckn: String },
    NoSuchConnection(String),
}

impl fmt::Display for KeychainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ckn { digits } => write!(f, "ckn: expected 64 hex digits, got {digits}"),
            Self::Cak { digits } => write!(f, "cak: expected 64 hex digits (32 accepted for labs), got {digits}"),
            Self::NotHex { field } => write!(f, "{field}: expected hex digits 0-9 a-f only"),
            Self::Full { connection } => {
                write!(f, "connection {connection}: already has {MAX_KEYS} keys; disassociate one first")
            }
            Self::AlreadyAssociated { ckn } => {
                write!(f, "ckn: {ckn} is already associated (stored keys are immutable; disassociate it first)")
            }
            Self::NoSuchKey { connection, ckn } => {
                write!(f, "ckn: {ckn} is not associated with connection {connection}")
            }
            Self::NoSuchConnection(c) => write!(f, "connection-id: no connection {c:?} in the config"),
        }
    }
}

impl std::error::Error for KeychainError {}

/// Checks operator input. Returns the pair and, for a 32-digit CAK, a warning to show.
pub fn parse_pair(ckn: &str, cak: &str) -> Result<(Ckn, Cak, Option<String>), KeychainError> {
    let (ckn, cak) = (ckn.trim(), cak.trim());
    if ckn.len() != 64 {
        return Err(KeychainError::Ckn { digits: ckn.len() });
    }
    if !ckn.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeychainError::NotHex { field: "ckn" });
    }
    if cak.len() != 64 && cak.len() != 32 {
        return Err(KeychainError::Cak { digits: cak.len() });
    }
    if !cak.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeychainError::NotHex { field: "cak" });
    }
    let ckn = Ckn::from_hex(ckn).map_err(|_| KeychainError::NotHex { field: "ckn" })?;
    let cak_v = Cak::from_hex(cak).map_err(|_| KeychainError::NotHex { field: "cak" })?;
    let warning = (cak.len() == 32).then(|| {
        "cak: a 128-bit CAK (32 hex digits) is for labs; AWS Direct Connect requires 256-bit (64 hex digits)".to_owned()
    });
    Ok((ckn, cak_v, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_forms_and_specific_errors_without_echo() {
        let ckn = "ab".repeat(32);
        assert!(parse_pair(&ckn, &"12".repeat(32)).unwrap().2.is_none());
        assert!(parse_pair(&ckn, &"12".repeat(16)).unwrap().2.is_some());
        let e = parse_pair(&ckn, &"1".repeat(63)).unwrap_err();
        assert_eq!(e.to_string(), "cak: expected 64 hex digits (32 accepted for labs), got 63");
        assert!(!e.to_string().contains("111"));
        assert_eq!(parse_pair(&"ab".repeat(16), &"12".repeat(32)).unwrap_err(), KeychainError::Ckn { digits: 32 });
        assert_eq!(parse_pair(&ckn, &"zz".repeat(32)).unwrap_err(), KeychainError::NotHex { field: "cak" });
    }
}
