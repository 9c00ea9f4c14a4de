//! The per-key precomputation: AES round keys (plain for AES-NI/VAES, bitsliced for the portable
//! path) and the GHASH key powers `H^1..H^52` for aggregated reduction. Built once per SA at
//! install time; as secret as the key itself, so it zeroizes on drop and never prints.
#![forbid(unsafe_code)]

use std::fmt;

use zeroize::Zeroize;

use super::ghash;
use super::portable::{self, Planes};

/// GHASH reduces once per this many blocks (a chunk), with the powers `H^32..H^1`.
pub(super) const MAX_POWERS: usize = 32;
/// How many powers of H the key keeps: more than a chunk, so that the VAES-512 path can hash a
/// frame's last whole batch, a tail of up to 16 blocks and the lengths block with one reduction
/// (`H^49..H^1`).
pub(super) const POWERS: usize = 52;
/// Rows of the power tables: `H^52..H^1` then zero rows, so a 4-block load at any power is in bounds.
pub(super) const TABLE_ROWS: usize = POWERS + 3;

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
    /// Row `j` is `H^(52-j)` as a POLYVAL element, little-endian; rows 52.. are zero.
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
    /// All tables zero, to be filled by [`Self::new`].
    fn zeroed() -> Self {
        GcmKeySchedule {
            rk: [[0; 16]; 15],
            htab: [[0; 16]; TABLE_ROWS],
            hkar: [[0; 16]; TABLE_ROWS],
            sliced: [[0; 8]; 15],
            h1: 0,
            rounds: 0,
        }
    }

    pub fn new(key: &[u8]) -> Result<Self, KeyLengthError> {
        if key.len() != 16 && key.len() != 32 {
            return Err(KeyLengthError);
        }
        let mut k = GcmKeySchedule::zeroed();
        k.rounds = key.len() / 4 + 6;
        if !k.hardware_tables(key) {
            k.portable_tables(key);
        }
        Ok(k)
    }

    /// Round keys with AESKEYGENASSIST, `H` with AESENC and its powers with PCLMULQDQ, where the
    /// CPU has them: key setup then takes a fraction of a microsecond instead of the 2 µs or more
    /// of the bitsliced AES and software multiply. False if the CPU lacks them.
    #[cfg(target_arch = "x86_64")]
    fn hardware_tables(&mut self, key: &[u8]) -> bool {
        use super::x86_aesni;
        let Some(cpu) = x86_aesni::Cpu::detect() else {
            return false;
        };
        x86_aesni::expand_key(cpu, key, &mut self.rk);
        self.slice_round_keys();
        let mut h = x86_aesni::encrypt_block(cpu, &self.rk, self.rounds, &[0; 16]);
        self.set_h(&mut h);
        x86_aesni::key_powers(cpu, self.h1, &mut self.htab, &mut self.hkar);
        true
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn hardware_tables(&mut self, _key: &[u8]) -> bool {
        false
    }

    /// The same tables in portable code.
    fn portable_tables(&mut self, key: &[u8]) {
        portable::expand_key(key, &mut self.rk);
        self.slice_round_keys();
        let mut h = portable::encrypt_block(&self.sliced, self.rounds, &[0; 16]);
        self.set_h(&mut h);
        soft_powers(self.h1, &mut self.htab, &mut self.hkar);
    }

    fn slice_round_keys(&mut self) {
        for (s, rk) in self.sliced.iter_mut().zip(&self.rk) {
            *s = portable::slice(rk);
        }
    }

    /// `h1` from `H = E(K, 0^128)` (NIST SP 800-38D 6.4), which is zeroized.
    fn set_h(&mut self, h: &mut [u8; 16]) {
        self.h1 = ghash::mul_x(ghash::from_block(h));
        h.zeroize();
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

    /// The powers of one chunk: row `j` is `H^(32-j)`, then zero rows.
    pub(super) fn htab(&self) -> &[[u8; 16]] {
        &self.htab[POWERS - MAX_POWERS..]
    }

    /// Row `j`: both 64-bit halves hold `lo ^ hi` of `htab()[j]` (Karatsuba middle operand).
    pub(super) fn hkar(&self) -> &[[u8; 16]] {
        &self.hkar[POWERS - MAX_POWERS..]
    }

    /// All the powers: row `j` is `H^(52-j)`, then zero rows.
    pub(super) fn htab_all(&self) -> &[[u8; 16]; TABLE_ROWS] {
        &self.htab
    }

    /// [`Self::hkar`] for [`Self::htab_all`].
    pub(super) fn hkar_all(&self) -> &[[u8; 16]; TABLE_ROWS] {
        &self.hkar
    }

    pub(super) fn sliced(&self) -> &[Planes; 15] {
        &self.sliced
    }

    pub(super) fn h1(&self) -> u128 {
        self.h1
    }
}

/// The power tables in software (`ghash::dot`), the fallback and the reference of the tests.
fn soft_powers(h1: u128, htab: &mut [[u8; 16]; TABLE_ROWS], hkar: &mut [[u8; 16]; TABLE_ROWS]) {
    let mut p = h1;
    for j in (0..POWERS).rev() {
        htab[j] = p.to_le_bytes();
        let mid = (p as u64) ^ ((p >> 64) as u64);
        hkar[j] = ((u128::from(mid) << 64) | u128::from(mid)).to_le_bytes();
        p = ghash::dot(p, h1);
    }
    p.zeroize();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_tables_match_the_portable_ones() {
        for i in 0..40usize {
            let len = if i % 2 == 0 { 16 } else { 32 };
            let key: Vec<u8> = (0..len).map(|j| (j * 37 + i * i * 101 + i + 5) as u8).collect();
            let (mut hw, mut sw) = (GcmKeySchedule::zeroed(), GcmKeySchedule::zeroed());
            hw.rounds = len / 4 + 6;
            sw.rounds = hw.rounds;
            sw.portable_tables(&key);
            if !hw.hardware_tables(&key) {
                return; // nothing to compare on this CPU
            }
            assert_eq!(hw.rk, sw.rk);
            assert_eq!(hw.sliced, sw.sliced);
            assert_eq!(hw.h1, sw.h1);
            assert_eq!(hw.htab, sw.htab);
            assert_eq!(hw.hkar, sw.hkar);
        }
    }

    /// Key setup time; run with `--ignored --nocapture` in a release build.
    #[test]
    #[ignore]
    fn key_setup_time() {
        for len in [16usize, 32] {
            let key = vec![0x5au8; len];
            let time = |f: &dyn Fn()| {
                let n = 500;
                // Short samples, best of many: the machine is shared.
                let mut best = f64::MAX;
                for _ in 0..400 {
                    let t = std::time::Instant::now();
                    for _ in 0..n {
                        f();
                    }
                    best = best.min(t.elapsed().as_secs_f64() * 1e9 / n as f64);
                }
                best
            };
            // `forget` leaves out the drop (the zeroizing), timed apart.
            let new = time(&|| std::mem::forget(std::hint::black_box(GcmKeySchedule::new(std::hint::black_box(&key)))));
            let new_drop = time(&|| drop(std::hint::black_box(GcmKeySchedule::new(std::hint::black_box(&key)))));
            let portable = time(&|| {
                let mut k = GcmKeySchedule::zeroed();
                k.rounds = len / 4 + 6;
                k.portable_tables(std::hint::black_box(&key));
                drop(std::hint::black_box(k));
            });
            println!("{len}-octet key: new {new:.0} ns, new + drop {new_drop:.0} ns, portable tables {portable:.0} ns");
        }
    }
}
