//! AES-GCM behind a backend trait, so the SecY does not care which engine runs the cipher.
//!
//! Backends: `ring` ([`RingBackend`]) and the own batched engine
//! ([`EngineBackend`](crate::gcm::EngineBackend)). A key seals or opens one frame, or a burst of
//! frames in one call ([`GcmKey::seal_batch`], [`GcmKey::open_batch`]); the default batch methods
//! loop over the per-frame ones.

use std::fmt;

use super::Sak;
use crate::gcm::{Engine, GcmKeySchedule};

/// ICV length of every MACsec cipher suite (IEEE 802.1AE-2018 14.1).
pub const ICV_LEN: usize = 16;

/// The 96-bit GCM IV (IEEE 802.1AE-2018 14.5 and 14.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Iv(pub [u8; 12]);

/// The frame's ICV did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unauthentic;

/// A key could not be set up (wrong length for the backend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySetupError;

impl fmt::Display for KeySetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AES-GCM key setup failed: expected a 16- or 32-octet key")
    }
}

impl std::error::Error for KeySetupError {}

/// An AES-GCM engine.
pub trait GcmBackend: Send + Sync {
    fn name(&self) -> &'static str;
    /// Expands a SAK (16 or 32 octets) into a key for this engine.
    fn key(&self, sak: &Sak) -> Result<Box<dyn GcmKey>, KeySetupError>;
}

/// One frame of a [`GcmKey::seal_batch`].
pub struct SealItem<'a> {
    pub iv: Iv,
    pub aad: &'a [u8],
    /// Encrypted in place.
    pub data: &'a mut [u8],
    /// Out: the ICV is written here (16 octets).
    pub icv: &'a mut [u8],
}

impl SealItem<'_> {
    /// A placeholder for fixed-size arrays of items.
    pub fn empty() -> Self {
        SealItem { iv: Iv([0; 12]), aad: &[], data: &mut [], icv: &mut [] }
    }
}

/// One frame of a [`GcmKey::open_batch`].
pub struct OpenItem<'a> {
    pub iv: Iv,
    pub aad: &'a [u8],
    /// The ciphertext followed by the ICV; decrypted in place (as [`GcmKey::open`]).
    pub data_and_icv: &'a mut [u8],
    /// Out: whether the ICV verified.
    pub ok: bool,
}

impl OpenItem<'_> {
    /// A placeholder for fixed-size arrays of items.
    pub fn empty() -> Self {
        OpenItem { iv: Iv([0; 12]), aad: &[], data_and_icv: &mut [], ok: false }
    }
}

/// An expanded AES-GCM key.
pub trait GcmKey: Send + Sync {
    /// Encrypts `data` in place and returns the tag. `data` may be empty (integrity only).
    fn seal(&self, iv: &Iv, aad: &[u8], data: &mut [u8]) -> [u8; ICV_LEN];
    /// Verifies and decrypts in place: `data_and_icv` is the ciphertext followed by the ICV.
    /// On success the first `len - 16` octets are plaintext; on failure their content is
    /// unspecified and must be dropped.
    fn open(&self, iv: &Iv, aad: &[u8], data_and_icv: &mut [u8]) -> Result<(), Unauthentic>;

    /// Seals every item (a burst). An item whose `icv` is not 16 octets gets no ICV.
    fn seal_batch(&self, items: &mut [SealItem<'_>]) {
        for item in items {
            let icv = self.seal(&item.iv, item.aad, item.data);
            if item.icv.len() == ICV_LEN {
                item.icv.copy_from_slice(&icv);
            }
        }
    }

    /// Opens every item (a burst), setting each `ok`.
    fn open_batch(&self, items: &mut [OpenItem<'_>]) {
        for item in items {
            item.ok = self.open(&item.iv, item.aad, item.data_and_icv).is_ok();
        }
    }

    /// The own engine and this key's schedule, when the key is one of the engine's: the
    /// runtime then hands a whole burst to [`Engine`] as jobs, mixing SAs in one call, with no
    /// item → job translation per frame. `None` (the default) keeps the item methods above.
    fn engine(&self) -> Option<(Engine, &GcmKeySchedule)> {
        None
    }
}

/// `ring`'s AES-GCM.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingBackend;

struct RingKey(ring::aead::LessSafeKey);

impl GcmBackend for RingBackend {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn key(&self, sak: &Sak) -> Result<Box<dyn GcmKey>, KeySetupError> {
        let alg = match sak.len() {
            16 => &ring::aead::AES_128_GCM,
            32 => &ring::aead::AES_256_GCM,
            _ => return Err(KeySetupError),
        };
        let key = ring::aead::UnboundKey::new(alg, sak.expose()).map_err(|_| KeySetupError)?;
        Ok(Box::new(RingKey(ring::aead::LessSafeKey::new(key))))
    }
}

impl GcmKey for RingKey {
    fn seal(&self, iv: &Iv, aad: &[u8], data: &mut [u8]) -> [u8; ICV_LEN] {
        let nonce = ring::aead::Nonce::assume_unique_for_key(iv.0);
        let mut icv = [0u8; ICV_LEN];
        // ring fails only on inputs over 2^36 octets; a frame never is.
        if let Ok(tag) = self.0.seal_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), data) {
            icv.copy_from_slice(tag.as_ref());
        }
        icv
    }

    fn open(&self, iv: &Iv, aad: &[u8], data_and_icv: &mut [u8]) -> Result<(), Unauthentic> {
        let nonce = ring::aead::Nonce::assume_unique_for_key(iv.0);
        self.0.open_in_place(nonce, ring::aead::Aad::from(aad), data_and_icv).map(|_| ()).map_err(|_| Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let key = RingBackend.key(&Sak::from_slice(&[7u8; 32]).unwrap()).unwrap();
        let iv = Iv([1; 12]);
        let mut buf = b"hello macsec".to_vec();
        let icv = key.seal(&iv, b"aad", &mut buf);
        assert_ne!(&buf[..], b"hello macsec");
        buf.extend_from_slice(&icv);
        key.open(&iv, b"aad", &mut buf).unwrap();
        assert_eq!(&buf[..12], b"hello macsec");
        let mut bad = buf.clone();
        key.seal(&iv, b"aad", &mut bad[..12]);
        bad[0] ^= 1;
        assert_eq!(key.open(&iv, b"aad", &mut bad), Err(Unauthentic));
    }
}
