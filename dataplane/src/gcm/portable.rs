//! The portable path: bitsliced AES (no tables, no secret-dependent branches or indices) and
//! software GHASH. It is the reference the SIMD paths are tested against and the fallback on
//! CPUs without AES-NI; speed is a non-goal.
//!
//! State layout: eight 16-bit planes, plane `b` holding bit `b` of each of the 16 state bytes,
//! byte `i` (FIPS-197 column-major, row `i % 4`, column `i / 4`) at bit `i` of every plane.
#![forbid(unsafe_code)]

use super::ghash;
use super::key::GcmKeySchedule;
use super::{OpenJob, SealJob};

/// A bitsliced AES state or round key.
pub(super) type Planes = [u16; 8];

/// Slices a 16-byte block into planes.
pub(super) fn slice(block: &[u8; 16]) -> Planes {
    let v = u128::from_le_bytes(*block);
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    let mut p = [0u16; 8];
    for (b, plane) in p.iter_mut().enumerate() {
        *plane = gather_bits(lo >> b) | (gather_bits(hi >> b) << 8);
    }
    p
}

/// Bit 0 of each of the eight bytes of `x`, as the eight bits of one byte (byte `i` to bit `i`).
/// The multiply moves bit `8i` to bit `56 + i`; no two partial products meet, so nothing
/// carries (the classic "gather with a magic multiply"). Constant time: no branch, no index.
fn gather_bits(x: u64) -> u16 {
    ((x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u16
}

fn unslice(p: &Planes) -> [u8; 16] {
    let mut block = [0u8; 16];
    for (i, byte) in block.iter_mut().enumerate() {
        for (b, plane) in p.iter().enumerate() {
            *byte |= (((plane >> i) & 1) as u8) << b;
        }
    }
    block
}

/// SubBytes on all 16 bytes at once: the Boyar–Peralta depth-16 circuit for the AES S-box
/// (ePrint 2011/332), 32 ANDs and 83 XOR/XNORs. `u[0]` is the most significant bit.
fn sub_bytes(s: &mut Planes) {
    let u = [s[7], s[6], s[5], s[4], s[3], s[2], s[1], s[0]];
    // Linear top layer.
    let t1 = u[0] ^ u[3];
    let t2 = u[0] ^ u[5];
    let t3 = u[0] ^ u[6];
    let t4 = u[3] ^ u[5];
    let t5 = u[4] ^ u[6];
    let t6 = t1 ^ t5;
    let t7 = u[1] ^ u[2];
    let t8 = u[7] ^ t6;
    let t9 = u[7] ^ t7;
    let t10 = t6 ^ t7;
    let t11 = u[1] ^ u[5];
    let t12 = u[2] ^ u[5];
    let t13 = t3 ^ t4;
    let t14 = t6 ^ t11;
    let t15 = t5 ^ t11;
    let t16 = t5 ^ t12;
    let t17 = t9 ^ t16;
    let t18 = u[3] ^ u[7];
    let t19 = t7 ^ t18;
    let t20 = t1 ^ t19;
    let t21 = u[6] ^ u[7];
    let t22 = t7 ^ t21;
    let t23 = t2 ^ t22;
    let t24 = t2 ^ t10;
    let t25 = t20 ^ t17;
    let t26 = t3 ^ t16;
    let t27 = t1 ^ t12;
    let d = u[7];
    // Non-linear middle: inversion in GF(2^4)^2.
    let m1 = t13 & t6;
    let m6 = t3 & t16;
    let m11 = t1 & t15;
    let m13 = (t4 & t27) ^ m11;
    let m15 = (t2 & t10) ^ m11;
    let m20 = t14 ^ m1 ^ (t23 & t8) ^ m13;
    let m21 = (t19 & d) ^ m1 ^ t24 ^ m15;
    let m22 = t26 ^ m6 ^ (t22 & t9) ^ m13;
    let m23 = (t20 & t17) ^ m6 ^ m15 ^ t25;
    let m25 = m22 & m20;
    let m37 = m21 ^ ((m20 ^ m21) & (m23 ^ m25));
    let m38 = m20 ^ m25 ^ (m21 | (m20 & m23));
    let m39 = m23 ^ ((m22 ^ m23) & (m21 ^ m25));
    let m40 = m22 ^ m25 ^ (m23 | (m21 & m22));
    let m41 = m38 ^ m40;
    let m42 = m37 ^ m39;
    let m43 = m37 ^ m38;
    let m44 = m39 ^ m40;
    let m45 = m42 ^ m41;
    let m46 = m44 & t6;
    let m47 = m40 & t8;
    let m48 = m39 & d;
    let m49 = m43 & t16;
    let m50 = m38 & t9;
    let m51 = m37 & t17;
    let m52 = m42 & t15;
    let m53 = m45 & t27;
    let m54 = m41 & t10;
    let m55 = m44 & t13;
    let m56 = m40 & t23;
    let m57 = m39 & t19;
    let m58 = m43 & t3;
    let m59 = m38 & t22;
    let m60 = m37 & t20;
    let m61 = m42 & t1;
    let m62 = m45 & t4;
    let m63 = m41 & t2;
    // Linear bottom layer.
    let l0 = m61 ^ m62;
    let l1 = m50 ^ m56;
    let l2 = m46 ^ m48;
    let l3 = m47 ^ m55;
    let l4 = m54 ^ m58;
    let l5 = m49 ^ m61;
    let l6 = m62 ^ l5;
    let l7 = m46 ^ l3;
    let l8 = m51 ^ m59;
    let l9 = m52 ^ m53;
    let l10 = m53 ^ l4;
    let l11 = m60 ^ l2;
    let l12 = m48 ^ m51;
    let l13 = m50 ^ l0;
    let l14 = m52 ^ m61;
    let l15 = m55 ^ l1;
    let l16 = m56 ^ l0;
    let l17 = m57 ^ l1;
    let l18 = m58 ^ l8;
    let l19 = m63 ^ l4;
    let l20 = l0 ^ l1;
    let l21 = l1 ^ l7;
    let l22 = l3 ^ l12;
    let l23 = l18 ^ l2;
    let l24 = l15 ^ l9;
    let l25 = l6 ^ l10;
    let l26 = l7 ^ l9;
    let l27 = l8 ^ l10;
    let l28 = l11 ^ l14;
    let l29 = l11 ^ l17;
    s[7] = l6 ^ l24;
    s[6] = !(l16 ^ l26);
    s[5] = !(l19 ^ l28);
    s[4] = l6 ^ l21;
    s[3] = l20 ^ l22;
    s[2] = l25 ^ l29;
    s[1] = !(l13 ^ l27);
    s[0] = !(l6 ^ l23);
}

/// ShiftRows: row `r` rotates left by `r` columns, i.e. its bits move down by `4r`.
fn shift_rows(s: &mut Planes) {
    for p in s.iter_mut() {
        let v = *p;
        *p = (v & 0x1111) | (v & 0x2222).rotate_right(4) | (v & 0x4444).rotate_right(8) | (v & 0x8888).rotate_right(12);
    }
}

/// Each byte replaced by the byte `k` rows further down its column (wrapping).
fn rot_rows(p: u16, k: u32) -> u16 {
    const LOW: [u16; 4] = [0xffff, 0x7777, 0x3333, 0x1111];
    const HIGH: [u16; 4] = [0x0000, 0x8888, 0xcccc, 0xeeee];
    ((p >> k) & LOW[k as usize]) | ((p << (4 - k)) & HIGH[k as usize])
}

/// MixColumns: `b_r = 2·(a_r + a_{r+1}) + a_{r+1} + a_{r+2} + a_{r+3}` in GF(2^8).
fn mix_columns(s: &mut Planes) {
    let mut t = [0u16; 8];
    let mut u = [0u16; 8];
    for b in 0..8 {
        let (r1, r2, r3) = (rot_rows(s[b], 1), rot_rows(s[b], 2), rot_rows(s[b], 3));
        t[b] = s[b] ^ r1;
        u[b] = r1 ^ r2 ^ r3;
    }
    // xtime on planes: shift up one plane, fold bit 7 back with 0x1b (bits 0, 1, 3, 4).
    let x = [t[7], t[0] ^ t[7], t[1], t[2] ^ t[7], t[3] ^ t[7], t[4], t[5], t[6]];
    for b in 0..8 {
        s[b] = x[b] ^ u[b];
    }
}

fn add_round_key(s: &mut Planes, k: &Planes) {
    for (p, k) in s.iter_mut().zip(k) {
        *p ^= k;
    }
}

/// Encrypts one block with sliced round keys (`rounds + 1` of them).
pub(super) fn encrypt_block(rk: &[Planes], rounds: usize, block: &[u8; 16]) -> [u8; 16] {
    let mut s = slice(block);
    add_round_key(&mut s, &rk[0]);
    for k in &rk[1..rounds] {
        sub_bytes(&mut s);
        shift_rows(&mut s);
        mix_columns(&mut s);
        add_round_key(&mut s, k);
    }
    sub_bytes(&mut s);
    shift_rows(&mut s);
    add_round_key(&mut s, &rk[rounds]);
    unslice(&s)
}

/// SubWord of the key schedule, through the same circuit.
fn sub_word(w: [u8; 4]) -> [u8; 4] {
    let mut block = [0u8; 16];
    block[..4].copy_from_slice(&w);
    let mut s = slice(&block);
    sub_bytes(&mut s);
    let out = unslice(&s);
    [out[0], out[1], out[2], out[3]]
}

/// FIPS-197 5.2 key expansion for a 16- or 32-octet key into `out` (11 or 15 round keys).
/// Returns the number of rounds.
pub(super) fn expand_key(key: &[u8], out: &mut [[u8; 16]; 15]) -> usize {
    let nk = key.len() / 4;
    let rounds = nk + 6;
    let mut w = [[0u8; 4]; 60];
    for (i, word) in key.chunks_exact(4).enumerate() {
        w[i].copy_from_slice(word);
    }
    let mut rcon = 1u8;
    for i in nk..4 * (rounds + 1) {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = sub_word([t[1], t[2], t[3], t[0]]);
            t[0] ^= rcon;
            rcon = (rcon << 1) ^ (0x1b & 0u8.wrapping_sub(rcon >> 7));
        } else if nk > 6 && i % nk == 4 {
            t = sub_word(t);
        }
        for j in 0..4 {
            w[i][j] = w[i - nk][j] ^ t[j];
        }
    }
    for (r, rk) in out.iter_mut().enumerate().take(rounds + 1) {
        for j in 0..4 {
            rk[4 * j..4 * j + 4].copy_from_slice(&w[4 * r + j]);
        }
    }
    zeroize::Zeroize::zeroize(&mut w);
    rounds
}

/// The GCM counter block `IV ‖ ctr` (NIST SP 800-38D 7.1, 96-bit IV).
pub(super) fn counter_block(iv: &[u8; 12], ctr: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..12].copy_from_slice(iv);
    b[12..].copy_from_slice(&ctr.to_be_bytes());
    b
}

/// CTR encryption from counter 2 on (counter 1 is J0, kept for the tag).
fn ctr(key: &GcmKeySchedule, iv: &[u8; 12], data: &mut [u8]) {
    for (i, chunk) in data.chunks_mut(16).enumerate() {
        let ks = encrypt_block(key.sliced(), key.rounds(), &counter_block(iv, 2 + i as u32));
        for (d, k) in chunk.iter_mut().zip(ks) {
            *d ^= k;
        }
    }
}

fn tag(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], ciphertext: &[u8]) -> [u8; 16] {
    let mut t = ghash::ghash(key.h1(), aad, ciphertext);
    let mask = encrypt_block(key.sliced(), key.rounds(), &counter_block(iv, 1));
    for (t, m) in t.iter_mut().zip(mask) {
        *t ^= m;
    }
    t
}

pub(super) fn seal_batch(jobs: &mut [SealJob<'_>]) {
    for job in jobs {
        ctr(job.key, &job.iv, job.data);
        *job.tag = tag(job.key, &job.iv, job.aad, job.data);
    }
}

pub(super) fn open_batch(jobs: &mut [OpenJob<'_>]) {
    for job in jobs {
        let expected = tag(job.key, &job.iv, job.aad, job.data);
        job.ok = super::tags_equal(&expected, job.tag);
        ctr(job.key, &job.iv, job.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_matches_the_definition() {
        for seed in 0..64u32 {
            let block: [u8; 16] = core::array::from_fn(|i| (seed.wrapping_mul(2654435761) >> (i % 24)) as u8 ^ i as u8);
            let mut p = [0u16; 8];
            for (i, byte) in block.iter().enumerate() {
                for (b, plane) in p.iter_mut().enumerate() {
                    *plane |= u16::from((byte >> b) & 1) << i;
                }
            }
            assert_eq!(slice(&block), p);
            assert_eq!(unslice(&p), block);
        }
    }

    #[test]
    fn fips197_appendix_c() {
        let pt: [u8; 16] = hex::decode("00112233445566778899aabbccddeeff").unwrap().try_into().unwrap();
        for (key, ct) in [
            ("000102030405060708090a0b0c0d0e0f", "69c4e0d86a7b0430d8cdb78070b4c55a"),
            ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "8ea2b7ca516745bfeafc49904b496089"),
        ] {
            let mut rk = [[0u8; 16]; 15];
            let rounds = expand_key(&hex::decode(key).unwrap(), &mut rk);
            let sliced: Vec<Planes> = rk.iter().map(slice).collect();
            assert_eq!(hex::encode(encrypt_block(&sliced, rounds, &pt)), ct);
        }
    }
}
