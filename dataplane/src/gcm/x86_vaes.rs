//! The VAES + VPCLMULQDQ path on 256-bit registers (AVX2): two blocks per register. The same
//! design as `x86_vaes512` at half the width; partial blocks go through a zeroed stack buffer
//! (AVX2 has no byte-masked loads).
//!
//! Per burst (up to 64 jobs): the `J0` blocks of consecutive jobs that share a key are encrypted
//! two to a register. Per window of frames, each frame's whole 256-octet batches (eight
//! registers, 16 blocks) run CTR and GHASH stitched in one loop, one reduction per batch with the
//! powers `H^16..H^1`, and a tail of 128 octets or more takes one more step of that loop with the
//! lengths block; then CTR over the other tails across frame boundaries and GHASH over them,
//! two blocks per carry-less multiply, one reduction per 32 blocks (see `x86_vaes512`).
//!
//! Unlike `x86_vaes512`, seal hashes a frame's last batch on its own rather than in the next
//! frame's first AES batch: with 16 registers, its eight ciphertext registers beside the eight
//! AES chains spill, and that version was 5-11% slower here at 512 and 1024 octets (Zen 4).
//!
//! Every function with intrinsics is `#[target_feature]`; the only entry points are
//! [`seal_batch`] and [`open_batch`], which take a [`Cpu`] token that exists only after runtime
//! detection of the features.

// The VAES intrinsics are stable since Rust 1.89, above the workspace MSRV (1.80); the
// toolchain here is 1.95. Remove once the workspace `rust-version` is raised to 1.89.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::key::{GcmKeySchedule, MAX_POWERS};
use super::{ghash, Group, OpenJob, SealJob};

/// Proof that this CPU has AVX2, VAES, VPCLMULQDQ, AES-NI and PCLMULQDQ.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cpu(());

super::x86_features!(Cpu, "vaes", "vpclmulqdq", "aes", "pclmulqdq", "avx2");

/// Jobs per `J0` pass: the burst size the engine is built for.
const BURST: usize = 64;

pub(super) fn seal_batch(_cpu: Cpu, jobs: &mut [SealJob<'_>]) {
    for chunk in jobs.chunks_mut(BURST) {
        // SAFETY: a `Cpu` exists only if `Cpu::detect` saw every feature `seal_chunk` enables.
        unsafe { seal_chunk(chunk) }
    }
}

pub(super) fn open_batch(_cpu: Cpu, jobs: &mut [OpenJob<'_>]) {
    for chunk in jobs.chunks_mut(BURST) {
        // SAFETY: as in `seal_batch`.
        unsafe { open_chunk(chunk) }
    }
}

#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn seal_chunk(jobs: &mut [SealJob<'_>]) {
    let mut masks: Masks = [[0u8; 16]; BURST + 2];
    j0_masks(jobs.len(), |i| (jobs[i].key, &jobs[i].iv), &mut masks);
    let mut start = 0;
    while start < jobs.len() {
        let end = window_end(start, jobs.len(), |i| jobs[i].data.len());
        let window = &mut jobs[start..end];
        let mut bulk = [None; BURST];
        for (job, b) in window.iter_mut().zip(&mut bulk) {
            *b = bulk_stitched::<true>(job.key, &job.iv, job.aad, job.data);
        }
        ctr_tails(window.iter_mut().zip(&bulk).map(|(j, b)| (j.key, &j.iv, &mut *j.data, Bulk::covered(b))));
        for ((job, mask), b) in window.iter_mut().zip(&masks[start..end]).zip(&bulk) {
            *job.tag = tag(job.key, job.aad, job.data, *b, load128(mask));
        }
        start = end;
    }
}

#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn open_chunk(jobs: &mut [OpenJob<'_>]) {
    let mut masks: Masks = [[0u8; 16]; BURST + 2];
    j0_masks(jobs.len(), |i| (jobs[i].key, &jobs[i].iv), &mut masks);
    let mut start = 0;
    while start < jobs.len() {
        let end = window_end(start, jobs.len(), |i| jobs[i].data.len());
        let window = &mut jobs[start..end];
        let mut bulk = [None; BURST];
        for (job, b) in window.iter_mut().zip(&mut bulk) {
            *b = bulk_stitched::<false>(job.key, &job.iv, job.aad, job.data);
        }
        // The tails are still ciphertext here.
        for ((job, mask), b) in window.iter_mut().zip(&masks[start..end]).zip(&bulk) {
            let expected = tag(job.key, job.aad, job.data, *b, load128(mask));
            job.ok = super::tags_equal(&expected, job.tag);
        }
        ctr_tails(window.iter_mut().zip(&bulk).map(|(j, b)| (j.key, &j.iv, &mut *j.data, Bulk::covered(b))));
        start = end;
    }
}

/// Frames are processed in windows of about this many octets: the bulk of each frame (CTR and
/// GHASH stitched), CTR of the tails across the window's frames, then the GHASH of the tails,
/// while they are still in L1.
const WINDOW_BYTES: usize = 16 * 1024;

/// The end of the window of jobs that starts at `start` (at least one job).
fn window_end(start: usize, n: usize, len: impl Fn(usize) -> usize) -> usize {
    let mut end = start + 1;
    let mut bytes = len(start);
    while end < n && bytes + len(end) <= WINDOW_BYTES {
        bytes += len(end);
        end += 1;
    }
    end
}

/// Registers in flight per AES batch: enough independent chains to cover VAESENC latency.
const WAYS: usize = 8;

/// `E(K, J0)` for jobs `0..n`: runs of consecutive jobs that share a key go two to a register,
/// eight registers per batch. Each register is built from its two lanes with constant lane
/// indices and stored whole, so the registers never go through the stack (a lane inserted at a
/// run-time index kept the batch in memory: one store-to-load round trip per job, in series).
/// `masks` has room for one register past the last job; what a register writes past its run is
/// overwritten by the next run or never read.
#[inline]
#[target_feature(enable = "avx2,vaes,aes")]
fn j0_masks<'k>(n: usize, job: impl Fn(usize) -> (&'k GcmKeySchedule, &'k [u8; 12]), masks: &mut Masks) {
    let mut i = 0;
    while i < n {
        let key = job(i).0;
        let mut run = 1;
        while run < 2 * WAYS && i + run < n && std::ptr::eq(job(i + run).0, key) {
            run += 1;
        }
        // Lanes past the run repeat its last job: computed, never used.
        let lane = |l: usize| j0(job(i + l.min(run - 1)).1);
        let mut x = [_mm256_setzero_si256(); WAYS];
        for (r, x) in x.iter_mut().enumerate() {
            *x = _mm256_set_m128i(lane(2 * r + 1), lane(2 * r));
        }
        let y = if key.rounds() == 14 {
            encrypt::<14>(&round_keys::<14>(key), x)
        } else {
            encrypt::<10>(&round_keys::<10>(key), x)
        };
        for (r, y) in y.iter().enumerate().take(run.div_ceil(2)) {
            store256(masks[i + 2 * r..][..2].as_flattened_mut(), *y);
        }
        i += run;
    }
}

/// `E(K, J0)` per job of a chunk, with a register's worth of slack behind the last (see
/// [`j0_masks`]).
type Masks = [[u8; 16]; BURST + 2];

/// CTR over the tails of every frame of a window ([`super::tail_batches`], groups of one
/// register), eight registers at a time.
#[inline]
#[target_feature(enable = "avx2,vaes,aes")]
fn ctr_tails<'a>(frames: impl Iterator<Item = (&'a GcmKeySchedule, &'a [u8; 12], &'a mut [u8], usize)>) {
    super::tail_batches::<32>(frames, |batch| ctr_flush(batch));
}

/// CTR over the groups of `batch` (one key).
#[inline]
#[target_feature(enable = "avx2,vaes,aes")]
fn ctr_flush(batch: &mut [Option<Group<'_>>; WAYS]) {
    if let Some(key) = batch[0].as_ref().map(|g| g.0) {
        match key.rounds() {
            14 => ctr_batch::<14>(&round_keys::<14>(key), batch),
            _ => ctr_batch::<10>(&round_keys::<10>(key), batch),
        }
    }
}

/// Octets of one CTR batch (eight registers, 16 blocks).
const BULK: usize = 32 * WAYS;

/// Blocks of one batch: the stitched loop reduces once per batch, with the powers `H^16..H^1`.
const BATCH_BLOCKS: usize = BULK / 16;

/// GHASH of a frame up to the end of its whole batches: the reduced value, and how many octets
/// of data it covers. With `done`, it covers the whole frame and its lengths block too.
#[derive(Clone, Copy)]
struct Bulk {
    acc: __m128i,
    len: usize,
    done: bool,
}

impl Bulk {
    /// Octets of data that CTR is done for.
    fn covered(b: &Option<Bulk>) -> usize {
        b.map_or(0, |b| b.len)
    }
}

/// A tail of at least this many octets after a frame's whole batches is done in the stitched
/// loop too (one more step of eight registers, whatever its length). Any tail is shorter than a
/// batch: its at most 16 blocks and the lengths block take the powers `H^(m+1)..H^1`, which the
/// tables have. Shorter tails go with the small frames.
const TAIL_MIN: usize = BULK / 2;
/// Open takes a frame shorter than a batch as its own tail in the stitched loop (AES and GHASH in
/// one step) from this many octets: from here that costs less than CTR across frames and a GHASH
/// of its own (scratch A/B on Zen 4, AES-256, bursts of 32: 192 B −9%, 224 B −16%, 255 B −23%).
/// Seal does not: without a batch before it, its tail step has nothing to hash while its AES runs,
/// and the AES then the GHASH one after the other cost more (192 B +40%).
const OPEN_SHORT_MIN: usize = 160;

/// CTR and GHASH over the whole batches of a frame, stitched: each loop step runs the AES rounds
/// of one batch with the carry-less multiplies of one batch of ciphertext woven in (the batch
/// before for `SEAL`, the same batch for open, which reads its ciphertext before decrypting it),
/// one reduction per batch. The AAD goes first, in chunks of its own, so the data's chunks line up
/// with the batches. `None` (nothing done) for a frame shorter than a batch, but for open one of
/// [`OPEN_SHORT_MIN`] octets or more, which is its own tail.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn bulk_stitched<const SEAL: bool>(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Option<Bulk> {
    let full = data.len() / BULK * BULK;
    if full == 0 && (SEAL || data.len() < OPEN_SHORT_MIN) {
        return None;
    }
    let a = aad.len().div_ceil(16);
    let mut g = Ghash::new(key, a, (a + MAX_POWERS - 1) % MAX_POWERS + 1);
    g.segment(aad);
    let fin = (data.len() - full >= TAIL_MIN).then(|| lengths_block(aad.len(), data.len()));
    let data = if fin.is_some() { data } else { &mut data[..full] };
    let acc = match (key.rounds(), SEAL) {
        (14, true) => seal_stitched::<14>(&round_keys::<14>(key), key, iv, data, full, fin, g.acc),
        (14, false) => open_stitched::<14>(&round_keys::<14>(key), key, iv, data, full, fin, g.acc),
        (_, true) => seal_stitched::<10>(&round_keys::<10>(key), key, iv, data, full, fin, g.acc),
        (_, false) => open_stitched::<10>(&round_keys::<10>(key), key, iv, data, full, fin, g.acc),
    };
    Some(Bulk { acc, len: data.len(), done: fin.is_some() })
}

/// The lengths block of NIST SP 800-38D 7.1 step 5, built in a register: as a POLYVAL element it
/// is `len(A) · 2^64 + len(C)` in bits.
#[inline]
#[target_feature(enable = "sse2")]
fn lengths_block(aad: usize, data: usize) -> __m128i {
    _mm_set_epi64x((aad as u64 * 8) as i64, (data as u64 * 8) as i64)
}

/// Seal: batch `i` is encrypted while batch `i - 1`, just written, is hashed. `data` is the
/// `full` octets of whole batches, and with `fin` (the lengths block) a tail after them, which
/// takes one more step (its keystream while the last whole batch is hashed), then is hashed with
/// the lengths block: the result is then the frame's whole GHASH.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn seal_stitched<const R: usize>(
    rk: &[__m256i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    full: usize,
    fin: Option<__m128i>,
    mut acc: __m128i,
) -> __m128i {
    let mut ctr = Counters::new(iv);
    let mut last = xor_batch(&mut data[..BULK], &encrypt::<R>(rk, ctr.next()));
    for off in (BULK..full).step_by(BULK) {
        let (done, rest) = data.split_at_mut(off);
        let ks;
        (ks, acc) = aes_ghash::<R>(rk, ctr.next(), |r, s| s.batch(key, done, off - BULK, acc, r));
        last = xor_batch(&mut rest[..BULK], &ks);
    }
    let Some(lengths) = fin else {
        return ghash_regs(key, &last, acc);
    };
    let tail = &mut data[full..];
    let ks;
    (ks, acc) = aes_ghash::<R>(rk, ctr.next(), |r, s| {
        if let Some(x) = last.get(r) {
            s.batch_reg(key, *x, acc, r);
        }
    });
    let ct = xor_tail(tail, tail_regs(tail), &ks);
    let mut sums = Sums::new();
    // Steps 0..=WAYS: the tail's registers, then a zero one (the step of the lengths block when
    // the tail fills every register).
    let zero = _mm256_setzero_si256();
    for (r, x) in ct.iter().chain([&zero]).enumerate() {
        sums.tail_reg(key, *x, tail.len(), acc, lengths, r);
    }
    sums.reduce()
}

/// Open: each batch is hashed and decrypted in the same step; with `fin`, the tail after the
/// `full` octets of whole batches too, with the lengths block.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn open_stitched<const R: usize>(
    rk: &[__m256i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    full: usize,
    fin: Option<__m128i>,
    mut acc: __m128i,
) -> __m128i {
    let mut ctr = Counters::new(iv);
    let (whole, tail) = data.split_at_mut(full);
    for batch in whole.chunks_exact_mut(BULK) {
        let ks;
        (ks, acc) = aes_ghash::<R>(rk, ctr.next(), |r, s| s.batch(key, batch, 0, acc, r));
        xor_batch(batch, &ks);
    }
    let Some(lengths) = fin else {
        return acc;
    };
    let ct = tail_regs(tail);
    let ks;
    (ks, acc) = aes_ghash::<R>(rk, ctr.next(), |r, s| {
        let x = ct.get(r).copied().unwrap_or_else(|| _mm256_setzero_si256());
        s.tail_reg(key, x, tail.len(), acc, lengths, r);
    });
    xor_tail(tail, ct, &ks);
    acc
}

/// The counter blocks of a frame's whole batches, from counter 2 (NIST SP 800-38D 7.1 step 5):
/// lane `l` of the next register holds `c + l`, little-endian in dword 3 until swapped.
struct Counters {
    c: __m256i,
}

impl Counters {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(iv: &[u8; 12]) -> Self {
        let base = _mm256_broadcastsi128_si256(iv_block(iv));
        Counters { c: _mm256_add_epi32(base, _mm256_set_epi32(3, 0, 0, 0, 2, 0, 0, 0)) }
    }

    /// The counter blocks of the next batch, byte-swapped into place.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn next(&mut self) -> [__m256i; WAYS] {
        let swap = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12));
        let two = _mm256_set_epi32(2, 0, 0, 0, 2, 0, 0, 0);
        let mut x = [_mm256_setzero_si256(); WAYS];
        for x in x.iter_mut() {
            *x = _mm256_shuffle_epi8(self.c, swap);
            self.c = _mm256_add_epi32(self.c, two);
        }
        x
    }
}

/// XORs a batch of keystream into `BULK` octets; returns the result by register.
#[inline]
#[target_feature(enable = "avx2")]
fn xor_batch(batch: &mut [u8], ks: &[__m256i; WAYS]) -> [__m256i; WAYS] {
    let mut out = [_mm256_setzero_si256(); WAYS];
    for ((k, at), o) in ks.iter().zip(batch.chunks_exact_mut(32)).zip(&mut out) {
        *o = _mm256_xor_si256(*k, load256(at));
        store256(at, *o);
    }
    out
}

/// The tail (fewer than `BULK` octets) by register, zero past its end.
#[inline]
#[target_feature(enable = "avx2")]
fn tail_regs(tail: &[u8]) -> [__m256i; WAYS] {
    let mut out = [_mm256_setzero_si256(); WAYS];
    for (o, chunk) in out.iter_mut().zip(tail.chunks(32)) {
        *o = if chunk.len() == 32 {
            load256(chunk)
        } else {
            let mut pad = [0u8; 32];
            super::copy_short(&mut pad[..chunk.len()], chunk);
            load256(&pad)
        };
    }
    out
}

/// XORs keystream into a tail of fewer than `BULK` octets, given as loaded by [`tail_regs`] (open
/// has loaded it already to hash it); returns the result by register, zero past the tail.
#[inline]
#[target_feature(enable = "avx2")]
fn xor_tail(tail: &mut [u8], mut out: [__m256i; WAYS], ks: &[__m256i; WAYS]) -> [__m256i; WAYS] {
    for ((o, k), chunk) in out.iter_mut().zip(ks).zip(tail.chunks_mut(32)) {
        let n = chunk.len();
        *o = _mm256_and_si256(_mm256_xor_si256(*o, *k), load256(&KEEP[32 - n..]));
        if n == 32 {
            store256(chunk, *o);
        } else {
            let mut pad = [0u8; 32];
            store256(&mut pad, *o);
            super::copy_short(chunk, &pad[..n]);
        }
    }
    out
}

/// `KEEP[32 - n..][..32]` keeps the first `n` octets of a register.
const KEEP: [u8; 64] = {
    let mut k = [0u8; 64];
    let mut i = 0;
    while i < 32 {
        k[i] = 0xff;
        i += 1;
    }
    k
};

/// The AES rounds of `x` with GHASH work woven in: `step(r, sums)` after inner round `r + 1`
/// (every key size has at least nine inner rounds, so steps `0..=8`). Returns the keystream and
/// the reduced sums.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,pclmulqdq")]
fn aes_ghash<const R: usize>(
    rk: &[__m256i; 15],
    mut x: [__m256i; WAYS],
    mut step: impl FnMut(usize, &mut Sums),
) -> ([__m256i; WAYS], __m128i) {
    let mut sums = Sums::new();
    for v in x.iter_mut() {
        *v = _mm256_xor_si256(*v, rk[0]);
    }
    for (r, k) in rk[1..R].iter().enumerate() {
        interleave(&mut x);
        for v in x.iter_mut() {
            *v = _mm256_aesenc_epi128(*v, *k);
        }
        step(r, &mut sums);
    }
    interleave(&mut x);
    for v in x.iter_mut() {
        *v = _mm256_aesenclast_epi128(*v, rk[R]);
    }
    (x, sums.reduce())
}

/// GHASH of one batch of 16 blocks, given by register, after `acc`, reduced: seal hashes a
/// frame's last batch from the registers it stored it from instead of loading it straight back.
#[inline]
#[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
fn ghash_regs(key: &GcmKeySchedule, ct: &[__m256i; WAYS], acc: __m128i) -> __m128i {
    let mut sums = Sums::new();
    for (r, x) in ct.iter().enumerate() {
        sums.batch_reg(key, *x, acc, r);
    }
    sums.reduce()
}

/// The shuffle that reverses the octets of each block (GHASH's bit order, as POLYVAL elements).
#[inline]
#[target_feature(enable = "avx2")]
fn reverse() -> __m256i {
    _mm256_broadcastsi128_si256(_mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
}

/// Unreduced Karatsuba sums of two lanes of products.
#[derive(Clone, Copy)]
struct Sums {
    lo: __m256i,
    mid: __m256i,
    hi: __m256i,
}

impl Sums {
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new() -> Self {
        let z = _mm256_setzero_si256();
        Sums { lo: z, mid: z, hi: z }
    }

    /// Step `r` of the GHASH of a whole batch, the 16 blocks at `ct[off..]`: register `r < 8`
    /// times `H^(16-2r)`, `H^(15-2r)`, `acc` folded into its first block.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq")]
    fn batch(&mut self, key: &GcmKeySchedule, ct: &[u8], off: usize, acc: __m128i, r: usize) {
        if r < WAYS {
            self.batch_reg(key, load256(&ct[off + 32 * r..]), acc, r);
        }
    }

    /// [`Self::batch`] with register `r < 8` of the batch given.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq")]
    fn batch_reg(&mut self, key: &GcmKeySchedule, x: __m256i, acc: __m128i, r: usize) {
        let mut c = _mm256_shuffle_epi8(x, reverse());
        if r == 0 {
            c = _mm256_xor_si256(c, _mm256_zextsi128_si256(acc));
        }
        self.mul(key, c, MAX_POWERS - BATCH_BLOCKS + 2 * r);
    }

    /// Step `r` of the GHASH of a frame's tail of `m <= 16` blocks (`len` octets, register `r`
    /// of it given, zero-padded) and its lengths block: register `r` times `H^(m+1-2r)`,
    /// `H^(m-2r)`, `acc` folded into its first block; after the tail's registers the lengths block
    /// times `H^1`.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq")]
    fn tail_reg(&mut self, key: &GcmKeySchedule, x: __m256i, len: usize, acc: __m128i, lengths: __m128i, r: usize) {
        let regs = len.div_ceil(32);
        if r < regs {
            let mut c = _mm256_shuffle_epi8(x, reverse());
            if r == 0 {
                c = _mm256_xor_si256(c, _mm256_zextsi128_si256(acc));
            }
            self.mul(key, c, MAX_POWERS - 1 - len.div_ceil(16) + 2 * r);
        } else if r == regs {
            self.mul(key, _mm256_zextsi128_si256(lengths), MAX_POWERS - 1);
        }
    }

    /// Adds the products of the two byte-reversed blocks `x` with the powers in rows
    /// `row..row + 2` of the key's tables.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq")]
    fn mul(&mut self, key: &GcmKeySchedule, x: __m256i, row: usize) {
        let h = load256(key.htab()[row..row + 2].as_flattened());
        let k = load256(key.hkar()[row..row + 2].as_flattened());
        self.lo = _mm256_xor_si256(self.lo, _mm256_clmulepi64_epi128(x, h, 0x00));
        self.hi = _mm256_xor_si256(self.hi, _mm256_clmulepi64_epi128(x, h, 0x11));
        let xm = _mm256_xor_si256(x, _mm256_shuffle_epi32(x, 0x4e));
        self.mid = _mm256_xor_si256(self.mid, _mm256_clmulepi64_epi128(xm, k, 0x00));
    }

    #[inline]
    #[target_feature(enable = "avx2,pclmulqdq")]
    fn reduce(self) -> __m128i {
        reduce(self.lo, self.mid, self.hi)
    }
}

/// Keystream for up to eight groups of one key, XORed into their octets.
#[inline]
#[target_feature(enable = "avx2,vaes,aes")]
fn ctr_batch<const R: usize>(rk: &[__m256i; 15], batch: &mut [Option<Group<'_>>; WAYS]) {
    let swap = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12));
    let mut x = [_mm256_setzero_si256(); WAYS];
    for (x, g) in x.iter_mut().zip(batch.iter()) {
        if let Some((_, iv, index, _)) = g {
            // Lane l of group g holds counter 2 + 2g + l, little-endian in dword 3 until swapped.
            let iv = _mm256_broadcastsi128_si256(iv_block(iv));
            let c = (2 + 2 * index) as i32;
            *x = _mm256_shuffle_epi8(_mm256_add_epi32(iv, _mm256_set_epi32(c + 1, 0, 0, 0, c, 0, 0, 0)), swap);
        }
    }
    let ks = encrypt::<R>(rk, x);
    for (k, g) in ks.iter().zip(batch.iter_mut()) {
        if let Some((_, _, _, chunk)) = g {
            if chunk.len() == 32 {
                let v = _mm256_xor_si256(*k, load256(chunk));
                store256(chunk, v);
            } else {
                let n = chunk.len();
                let mut pad = [0u8; 32];
                super::copy_short(&mut pad[..n], chunk);
                let v = _mm256_xor_si256(*k, load256(&pad));
                store256(&mut pad, v);
                super::copy_short(chunk, &pad[..n]);
            }
        }
    }
}

/// Keeps the eight chains interleaved round by round: LLVM would otherwise schedule each block's
/// fifteen rounds back to back and leave the out-of-order window to find the parallelism.
#[inline]
#[target_feature(enable = "avx2")]
fn interleave(x: &mut [__m256i; WAYS]) {
    // SAFETY: an empty `asm!` block: it emits no instruction, reads and writes no memory and
    // leaves every register as it was; the `inout` operands only make each value pass through it.
    unsafe {
        core::arch::asm!(
            "/* {0} {1} {2} {3} {4} {5} {6} {7} */",
            inout(ymm_reg) x[0], inout(ymm_reg) x[1], inout(ymm_reg) x[2], inout(ymm_reg) x[3],
            inout(ymm_reg) x[4], inout(ymm_reg) x[5], inout(ymm_reg) x[6], inout(ymm_reg) x[7],
            options(pure, nomem, nostack, preserves_flags),
        );
    }
}

/// `J0 = IV ‖ 0^31 ‖ 1` (NIST SP 800-38D 7.1), built in a register.
#[inline]
#[target_feature(enable = "sse4.1")]
fn j0(iv: &[u8; 12]) -> __m128i {
    _mm_insert_epi32(iv_block(iv), 0x0100_0000, 3)
}

/// `IV ‖ 0^32`, built in a register (a load of a block written just before by smaller stores
/// would wait for store forwarding to fail).
#[inline]
#[target_feature(enable = "sse4.1")]
fn iv_block(iv: &[u8; 12]) -> __m128i {
    // SAFETY: `iv` is 12 readable octets; `loadl` reads the first 8.
    let lo = unsafe { _mm_loadl_epi64(iv.as_ptr().cast()) };
    _mm_insert_epi32(lo, i32::from_le_bytes([iv[8], iv[9], iv[10], iv[11]]), 2)
}

#[inline]
#[target_feature(enable = "sse2")]
fn load128(b: &[u8; 16]) -> __m128i {
    // SAFETY: `b` is 16 readable octets; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "sse2")]
fn store128(v: __m128i) -> [u8; 16] {
    let mut b = [0u8; 16];
    // SAFETY: `b` is 16 writable octets.
    unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) };
    b
}

#[inline]
#[target_feature(enable = "avx2")]
fn load256(b: &[u8]) -> __m256i {
    assert!(b.len() >= 32);
    // SAFETY: the assert gives 32 readable octets; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store256(b: &mut [u8], v: __m256i) {
    assert!(b.len() >= 32);
    // SAFETY: the assert gives 32 writable octets.
    unsafe { _mm256_storeu_si256(b.as_mut_ptr().cast(), v) }
}

/// The round keys, each broadcast to both lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn round_keys<const R: usize>(key: &GcmKeySchedule) -> [__m256i; 15] {
    let mut rk = [_mm256_setzero_si256(); 15];
    for (r, k) in rk.iter_mut().zip(key.round_keys()).take(R + 1) {
        *r = _mm256_broadcastsi128_si256(load128(k));
    }
    rk
}

#[inline]
#[target_feature(enable = "avx2,vaes")]
fn encrypt<const R: usize>(rk: &[__m256i; 15], mut b: [__m256i; WAYS]) -> [__m256i; WAYS] {
    for x in b.iter_mut() {
        *x = _mm256_xor_si256(*x, rk[0]);
    }
    for k in &rk[1..R] {
        interleave(&mut b);
        for x in b.iter_mut() {
            *x = _mm256_aesenc_epi128(*x, *k);
        }
    }
    interleave(&mut b);
    for x in b.iter_mut() {
        *x = _mm256_aesenclast_epi128(*x, rk[R]);
    }
    b
}

/// The tag: GHASH over AAD, ciphertext and lengths, XOR `E(K, J0)`. With `bulk`, the GHASH of
/// the AAD and of the data's whole batches is done already and only the tail is left.
#[inline]
#[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
fn tag(key: &GcmKeySchedule, aad: &[u8], ct: &[u8], bulk: Option<Bulk>, mask: __m128i) -> [u8; 16] {
    let rev = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    if let Some(Bulk { acc, done: true, .. }) = bulk {
        return store128(_mm_xor_si128(_mm_shuffle_epi8(acc, rev), mask));
    }
    // One `segment` call per input, so that `tag` stays small enough to be inlined.
    let (mut g, data) = match bulk {
        None => {
            let total = aad.len().div_ceil(16) + ct.len().div_ceil(16) + 1;
            (Ghash::new(key, total, total.min(MAX_POWERS)), ct)
        }
        Some(b) => {
            let rest = (ct.len() - b.len).div_ceil(16) + 1;
            let mut g = Ghash::new(key, rest, rest.min(MAX_POWERS));
            g.acc = b.acc;
            (g, &ct[b.len..])
        }
    };
    if bulk.is_none() {
        g.segment(aad);
    }
    g.segment(data);
    g.last_block(lengths_block(aad.len(), ct.len()));
    store128(_mm_xor_si128(_mm_shuffle_epi8(g.acc, rev), mask))
}

/// Aggregated GHASH state: unreduced Karatsuba sums of the current chunk (two lanes) plus the
/// reduced value of the chunks before, folded into the first block of the next chunk.
#[derive(Clone, Copy)]
struct Ghash<'k> {
    key: &'k GcmKeySchedule,
    sums: Sums,
    acc: __m128i,
    /// Power of H for the next block (counts down to 1 within a chunk).
    p: usize,
    /// Blocks still to come, including the next one.
    rem: usize,
}

impl<'k> Ghash<'k> {
    /// A GHASH over `total` blocks whose first chunk has `first_chunk` blocks (the others 32).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn new(key: &'k GcmKeySchedule, total: usize, first_chunk: usize) -> Self {
        Ghash { key, sums: Sums::new(), acc: _mm_setzero_si128(), p: first_chunk, rem: total }
    }

    /// Absorbs `bytes`, zero-padded to whole blocks, up to two blocks per step.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
    fn segment(&mut self, bytes: &[u8]) {
        // Work on a local copy so the sums stay in registers across the loop.
        let mut g = Ghash { ..*self };
        let rev = _mm256_broadcastsi128_si256(_mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
        let mut off = 0;
        while off < bytes.len() {
            let n = (bytes.len() - off).min(32).min(16 * g.p);
            let x = if n == 32 {
                load256(&bytes[off..])
            } else {
                let mut pad = [0u8; 32];
                super::copy_short(&mut pad[..n], &bytes[off..off + n]);
                load256(&pad)
            };
            g.group(_mm256_shuffle_epi8(x, rev), n.div_ceil(16));
            off += n;
        }
        *self = g;
    }

    /// Absorbs one block given as a POLYVAL element.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
    fn last_block(&mut self, x: __m128i) {
        self.group(_mm256_zextsi128_si256(x), 1);
    }

    /// Absorbs `blocks` (1..=2, at most `p`) byte-reversed blocks, unused lanes zero.
    #[inline]
    #[target_feature(enable = "avx2,vpclmulqdq,pclmulqdq")]
    fn group(&mut self, x: __m256i, blocks: usize) {
        let x = _mm256_xor_si256(x, _mm256_zextsi128_si256(self.acc));
        self.acc = _mm_setzero_si128();
        self.sums.mul(self.key, x, MAX_POWERS - self.p);
        self.p -= blocks;
        self.rem -= blocks;
        if self.p == 0 {
            self.acc = self.sums.reduce();
            self.sums = Sums::new();
            self.p = self.rem.min(MAX_POWERS);
        }
    }
}

/// Karatsuba recombination, sum of the two lanes, Montgomery reduction (`ghash::reduce`).
#[inline]
#[target_feature(enable = "avx2,pclmulqdq")]
fn reduce(lo: __m256i, mid: __m256i, hi: __m256i) -> __m128i {
    let mid = _mm256_xor_si256(mid, _mm256_xor_si256(lo, hi));
    let lo = fold_lanes(_mm256_xor_si256(lo, _mm256_bslli_epi128(mid, 8)));
    let hi = fold_lanes(_mm256_xor_si256(hi, _mm256_bsrli_epi128(mid, 8)));
    let poly = _mm_set_epi64x(ghash::POLY_HI as i64, 1);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    _mm_xor_si128(hi, lo)
}

/// XOR of the two 128-bit lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn fold_lanes(v: __m256i) -> __m128i {
    _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1))
}
