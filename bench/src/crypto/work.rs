//! The input of one crypto measurement: a key, a batch of frames, and for decrypt the
//! ciphertexts with two valid tags each.
//!
//! Decrypting in place turns the buffer into plaintext, so a second pass over the same buffer
//! would fail authentication (and some libraries skip or undo work then). CTR mode is its own
//! inverse, so the plaintext is itself a valid ciphertext of the same IV: its tag is the tag of
//! sealing the ciphertext. Each frame therefore carries `tags[0]` (for C) and `tags[1]` (for P),
//! and every pass alternates between them: every open succeeds, and the harness checks that.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM};

use crate::sizes::Size;

/// MACsec AAD with an explicit SCI: DA, SA and the 16-octet SecTAG (IEEE 802.1AE-2018 14.5).
pub const AAD_LEN: usize = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Encrypt,
    Decrypt,
}

pub struct Frame {
    pub iv: [u8; 12],
    pub aad: [u8; AAD_LEN],
    /// Plaintext for encrypt, ciphertext for decrypt.
    pub data: Vec<u8>,
    /// Decrypt only: the tag of `data` as ciphertext, then the tag of its plaintext.
    pub tags: [[u8; 16]; 2],
}

pub struct Work {
    pub key: Vec<u8>,
    pub direction: Direction,
    /// The size point, as reported ("64", "IMIX").
    pub label: String,
    pub frames: Vec<Frame>,
}

impl Work {
    pub fn new(key_bits: usize, direction: Direction, size: Size, n: usize, seed: u64) -> Work {
        Work::with_lengths(key_bits, direction, size.label(), &size.lengths(n), seed)
    }

    pub fn with_lengths(key_bits: usize, direction: Direction, label: String, lengths: &[usize], seed: u64) -> Work {
        let mut rng = XorShift(seed | 1);
        let key: Vec<u8> = (0..key_bits / 8).map(|_| rng.byte()).collect();
        let sealer = ring_key(&key);
        let frames = lengths
            .iter()
            .map(|&len| {
                let mut f = Frame {
                    iv: std::array::from_fn(|_| rng.byte()),
                    aad: std::array::from_fn(|_| rng.byte()),
                    data: (0..len).map(|_| rng.byte()).collect(),
                    tags: [[0; 16]; 2],
                };
                if direction == Direction::Decrypt {
                    f.tags[0] = seal(&sealer, &f.iv, &f.aad, &mut f.data);
                    let mut again = f.data.clone();
                    f.tags[1] = seal(&sealer, &f.iv, &f.aad, &mut again);
                }
                f
            })
            .collect();
        Work { key, direction, label, frames }
    }

    pub fn bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.data.len() as u64).sum()
    }
}

fn ring_key(key: &[u8]) -> LessSafeKey {
    let alg = if key.len() == 16 { &AES_128_GCM } else { &AES_256_GCM };
    // A 16- or 32-octet key always makes a ring key.
    LessSafeKey::new(UnboundKey::new(alg, key).unwrap_or_else(|_| unreachable!("AES key length")))
}

fn seal(k: &LessSafeKey, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    let mut t = [0u8; 16];
    if let Ok(tag) = k.seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), data) {
        t.copy_from_slice(tag.as_ref());
    }
    t
}

/// A small deterministic generator for keys and data (no need for a CSPRNG here).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn byte(&mut self) -> u8 {
        (self.next() >> 32) as u8
    }
}
