//! Key material of MKA: the CAK and the keys derived from it (ICK, KEK), and the CKN that names it.
//!
//! Secret keys live in fixed 32-octet buffers, are zeroized on drop and never print (no `Display`,
//! a redacted `Debug`, no `Clone`). The CKN is an identifier, not a secret: it is what logs,
//! metrics and the CLI use to name a key.

use std::fmt;

use zeroize::Zeroize;

/// Why bytes or text were not accepted as a key or key name. Messages give the expected form and
/// never echo the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// A key that is not 16 or 32 octets.
    KeyLength { digits: usize },
    /// A CKN that is empty or longer than 32 octets (IEEE 802.1X-2020 9.3.1).
    CknLength { digits: usize },
    /// Hex text with an odd number of digits or a character that is not a hex digit.
    NotHex,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength { digits } => write!(f, "expected 32 or 64 hex digits, got {digits}"),
            Self::CknLength { digits } => write!(f, "expected 2 to 64 hex digits, got {digits}"),
            Self::NotHex => f.write_str("expected hex digits (0-9, a-f), got another character or an odd count"),
        }
    }
}

impl std::error::Error for KeyError {}

/// 16 or 32 secret octets. Shared representation of [`Cak`], [`Ick`] and [`Kek`].
struct Secret {
    bytes: [u8; 32],
    len: u8,
}

impl Secret {
    fn from_slice(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() != 16 && key.len() != 32 {
            return Err(KeyError::KeyLength { digits: key.len() * 2 });
        }
        let mut bytes = [0u8; 32];
        bytes[..key.len()].copy_from_slice(key);
        Ok(Self { bytes, len: key.len() as u8 })
    }

    fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 32 && text.len() != 64 {
            return Err(KeyError::KeyLength { digits: text.len() });
        }
        let mut bytes = [0u8; 32];
        let len = text.len() / 2;
        if hex::decode_to_slice(text, &mut bytes[..len]).is_err() {
            bytes.zeroize();
            return Err(KeyError::NotHex);
        }
        Ok(Self { bytes, len: len as u8 })
    }

    fn expose(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(Secret);

        impl $name {
            pub fn from_slice(key: &[u8]) -> Result<Self, KeyError> {
                Secret::from_slice(key).map(Self)
            }

            /// Parses 32 or 64 hex digits; the error counts digits and never echoes them.
            pub fn from_hex(text: &str) -> Result<Self, KeyError> {
                Secret::from_hex(text).map(Self)
            }

            /// The key octets, for the cipher that uses them. Never log or print them.
            pub fn expose(&self) -> &[u8] {
                self.0.expose()
            }

            /// 16 or 32.
            pub fn len(&self) -> usize {
                usize::from(self.0.len)
            }

            pub fn is_empty(&self) -> bool {
                false
            }

            /// An explicit copy, for the few places that need two owners.
            pub fn duplicate(&self) -> Self {
                Self(Secret { bytes: self.0.bytes, len: self.0.len })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({} bits, redacted)"), self.len() * 8)
            }
        }
    };
}

secret_key!(
    /// Secure Connectivity Association Key (IEEE 802.1X-2020 6.2.1): the pre-shared root key.
    Cak
);
secret_key!(
    /// ICV Key (IEEE 802.1X-2020 9.3.3): authenticates MKPDUs.
    Ick
);
secret_key!(
    /// Key Encrypting Key (IEEE 802.1X-2020 9.3.3): wraps distributed SAKs.
    Kek
);

/// CAK Name (IEEE 802.1X-2020 9.3.1): 1 to 32 octets that identify a CAK. Not secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ckn {
    bytes: [u8; 32],
    len: u8,
}

impl Ckn {
    pub const MAX_LEN: usize = 32;

    pub fn from_slice(name: &[u8]) -> Result<Self, KeyError> {
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(KeyError::CknLength { digits: name.len() * 2 });
        }
        let mut bytes = [0u8; 32];
        bytes[..name.len()].copy_from_slice(name);
        Ok(Self { bytes, len: name.len() as u8 })
    }

    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() || text.len() > 2 * Self::MAX_LEN {
            return Err(KeyError::CknLength { digits: text.len() });
        }
        let bytes = hex::decode(text).map_err(|_| KeyError::NotHex)?;
        Self::from_slice(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The 16-octet Key Identifier input of the KEK/ICK derivation: the first 16 octets of the CKN,
    /// zero-padded (IEEE 802.1X-2020 9.3.3 uses the first 16 octets of the CKN).
    pub fn key_id(&self) -> [u8; 16] {
        let mut id = [0u8; 16];
        let n = usize::from(self.len).min(16);
        id[..n].copy_from_slice(&self.bytes[..n]);
        id
    }
}

impl fmt::Display for Ckn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for Ckn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ckn({self})")
    }
}
