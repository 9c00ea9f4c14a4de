//! The AES-NI + PCLMULQDQ path on 128-bit registers, one frame at a time. A frame's whole
//! 128-octet batches run CTR and GHASH stitched: each step runs the AES rounds of eight blocks
//! with the eight carry-less multiplies of a batch of ciphertext woven in (the batch before for
//! seal, the same batch for open, which hashes it before decrypting it), one reduction per batch
//! with the powers `H^8..H^1`. The AAD before and the tail after go one block at a time with
//! aggregated reduction (one reduction per 32 blocks, see `key::MAX_POWERS`).
//!
//! Every function with intrinsics is `#[target_feature]`; the only entry points are
//! [`seal_batch`] and [`open_batch`], which take a [`Cpu`] token that exists only after runtime
//! detection of the features.

use core::arch::x86_64::*;

use super::key::{GcmKeySchedule, MAX_POWERS, POWERS, TABLE_ROWS};
use super::{ghash, OpenJob, SealJob};

/// Proof that this CPU has AES-NI, PCLMULQDQ, SSSE3 and SSE4.1.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cpu(());

super::x86_features!(Cpu, "aes", "pclmulqdq", "ssse3", "sse4.1");

pub(super) fn seal_batch(_cpu: Cpu, jobs: &mut [SealJob<'_>]) {
    for job in jobs {
        // SAFETY: a `Cpu` exists only if `Cpu::detect` saw every feature `seal_one` enables.
        *job.tag = unsafe { seal_one(job.key, &job.iv, job.aad, job.data) };
    }
}

pub(super) fn open_batch(_cpu: Cpu, jobs: &mut [OpenJob<'_>]) {
    for job in jobs {
        // SAFETY: as in `seal_batch`.
        let expected = unsafe { open_one(job.key, &job.iv, job.aad, job.data) };
        job.ok = super::tags_equal(&expected, job.tag);
    }
}

/// FIPS-197 5.2 key expansion of a 16- or 32-octet key into `rk` (11 or 15 round keys, byte
/// order) with AESKEYGENASSIST, as in Gueron, "Intel Advanced Encryption Standard (AES) New
/// Instructions Set" (rev. 3.01, 2012), figures 24 and 26.
pub(super) fn expand_key(_cpu: Cpu, key: &[u8], rk: &mut [[u8; 16]; 15]) {
    assert!(key.len() == 16 || key.len() == 32);
    // SAFETY: a `Cpu` exists only if `Cpu::detect` saw every feature the callees enable.
    unsafe {
        if key.len() == 16 {
            expand_key128(key, rk)
        } else {
            expand_key256(key, rk)
        }
    }
}

/// `E(K, block)` with the byte-order round keys of [`expand_key`].
pub(super) fn encrypt_block(_cpu: Cpu, rk: &[[u8; 16]; 15], rounds: usize, block: &[u8; 16]) -> [u8; 16] {
    // SAFETY: as in `expand_key`.
    unsafe { encrypt_block_ni(rk, rounds, block) }
}

#[target_feature(enable = "aes,sse2")]
fn encrypt_block_ni(rk: &[[u8; 16]; 15], rounds: usize, block: &[u8; 16]) -> [u8; 16] {
    let mut x = _mm_xor_si128(load(block), load(&rk[0]));
    for k in &rk[1..rounds] {
        x = _mm_aesenc_si128(x, load(k));
    }
    store(_mm_aesenclast_si128(x, load(&rk[rounds])))
}

/// The previous round key with SubWord(RotWord(w3)) ^ Rcon (from AESKEYGENASSIST) folded in:
/// each word becomes the XOR of itself and the words before it, then of `t`'s word 3.
#[inline]
#[target_feature(enable = "sse2")]
fn fold_key(prev: __m128i, t: __m128i) -> __m128i {
    let mut k = prev;
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 8));
    _mm_xor_si128(k, t)
}

/// Loads 16 octets of `key` at `off` straight into a register (no copy of key bytes on the stack).
#[inline]
#[target_feature(enable = "sse2")]
fn load_key(key: &[u8], off: usize) -> __m128i {
    assert!(off + 16 <= key.len());
    // SAFETY: the assert keeps the 16 octets at `off` inside `key`; `loadu` has no alignment
    // requirement.
    unsafe { _mm_loadu_si128(key.as_ptr().add(off).cast()) }
}

/// Stores a round key into its row of the schedule.
#[inline]
#[target_feature(enable = "sse2")]
fn store_key(row: &mut [u8; 16], v: __m128i) {
    // SAFETY: `row` is 16 writable octets; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(row.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "aes,sse2")]
fn expand_key128(key: &[u8], rk: &mut [[u8; 16]; 15]) {
    let mut k = load_key(key, 0);
    store_key(&mut rk[0], k);
    macro_rules! next {
        ($r:literal, $rcon:literal) => {
            k = fold_key(k, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k, $rcon), 0xff));
            store_key(&mut rk[$r], k);
        };
    }
    next!(1, 0x01);
    next!(2, 0x02);
    next!(3, 0x04);
    next!(4, 0x08);
    next!(5, 0x10);
    next!(6, 0x20);
    next!(7, 0x40);
    next!(8, 0x80);
    next!(9, 0x1b);
    next!(10, 0x36);
}

#[target_feature(enable = "aes,sse2")]
fn expand_key256(key: &[u8], rk: &mut [[u8; 16]; 15]) {
    let (mut even, mut odd) = (load_key(key, 0), load_key(key, 16));
    store_key(&mut rk[0], even);
    store_key(&mut rk[1], odd);
    // An even round key takes SubWord(RotWord(w3)) ^ Rcon of the odd key before it, an odd one
    // SubWord(w3) of the even key before it.
    macro_rules! even {
        ($r:literal, $rcon:literal) => {
            even = fold_key(even, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(odd, $rcon), 0xff));
            store_key(&mut rk[$r], even);
        };
    }
    macro_rules! odd {
        ($r:literal) => {
            odd = fold_key(odd, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(even, 0), 0xaa));
            store_key(&mut rk[$r], odd);
        };
    }
    even!(2, 0x01);
    odd!(3);
    even!(4, 0x02);
    odd!(5);
    even!(6, 0x04);
    odd!(7);
    even!(8, 0x08);
    odd!(9);
    even!(10, 0x10);
    odd!(11);
    even!(12, 0x20);
    odd!(13);
    even!(14, 0x40);
}

/// Fills the GHASH key tables of [`GcmKeySchedule`] from `h1 = H^1`: row `j` of `htab` gets
/// `H^(52-j)`, row `j` of `hkar` the XOR of its halves in both halves. The powers stay in
/// registers; only the tables, which the key zeroizes on drop, are written.
pub(super) fn key_powers(_cpu: Cpu, h1: u128, htab: &mut [[u8; 16]; TABLE_ROWS], hkar: &mut [[u8; 16]; TABLE_ROWS]) {
    // SAFETY: a `Cpu` exists only if `Cpu::detect` saw every feature `key_powers_clmul` enables.
    unsafe { key_powers_clmul(h1, htab, hkar) }
}

const _: () = assert!(POWERS % 4 == 0, "four chains of powers");

#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn key_powers_clmul(h1: u128, htab: &mut [[u8; 16]; TABLE_ROWS], hkar: &mut [[u8; 16]; TABLE_ROWS]) {
    // Four independent chains `H^(i+4) = H^i • H^4` instead of one chain of 51 products.
    let h = _mm_set_epi64x((h1 >> 64) as i64, h1 as i64);
    let h2 = dot(h, h);
    let h4 = dot(h2, h2);
    let mut p = [h, h2, dot(h2, h), h4];
    for i in (0..POWERS).step_by(4) {
        for (l, v) in p.iter_mut().enumerate() {
            // Row `j` holds `H^(52-j)`; `v` is `H^(i+l+1)`.
            let j = POWERS - 1 - (i + l);
            let vm = _mm_xor_si128(*v, _mm_shuffle_epi32(*v, 0x4e));
            // SAFETY: rows are 16 writable octets; `storeu` has no alignment requirement.
            unsafe {
                _mm_storeu_si128(htab[j].as_mut_ptr().cast(), *v);
                _mm_storeu_si128(hkar[j].as_mut_ptr().cast(), vm);
            }
            *v = dot(*v, h4);
        }
    }
}

/// POLYVAL `a • b` (`ghash::dot`): Karatsuba, then the reduction of the GHASH paths.
#[inline]
#[target_feature(enable = "pclmulqdq,sse2")]
fn dot(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128(a, b, 0x00);
    let hi = _mm_clmulepi64_si128(a, b, 0x11);
    let am = _mm_xor_si128(a, _mm_shuffle_epi32(a, 0x4e));
    let bm = _mm_xor_si128(b, _mm_shuffle_epi32(b, 0x4e));
    reduce(lo, _mm_clmulepi64_si128(am, bm, 0x00), hi)
}

#[target_feature(enable = "aes,pclmulqdq,ssse3,sse4.1")]
fn seal_one(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    if key.rounds() == 14 {
        crypt::<14, true>(&round_keys::<14>(key), key, iv, aad, data)
    } else {
        crypt::<10, true>(&round_keys::<10>(key), key, iv, aad, data)
    }
}

/// Computes the expected tag over the ciphertext, then decrypts.
#[target_feature(enable = "aes,pclmulqdq,ssse3,sse4.1")]
fn open_one(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
    if key.rounds() == 14 {
        crypt::<14, false>(&round_keys::<14>(key), key, iv, aad, data)
    } else {
        crypt::<10, false>(&round_keys::<10>(key), key, iv, aad, data)
    }
}

/// Octets of one stitched batch: eight blocks.
const BATCH: usize = 128;

/// Seals (`SEAL`) or opens `data` in place; returns the tag over the ciphertext (NIST SP 800-38D
/// 7.1 and 7.2). A frame shorter than a batch takes CTR, then GHASH; a longer one its whole batches
/// stitched ([`stitched`]), then the tail the same way.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,ssse3,sse4.1")]
fn crypt<const R: usize, const SEAL: bool>(
    rk: &[__m128i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> [u8; 16] {
    let mask = encrypt1::<R>(rk, j0(iv));
    let bulk = data.len() / BATCH * BATCH;
    if bulk == 0 {
        if SEAL {
            ctr::<R>(rk, iv, data, 0);
            return tag(key, aad, data, mask);
        }
        let expected = tag(key, aad, data, mask);
        ctr::<R>(rk, iv, data, 0);
        return expected;
    }
    let mut g = Ghash::new(key, aad.len().div_ceil(16));
    g.segment(aad);
    let (whole, tail) = data.split_at_mut(bulk);
    let acc = stitched::<R, SEAL>(rk, key, iv, whole, g.acc);
    // The tail's counters follow the batches' (one per block).
    let first = (bulk / 16) as u32;
    if SEAL {
        ctr::<R>(rk, iv, tail, first);
    }
    let mut g = Ghash::new(key, tail.len().div_ceil(16) + 1);
    g.acc = acc;
    g.segment(tail);
    g.block(bswap(load(&ghash::lengths_block(aad.len(), bulk + tail.len()))));
    if !SEAL {
        ctr::<R>(rk, iv, tail, first);
    }
    store(_mm_xor_si128(bswap(g.acc), mask))
}

/// CTR and GHASH over whole batches, stitched. Seal: batch `i` is encrypted while batch `i - 1`,
/// just written, is hashed. Open: each batch is hashed and decrypted in the same step. Returns the
/// GHASH after `acc` and the batches, reduced.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,ssse3,sse4.1")]
fn stitched<const R: usize, const SEAL: bool>(
    rk: &[__m128i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    mut acc: __m128i,
) -> __m128i {
    let mut c = Counter::new(iv, 0);
    if !SEAL {
        for batch in data.chunks_exact_mut(BATCH) {
            let ks;
            (ks, acc) = aes_ghash8::<R>(rk, c.next8(), key, batch, acc);
            xor8(batch, &ks);
        }
        return acc;
    }
    let mut ks = c.next8();
    encrypt8::<R>(rk, &mut ks);
    xor8(&mut data[..BATCH], &ks);
    for off in (BATCH..data.len()).step_by(BATCH) {
        let (done, rest) = data.split_at_mut(off);
        (ks, acc) = aes_ghash8::<R>(rk, c.next8(), key, &done[off - BATCH..], acc);
        xor8(&mut rest[..BATCH], &ks);
    }
    ghash8(key, &data[data.len() - BATCH..], acc)
}

/// The counter blocks of a frame from counter `2 + first` (NIST SP 800-38D 7.1 step 5): the
/// counter lives little-endian in dword 3 and is byte-swapped into place per block (`inc32`
/// wraps mod 2^32 like the spec).
struct Counter {
    c: __m128i,
}

impl Counter {
    #[inline]
    #[target_feature(enable = "sse2")]
    fn new(iv: &[u8; 12], first: u32) -> Self {
        let c = load(&super::portable::counter_block(iv, 0));
        Counter { c: _mm_add_epi32(c, _mm_set_epi32(first.wrapping_add(2) as i32, 0, 0, 0)) }
    }

    #[inline]
    #[target_feature(enable = "ssse3")]
    fn next(&mut self) -> __m128i {
        let swap = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12);
        let x = _mm_shuffle_epi8(self.c, swap);
        self.c = _mm_add_epi32(self.c, _mm_set_epi32(1, 0, 0, 0));
        x
    }

    #[inline]
    #[target_feature(enable = "ssse3")]
    fn next8(&mut self) -> [__m128i; 8] {
        let mut b = [_mm_setzero_si128(); 8];
        for x in b.iter_mut() {
            *x = self.next();
        }
        b
    }
}

/// XORs eight blocks of keystream into a batch.
#[inline]
#[target_feature(enable = "sse2")]
fn xor8(batch: &mut [u8], ks: &[__m128i; 8]) {
    for (i, k) in ks.iter().enumerate() {
        store_at(batch, 16 * i, _mm_xor_si128(*k, load_at(batch, 16 * i)));
    }
}

/// Block `i` of the batch at `ct`, byte-reversed, times `H^(8-i)` into the sums; `acc` folded
/// into block 0.
#[inline]
#[target_feature(enable = "pclmulqdq,ssse3")]
fn mul_block(sums: &mut [__m128i; 3], key: &GcmKeySchedule, ct: &[u8], i: usize, acc: __m128i) {
    let mut x = bswap(load_at(ct, 16 * i));
    if i == 0 {
        x = _mm_xor_si128(x, acc);
    }
    let row = MAX_POWERS - 8 + i;
    let h = load(&key.htab()[row]);
    let k = load(&key.hkar()[row]);
    sums[0] = _mm_xor_si128(sums[0], _mm_clmulepi64_si128(x, h, 0x00));
    sums[2] = _mm_xor_si128(sums[2], _mm_clmulepi64_si128(x, h, 0x11));
    let xm = _mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4e));
    sums[1] = _mm_xor_si128(sums[1], _mm_clmulepi64_si128(xm, k, 0x00));
}

/// The AES rounds of eight counter blocks with the GHASH of the batch `ct` woven in, one block
/// after each of the first eight inner rounds (every key size has at least nine). Returns the
/// keystream and the GHASH after `acc` and the batch, reduced.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,ssse3")]
fn aes_ghash8<const R: usize>(
    rk: &[__m128i; 15],
    mut b: [__m128i; 8],
    key: &GcmKeySchedule,
    ct: &[u8],
    acc: __m128i,
) -> ([__m128i; 8], __m128i) {
    let mut sums = [_mm_setzero_si128(); 3];
    for x in b.iter_mut() {
        *x = _mm_xor_si128(*x, rk[0]);
    }
    for (r, k) in rk[1..R].iter().enumerate() {
        for x in b.iter_mut() {
            *x = _mm_aesenc_si128(*x, *k);
        }
        if r < 8 {
            mul_block(&mut sums, key, ct, r, acc);
        }
    }
    for x in b.iter_mut() {
        *x = _mm_aesenclast_si128(*x, rk[R]);
    }
    (b, reduce(sums[0], sums[1], sums[2]))
}

/// GHASH of the batch `ct` after `acc`, reduced.
#[inline]
#[target_feature(enable = "pclmulqdq,ssse3")]
fn ghash8(key: &GcmKeySchedule, ct: &[u8], acc: __m128i) -> __m128i {
    let mut sums = [_mm_setzero_si128(); 3];
    for i in 0..8 {
        mul_block(&mut sums, key, ct, i, acc);
    }
    reduce(sums[0], sums[1], sums[2])
}

#[inline]
#[target_feature(enable = "sse2")]
fn load(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable octets; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn load_at(s: &[u8], off: usize) -> __m128i {
    assert!(off + 16 <= s.len());
    // SAFETY: the assert keeps the 16 octets at `off` inside `s`.
    unsafe { _mm_loadu_si128(s.as_ptr().add(off).cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store_at(s: &mut [u8], off: usize, v: __m128i) {
    assert!(off + 16 <= s.len());
    // SAFETY: the assert keeps the 16 octets at `off` inside `s`, which we borrow mutably.
    unsafe { _mm_storeu_si128(s.as_mut_ptr().add(off).cast(), v) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store(v: __m128i) -> [u8; 16] {
    let mut b = [0u8; 16];
    // SAFETY: `b` is 16 writable octets.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) };
    b
}

#[inline]
#[target_feature(enable = "sse2")]
fn round_keys<const R: usize>(key: &GcmKeySchedule) -> [__m128i; 15] {
    let mut rk = [_mm_setzero_si128(); 15];
    for (r, k) in rk.iter_mut().zip(key.round_keys()).take(R + 1) {
        *r = load(k);
    }
    rk
}

/// `J0 = IV ‖ 0^31 ‖ 1` (NIST SP 800-38D 7.1).
#[inline]
#[target_feature(enable = "sse2")]
fn j0(iv: &[u8; 12]) -> __m128i {
    load(&super::portable::counter_block(iv, 1))
}

/// Reverses the 16 octets of each 128-bit lane (GHASH block ↔ POLYVAL element).
#[inline]
#[target_feature(enable = "ssse3")]
fn bswap(v: __m128i) -> __m128i {
    _mm_shuffle_epi8(v, _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
}

#[inline]
#[target_feature(enable = "aes")]
fn encrypt1<const R: usize>(rk: &[__m128i; 15], b: __m128i) -> __m128i {
    let mut x = _mm_xor_si128(b, rk[0]);
    for k in &rk[1..R] {
        x = _mm_aesenc_si128(x, *k);
    }
    _mm_aesenclast_si128(x, rk[R])
}

#[inline]
#[target_feature(enable = "aes")]
fn encrypt8<const R: usize>(rk: &[__m128i; 15], b: &mut [__m128i; 8]) {
    for x in b.iter_mut() {
        *x = _mm_xor_si128(*x, rk[0]);
    }
    for k in &rk[1..R] {
        for x in b.iter_mut() {
            *x = _mm_aesenc_si128(*x, *k);
        }
    }
    for x in b.iter_mut() {
        *x = _mm_aesenclast_si128(*x, rk[R]);
    }
}

/// CTR from counter `2 + first` (NIST SP 800-38D 7.1 step 5), one block at a time: what is
/// left to it is shorter than a batch (a small frame, or the tail after [`stitched`]), and the
/// out-of-order core overlaps its independent blocks.
#[inline]
#[target_feature(enable = "aes,ssse3,sse4.1")]
fn ctr<const R: usize>(rk: &[__m128i; 15], iv: &[u8; 12], data: &mut [u8], first: u32) {
    let mut c = Counter::new(iv, first);
    let mut off = 0;
    while off < data.len() {
        let ks = encrypt1::<R>(rk, c.next());
        let n = (data.len() - off).min(16);
        if n == 16 {
            store_at(data, off, _mm_xor_si128(ks, load_at(data, off)));
        } else {
            let mut pad = [0u8; 16];
            super::copy_short(&mut pad[..n], &data[off..]);
            let x = store(_mm_xor_si128(ks, load(&pad)));
            super::copy_short(&mut data[off..], &x[..n]);
        }
        off += n;
    }
}

/// The tag: GHASH over AAD, ciphertext and lengths, XOR `E(K, J0)`.
#[inline]
#[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
fn tag(key: &GcmKeySchedule, aad: &[u8], ct: &[u8], mask: __m128i) -> [u8; 16] {
    let total = aad.len().div_ceil(16) + ct.len().div_ceil(16) + 1;
    let mut g = Ghash::new(key, total);
    g.segment(aad);
    g.segment(ct);
    g.block(bswap(load(&ghash::lengths_block(aad.len(), ct.len()))));
    store(_mm_xor_si128(bswap(g.acc), mask))
}

/// Aggregated GHASH state: unreduced Karatsuba sums of the current chunk plus the reduced value
/// of the chunks before, which is folded into the first block of the next chunk.
#[derive(Clone, Copy)]
struct Ghash<'k> {
    key: &'k GcmKeySchedule,
    lo: __m128i,
    mid: __m128i,
    hi: __m128i,
    acc: __m128i,
    /// Power of H for the next block (counts down to 1 within a chunk).
    p: usize,
    /// Blocks still to come, including the next one.
    rem: usize,
}

impl<'k> Ghash<'k> {
    #[inline]
    #[target_feature(enable = "sse2")]
    fn new(key: &'k GcmKeySchedule, total: usize) -> Self {
        let z = _mm_setzero_si128();
        Ghash { key, lo: z, mid: z, hi: z, acc: z, p: total.min(MAX_POWERS), rem: total }
    }

    /// Absorbs `bytes`, the last block zero-padded. The state is worked on in a local copy and
    /// stored back once: kept behind `&mut self`, each block's three sums went through memory
    /// and waited on the store of the block before (perf: a store-forward chain per block).
    #[inline]
    #[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
    fn segment(&mut self, bytes: &[u8]) {
        let mut g = *self;
        let full = bytes.len() / 16 * 16;
        let mut off = 0;
        while off < full {
            g.block(bswap(load_at(bytes, off)));
            off += 16;
        }
        if full < bytes.len() {
            let mut pad = [0u8; 16];
            super::copy_short(&mut pad[..bytes.len() - full], &bytes[full..]);
            g.block(bswap(load(&pad)));
        }
        *self = g;
    }

    /// Absorbs one byte-reversed block.
    #[inline]
    #[target_feature(enable = "pclmulqdq,ssse3,sse4.1")]
    fn block(&mut self, x: __m128i) {
        let x = _mm_xor_si128(x, self.acc);
        self.acc = _mm_setzero_si128();
        let row = MAX_POWERS - self.p;
        let h = load(&self.key.htab()[row]);
        let k = load(&self.key.hkar()[row]);
        self.lo = _mm_xor_si128(self.lo, _mm_clmulepi64_si128(x, h, 0x00));
        self.hi = _mm_xor_si128(self.hi, _mm_clmulepi64_si128(x, h, 0x11));
        let xm = _mm_xor_si128(x, _mm_shuffle_epi32(x, 0x4e));
        self.mid = _mm_xor_si128(self.mid, _mm_clmulepi64_si128(xm, k, 0x00));
        self.p -= 1;
        self.rem -= 1;
        if self.p == 0 {
            self.acc = reduce(self.lo, self.mid, self.hi);
            let z = _mm_setzero_si128();
            (self.lo, self.mid, self.hi) = (z, z, z);
            self.p = self.rem.min(MAX_POWERS);
        }
    }
}

/// Karatsuba recombination and Montgomery reduction (`ghash::reduce` in software).
#[inline]
#[target_feature(enable = "pclmulqdq,sse2")]
fn reduce(lo: __m128i, mid: __m128i, hi: __m128i) -> __m128i {
    let mid = _mm_xor_si128(mid, _mm_xor_si128(lo, hi));
    let lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    let hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
    let poly = _mm_set_epi64x(ghash::POLY_HI as i64, 1);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    _mm_xor_si128(hi, lo)
}
