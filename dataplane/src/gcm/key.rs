//! The per-key precomputation: AES round keys (plain for AES-NI/VAES, bitsliced for the portable
//! path) and the GHASH key powers `H^1..H^32` for aggregated reduction. Built once per SA at
//! install time; as secret as the key itself, so it zeroizes on drop and never prints.
#![forbid(unsafe_code)]

use std::fmt;

use zeroize::Zeroize;

use super::ghash;
use super::portable::{self, Planes};

/// How many powers of H the key keeps: GHASH reduces once per this many blocks.
pub(super) const MAX_POWERS: usize = 32;
/// Rows of the power tables: `H^32..H^1` then zero rows, so a 4-block load at any power is in bounds.
pub(super) const TABLE_ROWS: usize = MAX_POWERS + 3;

/// The key was neither 16 nor 32 octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLengthError;

impl fmt::Display for KeyLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AES-GCM key must be 16 or 32 octets")
    }
}

impl std::error::Error for KeyLengthError {}

/// An expanded AES-128-GCM or AES-256-GCM key, usable by every [`Path`](super::Path).
///
/// Deliberately no `Clone`, no derived `Debug`, no `Display`: it zeroizes on drop.
#[repr(C, align(64))]
pub struct GcmKeySchedule {
    /// FIPS-197 round keys in byte order (`rounds + 1` used).
    rk: [[u8; 16]; 15],
    /// Row `j` is `H^(32-j)` as a POLYVAL element, little-endian; rows 32.. are zero.
    htab: [[u8; 16]; TABLE_ROWS],
    /// Row `j`: both 64-bit halves hold `lo ^ hi` of `htab[j]` (Karatsuba middle operand).
    hkar: [[u8; 16]; TABLE_ROWS],
    /// Round keys for the portable path.
    sliced: [Planes; 15],
    /// `H^1` as a POLYVAL element.
    h1: u128,
    rounds: usize,
}

impl GcmKeySchedule {
    /// Expands a 16-octet (AES-128) or 32-octet (AES-256) key.
    pub fn new(key: &[u8]) -> Result<Self, KeyLengthError> {
        if key.len() != 16 && key.len() != 32 {
            return Err(KeyLengthError);
        }
        let mut k = GcmKeySchedule {
            rk: [[0; 16]; 15],
            htab: [[0; 16]; TABLE_ROWS],
            hkar: [[0; 16]; TABLE_ROWS],
            sliced: [[0; 8]; 15],
            h1: 0,
            rounds: 0,
        };
        k.rounds = portable::expand_key(key, &mut k.rk);
        for (s, rk) in k.sliced.iter_mut().zip(&k.rk) {
            *s = portable::slice(rk);
        }
        // NIST SP 800-38D 6.4: H = E(K, 0^128).
        let mut h = portable::encrypt_block(&k.sliced, k.rounds, &[0; 16]);
        k.h1 = ghash::mul_x(ghash::from_block(&h));
        h.zeroize();
        let mut p = k.h1;
        for j in (0..MAX_POWERS).rev() {
            k.htab[j] = p.to_le_bytes();
            let mid = (p as u64) ^ ((p >> 64) as u64);
            k.hkar[j] = ((u128::from(mid) << 64) | u128::from(mid)).to_le_bytes();
            p = ghash::dot(p, k.h1);
        }
        p.zeroize();
        Ok(k)
    }

    /// 10 for AES-128, 14 for AES-256.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// The key length in octets.
    pub fn key_len(&self) -> usize {
        if self.rounds == 14 {
            32
        } else {
            16
        }
    }

    pub(super) fn round_keys(&self) -> &[[u8; 16]; 15] {
        &self.rk
    }

    pub(super) fn htab(&self) -> &[[u8; 16]; TABLE_ROWS] {
        &self.htab
    }

    pub(super) fn hkar(&self) -> &[[u8; 16]; TABLE_ROWS] {
        &self.hkar
    }

    pub(super) fn sliced(&self) -> &[Planes; 15] {
        &self.sliced
    }

    pub(super) fn h1(&self) -> u128 {
        self.h1
    }
}

impl Drop for GcmKeySchedule {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.htab.zeroize();
        self.hkar.zeroize();
        self.sliced.zeroize();
        self.h1.zeroize();
    }
}

impl fmt::Debug for GcmKeySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcmKeySchedule(AES-{}, redacted)", self.key_len() * 8)
    }
}
