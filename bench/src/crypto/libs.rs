//! The per-frame libraries: ring, aws-lc-rs, RustCrypto aes-gcm, and the SecY's current GCM
//! backend (`secy::RingBackend` behind its `GcmKey` trait object). Each one seals or opens the
//! frames of a [`Work`] one call per frame, in place.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::KeyInit;

use super::work::{Direction, Work, AAD_LEN};
use super::{Contender, Runner};
use macsec_dataplane::secy::{GcmBackend, GcmKey, Iv, RingBackend, Sak};

/// Buffers shared by every per-frame runner: data with room for the tag behind it.
struct Frames {
    ivs: Vec<[u8; 12]>,
    aads: Vec<[u8; AAD_LEN]>,
    bufs: Vec<Vec<u8>>,
    tags: Vec<[[u8; 16]; 2]>,
    phase: usize,
    encrypt: bool,
}

impl Frames {
    fn new(w: &Work) -> Frames {
        Frames {
            ivs: w.frames.iter().map(|f| f.iv).collect(),
            aads: w.frames.iter().map(|f| f.aad).collect(),
            bufs: w.frames.iter().map(|f| [f.data.as_slice(), &[0; 16]].concat()).collect(),
            tags: w.frames.iter().map(|f| f.tags).collect(),
            phase: 0,
            encrypt: w.direction == Direction::Encrypt,
        }
    }

    /// One pass: `seal(iv, aad, data)` or `open(iv, aad, data, tag)` per frame.
    fn pass(
        &mut self,
        mut seal: impl FnMut(&[u8; 12], &[u8], &mut [u8]),
        mut open: impl FnMut(&[u8; 12], &[u8], &mut [u8], &[u8; 16]) -> bool,
    ) -> Result<(), &'static str> {
        let phase = self.phase;
        self.phase ^= 1;
        let mut ok = true;
        for ((iv, aad), (buf, tags)) in self.ivs.iter().zip(&self.aads).zip(self.bufs.iter_mut().zip(&self.tags)) {
            let len = buf.len() - 16;
            if self.encrypt {
                seal(iv, aad, &mut buf[..len]);
            } else {
                ok &= open(iv, aad, buf, &tags[phase]);
            }
        }
        ok.then_some(()).ok_or("authentication failed")
    }
}

pub struct RingAead;

impl Contender for RingAead {
    fn name(&self) -> String {
        "ring".into()
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        use ring::aead::{LessSafeKey, UnboundKey, AES_128_GCM, AES_256_GCM};
        let alg = if w.key.len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &w.key).map_err(|e| e.to_string())?);
        Ok(Box::new(RingRunner { key, frames: Frames::new(w) }))
    }
}

struct RingRunner {
    key: ring::aead::LessSafeKey,
    frames: Frames,
}

impl Runner for RingRunner {
    fn run(&mut self) -> Result<(), &'static str> {
        use ring::aead::{Aad, Nonce};
        let k = &self.key;
        self.frames.pass(
            |iv, aad, d| {
                let t = k.seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), d);
                std::hint::black_box(t.is_ok());
            },
            |iv, aad, buf, tag| {
                let len = buf.len() - 16;
                buf[len..].copy_from_slice(tag);
                k.open_in_place(Nonce::assume_unique_for_key(*iv), Aad::from(aad), buf).is_ok()
            },
        )
    }
}

pub struct AwsLc;

impl Contender for AwsLc {
    fn name(&self) -> String {
        "aws-lc-rs".into()
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_128_GCM, AES_256_GCM};
        let alg = if w.key.len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
        let key = LessSafeKey::new(UnboundKey::new(alg, &w.key).map_err(|e| e.to_string())?);
        Ok(Box::new(AwsLcRunner { key, frames: Frames::new(w) }))
    }
}

struct AwsLcRunner {
    key: aws_lc_rs::aead::LessSafeKey,
    frames: Frames,
}

impl Runner for AwsLcRunner {
    fn run(&mut self) -> Result<(), &'static str> {
        use aws_lc_rs::aead::{Aad, Nonce};
        let k = &self.key;
        self.frames.pass(
            |iv, aad, d| {
                let t = k.seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), d);
                std::hint::black_box(t.is_ok());
            },
            |iv, aad, buf, tag| {
                let len = buf.len() - 16;
                buf[len..].copy_from_slice(tag);
                k.open_in_place(Nonce::assume_unique_for_key(*iv), Aad::from(aad), buf).is_ok()
            },
        )
    }
}

pub struct RustCrypto;

impl Contender for RustCrypto {
    fn name(&self) -> String {
        "aes-gcm (RustCrypto)".into()
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        let frames = Frames::new(w);
        if w.key.len() == 16 {
            let c = aes_gcm::Aes128Gcm::new_from_slice(&w.key).map_err(|e| e.to_string())?;
            Ok(Box::new(RustCryptoRunner { cipher: c, frames }))
        } else {
            let c = aes_gcm::Aes256Gcm::new_from_slice(&w.key).map_err(|e| e.to_string())?;
            Ok(Box::new(RustCryptoRunner { cipher: c, frames }))
        }
    }
}

struct RustCryptoRunner<C> {
    cipher: C,
    frames: Frames,
}

impl<C: AeadInPlace<NonceSize = aes_gcm::aead::consts::U12, TagSize = aes_gcm::aead::consts::U16>> Runner
    for RustCryptoRunner<C>
{
    fn run(&mut self) -> Result<(), &'static str> {
        let c = &self.cipher;
        self.frames.pass(
            |iv, aad, d| {
                let t = c.encrypt_in_place_detached(iv.into(), aad, d);
                std::hint::black_box(t.is_ok());
            },
            |iv, aad, buf, tag| {
                let len = buf.len() - 16;
                c.decrypt_in_place_detached(iv.into(), aad, &mut buf[..len], tag.into()).is_ok()
            },
        )
    }
}

/// What the SecY runs today: `RingBackend` behind `Box<dyn GcmKey>` (one virtual call per frame).
pub struct SecyBackend;

impl Contender for SecyBackend {
    fn name(&self) -> String {
        "secy::RingBackend".into()
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        let sak = Sak::from_slice(&w.key).map_err(|e| format!("{e:?}"))?;
        let key = RingBackend.key(&sak).map_err(|e| e.to_string())?;
        Ok(Box::new(SecyBackendRunner { key, frames: Frames::new(w) }))
    }
}

struct SecyBackendRunner {
    key: Box<dyn GcmKey>,
    frames: Frames,
}

impl Runner for SecyBackendRunner {
    fn run(&mut self) -> Result<(), &'static str> {
        let k = &*self.key;
        self.frames.pass(
            |iv, aad, d| {
                std::hint::black_box(k.seal(&Iv(*iv), aad, d));
            },
            |iv, aad, buf, tag| {
                let len = buf.len() - 16;
                buf[len..].copy_from_slice(tag);
                k.open(&Iv(*iv), aad, buf).is_ok()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizes::Size;

    /// Every pass of every per-frame contender must succeed: encrypt, and decrypt in both tag
    /// phases (ciphertext, then its plaintext), at a fixed size and at IMIX, both key sizes.
    #[test]
    fn every_contender_passes_twice() {
        let contenders: [&dyn Contender; 4] = [&RingAead, &AwsLc, &RustCrypto, &SecyBackend];
        for bits in [128, 256] {
            for dir in [Direction::Encrypt, Direction::Decrypt] {
                for size in [Size::Fixed(64), Size::Imix] {
                    let w = Work::new(bits, dir, size, 24, 7);
                    for c in contenders {
                        let mut r = c.prepare(&w).unwrap();
                        for pass in 0..3 {
                            assert_eq!(r.run(), Ok(()), "{} {dir:?} {bits} {size:?} pass {pass}", c.name());
                        }
                    }
                }
            }
        }
    }
}
