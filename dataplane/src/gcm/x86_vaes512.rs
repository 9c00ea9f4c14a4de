//! The VAES + VPCLMULQDQ path on 512-bit registers (AVX-512 F/BW/VL): four blocks per register.
//!
//! Per burst (up to 64 jobs): the `J0` blocks of consecutive jobs that share a key are encrypted
//! four to a register. Then, per window of frames (about 16 KiB, so GHASH reads from L1 what CTR
//! just wrote): first each frame's whole 512-octet batches (and a tail of 256 to 496 octets after
//! them, or a frame of 288 to 496 octets as its own tail) with CTR and GHASH stitched in one loop
//! (the AES rounds of one batch of eight registers interleaved with the carry-less multiplies of 32
//! ciphertext blocks against the aggregated powers `H^32..H^1`, one reduction per batch; for seal
//! the blocks of the batch before, and in a frame's first batch those of the frame before, for
//! open those of the same batch, read before they are decrypted), the AAD first in chunks of its
//! own so the data's chunks line up with the batches (the stitched design of Intel ipsec-mb, see
//! `bench/RESULTS.md`). Open takes a tail shorter than 256 octets after whole batches (and the
//! lengths block) into the last batch's step: one to four more registers of AES, their blocks
//! hashed with the batch's, one reduction (the key keeps the powers up to `H^52` for it). Seal
//! does so for a frame of one batch and a tail under 256 octets, in a pass of their own. Then
//! CTR over the other frames' tails (and whole small frames) in batches of eight registers across
//! frame boundaries, and GHASH over the tails, four blocks per carry-less multiply, one reduction
//! per 32 blocks (a whole small frame in one pass, its AAD and lengths block sharing a
//! register); open hashes the tails before decrypting them. Partial blocks and frame tails use
//! AVX-512BW byte-masked loads and stores, which never touch the octets outside the mask.
//!
//! Every function with intrinsics is `#[target_feature]`; the only entry points are
//! [`seal_batch`] and [`open_batch`], which take a [`Cpu`] token that exists only after runtime
//! detection of the features.

// The AVX-512 and VAES intrinsics are stable since Rust 1.89, above the workspace MSRV (1.80);
// the toolchain here is 1.95. Remove once the workspace `rust-version` is raised to 1.89.
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::*;

use super::key::{GcmKeySchedule, MAX_POWERS, POWERS, TABLE_ROWS};
use super::{ghash, Group, OpenJob, SealJob};

/// Proof that this CPU has AVX-512 F/BW/VL, VAES, VPCLMULQDQ, AES-NI and PCLMULQDQ.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cpu(());

super::x86_features!(Cpu, "avx512f", "avx512bw", "avx512vl", "vaes", "vpclmulqdq", "aes", "pclmulqdq", "avx2");

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

#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn seal_chunk(jobs: &mut [SealJob<'_>]) {
    let mut masks: Masks = [[0u8; 16]; BURST + 4];
    j0_masks(jobs.len(), |i| (jobs[i].key, &jobs[i].iv), &mut masks);
    let mut start = 0;
    while start < jobs.len() {
        let end = window_end(start, jobs.len(), |i| jobs[i].data.len());
        let window = &mut jobs[start..end];
        let mut bulk = [None; BURST];
        // The GHASH of each frame's last batch (or tail) is woven into the next frame's first
        // AES batch; the window's last is done on its own.
        let mut pending: Option<Pending<'_>> = None;
        // The frames `seal_merged` seals, by bit; their `bulk` holds the GHASH of their AAD.
        let mut merged = 0u64;
        for (i, job) in window.iter_mut().enumerate() {
            if let Some((j, b)) = bulk_seal(job.key, &job.iv, job.aad, job.data, &mut pending, i) {
                bulk[j] = Some(b);
            }
            if seals_merged(job.data.len()) {
                merged |= 1 << i;
            }
        }
        if let Some(p) = pending {
            let (j, b) = p.finish();
            bulk[j] = Some(b);
        }
        if merged != 0 {
            seal_merged(window, merged, &mut bulk);
        }
        ctr_tails(window.iter_mut().zip(&bulk).map(|(j, b)| (j.key, &j.iv, &mut *j.data, Bulk::covered(b))));
        for ((job, mask), b) in window.iter_mut().zip(&masks[start..end]).zip(&bulk) {
            *job.tag = tag(job.key, job.aad, job.data, *b, load128(mask));
        }
        start = end;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_chunk(jobs: &mut [OpenJob<'_>]) {
    let mut masks: Masks = [[0u8; 16]; BURST + 4];
    j0_masks(jobs.len(), |i| (jobs[i].key, &jobs[i].iv), &mut masks);
    let mut start = 0;
    while start < jobs.len() {
        let end = window_end(start, jobs.len(), |i| jobs[i].data.len());
        let window = &mut jobs[start..end];
        let mut bulk = [None; BURST];
        for (job, b) in window.iter_mut().zip(&mut bulk) {
            *b = bulk_open(job.key, &job.iv, job.aad, job.data);
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

/// `E(K, J0)` for jobs `0..n`: runs of consecutive jobs that share a key go four to a register,
/// eight registers per batch. Each register is built from its four lanes with constant lane
/// indices and stored whole, so the registers never go through the stack (a lane inserted at a
/// run-time index kept the batch in memory: one store-to-load round trip per job, in series).
/// `masks` has room for one register past the last job; what a register writes past its run is
/// overwritten by the next run or never read.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,aes")]
fn j0_masks<'k>(n: usize, job: impl Fn(usize) -> (&'k GcmKeySchedule, &'k [u8; 12]), masks: &mut Masks) {
    let mut i = 0;
    while i < n {
        let key = job(i).0;
        let mut run = 1;
        while run < 4 * WAYS && i + run < n && std::ptr::eq(job(i + run).0, key) {
            run += 1;
        }
        // Lanes past the run repeat its last job: computed, never used.
        let lane = |l: usize| j0(job(i + l.min(run - 1)).1);
        let mut x = [_mm512_setzero_si512(); WAYS];
        for (r, x) in x.iter_mut().enumerate() {
            let v = _mm512_castsi128_si512(lane(4 * r));
            let v = _mm512_inserti32x4(v, lane(4 * r + 1), 1);
            let v = _mm512_inserti32x4(v, lane(4 * r + 2), 2);
            *x = _mm512_inserti32x4(v, lane(4 * r + 3), 3);
        }
        let y = if key.rounds() == 14 {
            encrypt::<14>(&round_keys::<14>(key), x)
        } else {
            encrypt::<10>(&round_keys::<10>(key), x)
        };
        for (r, y) in y.iter().enumerate().take(run.div_ceil(4)) {
            store512(masks[i + 4 * r..][..4].as_flattened_mut(), *y);
        }
        i += run;
    }
}

/// `E(K, J0)` per job of a chunk, with a register's worth of slack behind the last (see
/// [`j0_masks`]).
type Masks = [[u8; 16]; BURST + 4];

/// CTR over the tails of every frame of a window ([`super::tail_batches`], groups of one
/// register), eight registers at a time.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,aes")]
fn ctr_tails<'a>(frames: impl Iterator<Item = (&'a GcmKeySchedule, &'a [u8; 12], &'a mut [u8], usize)>) {
    super::tail_batches::<64>(frames, |batch| ctr_flush(batch));
}

/// CTR over the groups of `batch` (one key).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,aes")]
fn ctr_flush(batch: &mut [Option<Group<'_>>; WAYS]) {
    if let Some(key) = batch[0].as_ref().map(|g| g.0) {
        match key.rounds() {
            14 => ctr_batch::<14>(&round_keys::<14>(key), batch),
            _ => ctr_batch::<10>(&round_keys::<10>(key), batch),
        }
    }
}

/// Octets of one CTR batch (eight registers); also one GHASH chunk of `MAX_POWERS` blocks.
const BULK: usize = 64 * WAYS;

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
/// loop too (one more step of eight registers, whatever its length), and one of at most
/// [`TAIL_MAX`]: its blocks and the lengths block then take the powers `H^(m+1)..H^1`, which the
/// tables have. Shorter tails go with the small frames.
const TAIL_MIN: usize = 256;
/// A frame shorter than a batch takes the stitched loop's last step alone (the whole frame as
/// its tail) from this many octets up to [`TAIL_MAX`]: from here one step of eight registers,
/// AES and GHASH stitched, costs less than CTR across frames and a GHASH of its own (scratch
/// A/B on Zen 4: 288 B −10%, 384 B −12%, 448 B −23%, 496 B −30%; 256 B was 7% slower).
const SHORT_MIN: usize = 288;
const TAIL_MAX: usize = 16 * (MAX_POWERS - 1);

/// Where the stitched loop of a frame starts: the GHASH of its AAD, the octets of its whole
/// batches and, for a tail it takes too, the lengths block. The AAD goes first, in chunks of its
/// own, so the data's chunks line up with the batches. `None` for a frame shorter than a batch
/// unless it is its own tail ([`SHORT_MIN`]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
fn bulk_start(key: &GcmKeySchedule, aad: &[u8], len: usize) -> Option<(__m128i, usize, Option<__m128i>)> {
    let full = len / BULK * BULK;
    let fin = (TAIL_MIN..=TAIL_MAX).contains(&(len - full)).then(|| lengths_block(aad.len(), len));
    if full == 0 && (len < SHORT_MIN || fin.is_none()) {
        return None;
    }
    Some((aad_ghash(key, aad), full, fin))
}

/// The GHASH of a frame's AAD, in chunks of its own so that the data's chunks line up with the
/// batches.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
fn aad_ghash(key: &GcmKeySchedule, aad: &[u8]) -> __m128i {
    let a = aad.len().div_ceil(16);
    let mut g = Ghash::new(key, a, (a + MAX_POWERS - 1) % MAX_POWERS + 1);
    g.segment(aad);
    g.acc
}

/// Open: CTR and GHASH over the whole batches of a frame, stitched: each loop step runs the AES
/// rounds of one batch with the carry-less multiplies of the same batch woven in (read before it
/// is decrypted), one reduction per batch.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn bulk_open(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Option<Bulk> {
    if data.len() >= BULK && data.len() % BULK < TAIL_MIN {
        return Some(open_merged(key, iv, aad, data));
    }
    let (acc, full, fin) = bulk_start(key, aad, data.len())?;
    let data = if fin.is_some() { data } else { &mut data[..full] };
    let acc = match key.rounds() {
        14 => open_stitched::<14>(&round_keys::<14>(key), key, iv, data, fin, acc),
        _ => open_stitched::<10>(&round_keys::<10>(key), key, iv, data, fin, acc),
    };
    Some(Bulk { acc, len: data.len(), done: fin.is_some() })
}

/// XORs the first `$regs` keystream registers of `$ks` into the octets of `$data`, which ends in
/// the last of them (a partial last register with byte-masked accesses), and returns the result by
/// register (seal hashes it), in an array of `$out` registers, zero past the data. A macro, not a
/// function: out of line, the keystream goes through memory, and LLVM put the function out of line
/// as the functions around it changed (300 B +3%, 1518 B +12%). Where `$regs` is a constant, LLVM
/// unrolls the loop (with the run-time bound, 594 B took 13% longer).
macro_rules! xor_tail {
    ($data:expr, $ks:expr, $regs:expr, $out:expr) => {{
        let data: &mut [u8] = $data;
        let mut out = [_mm512_setzero_si512(); $out];
        for (r, (k, o)) in $ks.iter().zip(&mut out).enumerate().take($regs) {
            let n = (data.len() - 64 * r).min(64);
            if n == 64 {
                *o = _mm512_xor_si512(*k, load512(&data[64 * r..]));
                store512(&mut data[64 * r..], *o);
            } else {
                let v = _mm512_xor_si512(*k, load_partial(data, 64 * r, n));
                *o = _mm512_maskz_mov_epi8(byte_mask(n), v);
                store_partial(data, 64 * r, n, *o);
            }
        }
        out
    }};
}

/// [`bulk_open`] of a frame of whole batches and a tail shorter than [`TAIL_MIN`] (maybe none):
/// its last batch's step takes the tail too (one to four more registers of AES) and hashes the
/// tail's blocks and the lengths block with the batch's, one reduction, with the powers up to
/// `H^49`. Out of line, so that the paths of the other frames are compiled as they were: with
/// this step inlined next to them, LLVM stopped inlining and unrolling theirs (scratch A/B on
/// Zen 4: 1518 B +11%).
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_merged(key: &GcmKeySchedule, iv: &[u8; 12], aad: &[u8], data: &mut [u8]) -> Bulk {
    let (acc, lengths) = (aad_ghash(key, aad), lengths_block(aad.len(), data.len()));
    let acc = match key.rounds() {
        14 => open_merged_r::<14>(&round_keys::<14>(key), key, iv, data, lengths, acc),
        _ => open_merged_r::<10>(&round_keys::<10>(key), key, iv, data, lengths, acc),
    };
    Bulk { acc, len: data.len(), done: true }
}

/// GHASH multiplies a last step with a tail can need: a batch's eight registers, up to four of
/// the tail and the lengths block, one per inner round of AES-256 (AES-128 takes two in a round).
const END_ITEMS: usize = WAYS + TAIL_MIN / 64 + 1;
// The widest last step: 48 blocks and the lengths block, `H^49..H^1`.
const _: () = assert!(POWERS > (BULK + TAIL_MIN - 1).div_ceil(16), "the widest last step's powers");

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_merged_r<const R: usize>(
    rk: &[__m512i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    lengths: __m128i,
    acc: __m128i,
) -> __m128i {
    let mut ctr = Counters::new(iv);
    let (whole, end) = data.split_at_mut((data.len() / BULK - 1) * BULK);
    let acc = open_batches::<R>(rk, key, &mut ctr, whole, acc);
    match end.len().div_ceil(64) {
        8 => open_end::<R, 8>(rk, key, &mut ctr, end, lengths, acc),
        9 => open_end::<R, 9>(rk, key, &mut ctr, end, lengths, acc),
        10 => open_end::<R, 10>(rk, key, &mut ctr, end, lengths, acc),
        11 => open_end::<R, 11>(rk, key, &mut ctr, end, lengths, acc),
        _ => open_end::<R, 12>(rk, key, &mut ctr, end, lengths, acc),
    }
}

/// The last step of [`open_merged`] on `N` registers: `end` (the last batch and the tail) hashed
/// with the lengths block, then decrypted.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_end<const R: usize, const N: usize>(
    rk: &[__m512i; 15],
    key: &GcmKeySchedule,
    ctr: &mut Counters,
    end: &mut [u8],
    lengths: __m128i,
    acc: __m128i,
) -> __m128i {
    let (ks, acc) = aes_ghash::<R, N>(rk, ctr.next_n::<N>(), |r, s| {
        // AES-128 has nine steps for up to thirteen multiplies.
        s.tail(key, end, acc, lengths, r);
        if r + R - 1 < END_ITEMS {
            s.tail(key, end, acc, lengths, r + R - 1);
        }
    });
    xor_tail!(end, ks, N, N);
    acc
}

/// Seal: as [`bulk_open`], with each step hashing the batch before, so a frame's last batch (or
/// tail) is left to hash: it replaces `pending` for the next frame's first step to weave in.
/// The first step weaves in the `pending` it finds, and that frame's job and [`Bulk`] come back.
/// A frame that goes with the small frames does nothing (and leaves `pending` where it is: the
/// ciphertext registers are not moved for it). Nor does a frame that [`seals_merged`]: the GHASH
/// of its AAD comes back as its [`Bulk`], for [`seal_merged`]. It is hashed here so that
/// `Ghash::segment` keeps the callers it had: with one more, LLVM put it out of line (1518 B
/// +12%).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn bulk_seal<'k>(
    key: &'k GcmKeySchedule,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    pending: &mut Option<Pending<'k>>,
    job: usize,
) -> Option<(usize, Bulk)> {
    let (acc, full, fin) = bulk_start(key, aad, data.len())?;
    if seals_merged(data.len()) {
        return Some((job, Bulk { acc, len: 0, done: false }));
    }
    let data = if fin.is_some() { data } else { &mut data[..full] };
    let len = data.len();
    let (prev_acc, ct, acc) = match key.rounds() {
        14 => seal_stitched::<14>(&round_keys::<14>(key), key, iv, data, fin, acc, pending.as_ref()),
        _ => seal_stitched::<10>(&round_keys::<10>(key), key, iv, data, fin, acc, pending.as_ref()),
    };
    let done = pending.as_ref().zip(prev_acc).map(|(p, acc)| (p.job, p.bulk(acc)));
    let tail = fin.map(|lengths| (len - full, lengths));
    *pending = Some(Pending { key, ct, acc, tail, job, len });
    done
}

/// Whether [`seal_merged`] seals a frame of `len` octets: one whole batch and a tail of one to four
/// registers, shorter than [`TAIL_MIN`]. Scratch A/B on Zen 4 (AES-256, bursts of 32): 594 B −8%;
/// without a tail (512 B) +7%. A tail of three or four registers paid only once [`End`] read its
/// registers back: 700 B −4%, 767 B −6% (before, 767 B was +4%).
fn seals_merged(len: usize) -> bool {
    (BULK + 1..BULK + TAIL_MIN).contains(&len)
}

/// Registers of a step of [`seal_merged`].
const SEAL_REGS: usize = WAYS + TAIL_MIN / 64;

/// Seal of the frames of a window that [`seals_merged`] (the bits of `merged`; their `bulk` holds
/// the GHASH of their AAD), as [`open_merged`]: one step of nine to twelve registers each, with the
/// GHASH of the one before woven in (all of it: its registers and the lengths block). Apart from
/// the other frames, and out of line: these steps among theirs, or a pending step of twelve
/// registers for every frame, made their code larger, and LLVM put `seal_stitched` and its
/// helpers out of line (1518 B +18%).
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn seal_merged(window: &mut [SealJob<'_>], merged: u64, bulk: &mut [Option<Bulk>; BURST]) {
    let mut pending: Option<End<'_>> = None;
    for (i, job) in window.iter_mut().enumerate().filter(|(i, _)| merged >> i & 1 == 1) {
        let acc = bulk[i].map_or(_mm_setzero_si128(), |b| b.acc);
        let lengths = lengths_block(job.aad.len(), job.data.len());
        let (last, prev_acc) = match job.key.rounds() {
            14 => seal_end_r::<14>(&round_keys::<14>(job.key), &job.iv, job.data, pending.as_ref()),
            _ => seal_end_r::<10>(&round_keys::<10>(job.key), &job.iv, job.data, pending.as_ref()),
        };
        if let Some(p) = pending {
            bulk[p.job] = Some(Bulk { acc: prev_acc, len: p.ct.len(), done: true });
        }
        pending = Some(End { key: job.key, ct: &*job.data, last, acc, lengths, job: i });
    }
    if let Some(p) = pending {
        let mut sums = Sums::new();
        for r in 0..=SEAL_REGS {
            p.step(r, &mut sums);
        }
        bulk[p.job] = Some(Bulk { acc: sums.reduce(), len: p.ct.len(), done: true });
    }
}

/// A frame of [`seal_merged`] left to hash: its ciphertext and its lengths block. The whole
/// registers are read back from the frame; the last one, which may be partial, is kept as sealed
/// (a load from behind a byte-masked store waits for it to retire). Keeping them all, which the
/// step cannot hold in registers, cost a store and a load of each per frame (scratch A/B on Zen 4:
/// reading them back is 594 B −10%, 520 B −10%, 640 B −5%).
struct End<'k> {
    key: &'k GcmKeySchedule,
    ct: &'k [u8],
    /// The last register of `ct`, zero past its end.
    last: __m512i,
    /// The GHASH of its AAD.
    acc: __m128i,
    lengths: __m128i,
    job: usize,
}

impl End<'_> {
    /// Step `r` (`0..=SEAL_REGS`) of its GHASH.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn step(&self, r: usize, sums: &mut Sums) {
        let regs = self.ct.len().div_ceil(64);
        let x = if r + 1 < regs {
            load512(&self.ct[64 * r..])
        } else if r + 1 == regs {
            self.last
        } else {
            _mm512_setzero_si512()
        };
        sums.tail_reg(self.key, x, self.ct.len(), self.acc, self.lengths, r);
    }
}

/// The step of a frame of [`seal_merged`] with `R` rounds: its keystream and ciphertext, with the
/// GHASH of `prev` woven in. The last ciphertext register and the reduced GHASH of `prev` (zero
/// without).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn seal_end_r<const R: usize>(
    rk: &[__m512i; 15],
    iv: &[u8; 12],
    data: &mut [u8],
    prev: Option<&End<'_>>,
) -> (__m512i, __m128i) {
    match data.len().div_ceil(64) {
        9 => seal_end::<R, 9>(rk, iv, data, prev),
        10 => seal_end::<R, 10>(rk, iv, data, prev),
        11 => seal_end::<R, 11>(rk, iv, data, prev),
        _ => seal_end::<R, 12>(rk, iv, data, prev),
    }
}

/// [`seal_end_r`] on `N` registers.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn seal_end<const R: usize, const N: usize>(
    rk: &[__m512i; 15],
    iv: &[u8; 12],
    data: &mut [u8],
    prev: Option<&End<'_>>,
) -> (__m512i, __m128i) {
    let (ks, acc) = aes_ghash::<R, N>(rk, Counters::new(iv).next_n::<N>(), |r, s| {
        if let Some(p) = prev {
            // AES-128 has nine steps for up to thirteen multiplies.
            p.step(r, s);
            if r + R - 1 <= SEAL_REGS {
                p.step(r + R - 1, s);
            }
        }
    });
    let out = xor_tail!(data, ks, N, N);
    (out[N - 1], acc)
}

/// A sealed frame's last GHASH step, left for the next frame's first AES batch: its last whole
/// batch, or its tail and lengths block, as the ciphertext registers it stored.
struct Pending<'k> {
    key: &'k GcmKeySchedule,
    ct: [__m512i; WAYS],
    /// The frame's GHASH before `ct`.
    acc: __m128i,
    /// `(octets, lengths block)` when `ct` is the frame's tail, `None` when a whole batch.
    tail: Option<(usize, __m128i)>,
    /// The frame's job in its window, and the octets CTR covered.
    job: usize,
    len: usize,
}

impl Pending<'_> {
    /// Step `r` (`0..=8`) of its GHASH.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn step(&self, r: usize, sums: &mut Sums) {
        match self.tail {
            None if r < WAYS => sums.batch_reg(self.key, self.ct[r], self.acc, r),
            None => {}
            Some((len, lengths)) => {
                // Steps 0..=WAYS: the tail's registers, then a zero one (the step of the
                // lengths block when the tail fills every register).
                let x = self.ct.get(r).copied().unwrap_or_else(|| _mm512_setzero_si512());
                sums.tail_reg(self.key, x, len, self.acc, lengths, r);
            }
        }
    }

    /// The frame's [`Bulk`], given the reduced GHASH of its pending step.
    fn bulk(&self, acc: __m128i) -> Bulk {
        Bulk { acc, len: self.len, done: self.tail.is_some() }
    }

    /// Its GHASH on its own (no frame follows in the window): its job and [`Bulk`].
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
    fn finish(self) -> (usize, Bulk) {
        let mut sums = Sums::new();
        for r in 0..=WAYS {
            self.step(r, &mut sums);
        }
        (self.job, self.bulk(sums.reduce()))
    }
}

/// The lengths block of NIST SP 800-38D 7.1 step 5, built in a register: as a POLYVAL element it
/// is `len(A) · 2^64 + len(C)` in bits.
#[inline]
#[target_feature(enable = "sse2")]
fn lengths_block(aad: usize, data: usize) -> __m128i {
    _mm_set_epi64x((aad as u64 * 8) as i64, (data as u64 * 8) as i64)
}

/// Seal: batch `i` is encrypted while batch `i - 1`, just written, is hashed; batch 0 while
/// `prev` is. `data` is whole batches, and with `fin` (the lengths block) a tail after them,
/// shorter than a batch, which takes one more step (its keystream while the last whole batch is
/// hashed). Returns `prev`'s reduced GHASH (with `prev`), the ciphertext registers left to hash
/// (the last batch, or the tail) and the GHASH before them.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn seal_stitched<const R: usize>(
    rk: &[__m512i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    fin: Option<__m128i>,
    mut acc: __m128i,
    prev: Option<&Pending<'_>>,
) -> (Option<__m128i>, [__m512i; WAYS], __m128i) {
    let full = data.len() / BULK * BULK;
    let mut ctr = Counters::new(iv);
    let (ks, prev_acc) = match prev {
        Some(p) => {
            let (ks, a) = aes_ghash::<R, WAYS>(rk, ctr.next(), |r, s| p.step(r, s));
            (ks, Some(a))
        }
        None => (encrypt::<R>(rk, ctr.next()), None),
    };
    if full == 0 {
        // The frame is its tail (`bulk_start`): encrypted by the first step.
        let regs = data.len().div_ceil(64);
        return (prev_acc, xor_tail!(data, ks, regs, WAYS), acc);
    }
    let mut last = xor_batch(&mut data[..BULK], &ks);
    for off in (BULK..full).step_by(BULK) {
        let (done, rest) = data.split_at_mut(off);
        let ks;
        (ks, acc) = aes_ghash::<R, WAYS>(rk, ctr.next(), |r, s| s.batch(key, done, off - BULK, acc, r));
        last = xor_batch(&mut rest[..BULK], &ks);
    }
    if fin.is_none() {
        return (prev_acc, last, acc);
    }
    let (done, tail) = data.split_at_mut(full);
    let ks;
    (ks, acc) = aes_ghash::<R, WAYS>(rk, ctr.next(), |r, s| s.batch(key, done, full - BULK, acc, r));
    let regs = tail.len().div_ceil(64);
    (prev_acc, xor_tail!(tail, ks, regs, WAYS), acc)
}

/// Open: each batch is hashed and decrypted in the same step; with `fin`, the tail after the
/// whole batches too (shorter than a batch), with the lengths block.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_stitched<const R: usize>(
    rk: &[__m512i; 15],
    key: &GcmKeySchedule,
    iv: &[u8; 12],
    data: &mut [u8],
    fin: Option<__m128i>,
    mut acc: __m128i,
) -> __m128i {
    let mut ctr = Counters::new(iv);
    let (whole, tail) = data.split_at_mut(data.len() / BULK * BULK);
    acc = open_batches::<R>(rk, key, &mut ctr, whole, acc);
    let Some(lengths) = fin else {
        return acc;
    };
    let ks;
    (ks, acc) = aes_ghash::<R, WAYS>(rk, ctr.next(), |r, s| s.tail(key, tail, acc, lengths, r));
    let regs = tail.len().div_ceil(64);
    xor_tail!(tail, ks, regs, WAYS);
    acc
}

/// Open's stitched loop over whole batches: each hashed and decrypted in the same step.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes,pclmulqdq,avx2")]
fn open_batches<const R: usize>(
    rk: &[__m512i; 15],
    key: &GcmKeySchedule,
    ctr: &mut Counters,
    whole: &mut [u8],
    mut acc: __m128i,
) -> __m128i {
    for batch in whole.chunks_exact_mut(BULK) {
        let ks;
        (ks, acc) = aes_ghash::<R, WAYS>(rk, ctr.next(), |r, s| s.batch(key, batch, 0, acc, r));
        xor_batch(batch, &ks);
    }
    acc
}

/// The counter blocks of a frame's whole batches, from counter 2 (NIST SP 800-38D 7.1 step 5):
/// lane `l` of the next register holds `c + l`, little-endian in dword 3 until swapped.
struct Counters {
    c: __m512i,
}

impl Counters {
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn new(iv: &[u8; 12]) -> Self {
        let base = _mm512_broadcast_i32x4(iv_block(iv));
        Counters { c: _mm512_add_epi32(base, _mm512_set_epi32(5, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0)) }
    }

    /// The counter blocks of the next batch, byte-swapped into place.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn next(&mut self) -> [__m512i; WAYS] {
        self.next_n()
    }

    /// The counter blocks of the next `N` registers, byte-swapped into place.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn next_n<const N: usize>(&mut self) -> [__m512i; N] {
        let swap = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12));
        let four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
        let mut x = [_mm512_setzero_si512(); N];
        for x in x.iter_mut() {
            *x = _mm512_shuffle_epi8(self.c, swap);
            self.c = _mm512_add_epi32(self.c, four);
        }
        x
    }
}

/// XORs a batch of keystream into `BULK` octets; returns the result by register.
#[inline]
#[target_feature(enable = "avx512f")]
fn xor_batch(batch: &mut [u8], ks: &[__m512i; WAYS]) -> [__m512i; WAYS] {
    let mut out = [_mm512_setzero_si512(); WAYS];
    for ((k, at), o) in ks.iter().zip(batch.chunks_exact_mut(64)).zip(&mut out) {
        *o = _mm512_xor_si512(*k, load512(at));
        store512(at, *o);
    }
    out
}

/// The AES rounds of `x` with GHASH work woven in: `step(r, sums)` after inner round `r + 1`
/// (every key size has at least nine inner rounds, so steps `0..=8`). Returns the keystream and
/// the reduced sums.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,pclmulqdq,avx2")]
fn aes_ghash<const R: usize, const N: usize>(
    rk: &[__m512i; 15],
    mut x: [__m512i; N],
    mut step: impl FnMut(usize, &mut Sums),
) -> ([__m512i; N], __m128i) {
    let mut sums = Sums::new();
    for v in x.iter_mut() {
        *v = _mm512_xor_si512(*v, rk[0]);
    }
    for (r, k) in rk[1..R].iter().enumerate() {
        interleave(&mut x);
        for v in x.iter_mut() {
            *v = _mm512_aesenc_epi128(*v, *k);
        }
        step(r, &mut sums);
    }
    interleave(&mut x);
    for v in x.iter_mut() {
        *v = _mm512_aesenclast_epi128(*v, rk[R]);
    }
    (x, sums.reduce())
}

/// GHASH of one chunk of 32 blocks after `acc`, reduced.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
fn ghash_chunk(key: &GcmKeySchedule, ct: &[u8], acc: __m128i) -> __m128i {
    let mut sums = Sums::new();
    for r in 0..WAYS {
        sums.batch(key, ct, 0, acc, r);
    }
    sums.reduce()
}

/// The shuffle that reverses the octets of each block (GHASH's bit order, as POLYVAL elements).
#[inline]
#[target_feature(enable = "avx512f")]
fn reverse() -> __m512i {
    _mm512_broadcast_i32x4(_mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
}

/// Unreduced Karatsuba sums of four lanes of products.
#[derive(Clone, Copy)]
struct Sums {
    lo: __m512i,
    mid: __m512i,
    hi: __m512i,
}

impl Sums {
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn new() -> Self {
        let z = _mm512_setzero_si512();
        Sums { lo: z, mid: z, hi: z }
    }

    /// Step `r` of the GHASH of a whole batch, the chunk of 32 blocks at `ct[off..]`: register
    /// `r < 8` times `H^(32-4r)..H^(29-4r)`, `acc` folded into its first block.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn batch(&mut self, key: &GcmKeySchedule, ct: &[u8], off: usize, acc: __m128i, r: usize) {
        if r < WAYS {
            self.batch_reg(key, load512(&ct[off + 64 * r..]), acc, r);
        }
    }

    /// [`Self::batch`] with register `r < 8` of the batch given.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn batch_reg(&mut self, key: &GcmKeySchedule, x: __m512i, acc: __m128i, r: usize) {
        let mut c = _mm512_shuffle_epi8(x, reverse());
        if r == 0 {
            c = _mm512_xor_si512(c, _mm512_zextsi128_si512(acc));
        }
        self.mul(key, c, 4 * r);
    }

    /// Step `r` of the GHASH of a frame's tail of `m <= 48` blocks (zero-padded; for
    /// [`open_merged`] its last whole batch and a short tail) and its lengths block: register `r`
    /// of the tail times `H^(m+1-4r)..`, `acc` folded into its first block; after the tail's
    /// registers the lengths block times `H^1`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn tail(&mut self, key: &GcmKeySchedule, tail: &[u8], acc: __m128i, lengths: __m128i, r: usize) {
        let regs = tail.len().div_ceil(64);
        if r < regs {
            let x = load_upto(tail, 64 * r, (tail.len() - 64 * r).min(64));
            self.tail_reg(key, x, tail.len(), acc, lengths, r);
        } else if r == regs {
            self.mul_power(key, _mm512_zextsi128_si512(lengths), 1);
        }
    }

    /// [`Self::tail`] with register `r` of the tail (`len` octets) given: seal hashes the
    /// ciphertext it has in registers rather than load it back from behind its masked stores,
    /// which a load cannot be forwarded from.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn tail_reg(&mut self, key: &GcmKeySchedule, x: __m512i, len: usize, acc: __m128i, lengths: __m128i, r: usize) {
        let regs = len.div_ceil(64);
        if r < regs {
            let mut c = _mm512_shuffle_epi8(x, reverse());
            if r == 0 {
                c = _mm512_xor_si512(c, _mm512_zextsi128_si512(acc));
            }
            self.mul_power(key, c, len.div_ceil(16) + 1 - 4 * r);
        } else if r == regs {
            self.mul_power(key, _mm512_zextsi128_si512(lengths), 1);
        }
    }

    /// Adds the products of the four byte-reversed blocks `x` with the powers in rows
    /// `row..row + 4` of the key's tables of one chunk (`H^(32-row)..`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn mul(&mut self, key: &GcmKeySchedule, x: __m512i, row: usize) {
        self.mul_power(key, x, MAX_POWERS - row);
    }

    /// Adds the products of the four byte-reversed blocks `x` with the powers `H^p..H^(p-3)`
    /// (zero below `H^1`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn mul_power(&mut self, key: &GcmKeySchedule, x: __m512i, p: usize) {
        let row = POWERS - p;
        let h = load512(key.htab_all()[row..row + 4].as_flattened());
        let k = load512(key.hkar_all()[row..row + 4].as_flattened());
        self.mul_with(x, h, k);
    }

    /// Adds the products of `x` with the powers `h` (and their Karatsuba halves `k`), lane by lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq")]
    fn mul_with(&mut self, x: __m512i, h: __m512i, k: __m512i) {
        self.lo = _mm512_xor_si512(self.lo, _mm512_clmulepi64_epi128(x, h, 0x00));
        self.hi = _mm512_xor_si512(self.hi, _mm512_clmulepi64_epi128(x, h, 0x11));
        let xm = _mm512_xor_si512(x, _mm512_shuffle_epi32(x, _MM_PERM_BADC));
        self.mid = _mm512_xor_si512(self.mid, _mm512_clmulepi64_epi128(xm, k, 0x00));
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,pclmulqdq,avx2")]
    fn reduce(self) -> __m128i {
        reduce(self.lo, self.mid, self.hi)
    }
}

/// Keystream for up to eight groups of one key, XORed into their octets.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vaes,aes")]
fn ctr_batch<const R: usize>(rk: &[__m512i; 15], batch: &mut [Option<Group<'_>>; WAYS]) {
    let swap = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 14, 13, 12));
    let lanes = _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
    let mut x = [_mm512_setzero_si512(); WAYS];
    for (x, g) in x.iter_mut().zip(batch.iter()) {
        if let Some((_, iv, index, _)) = g {
            // Lane l of group g holds counter 2 + 4g + l, little-endian in dword 3 until swapped.
            let iv = _mm512_broadcast_i32x4(iv_block(iv));
            let first = _mm512_maskz_set1_epi32(0x8888, (2 + 4 * index) as i32);
            *x = _mm512_shuffle_epi8(_mm512_add_epi32(iv, _mm512_add_epi32(first, lanes)), swap);
        }
    }
    let ks = encrypt::<R>(rk, x);
    for (k, g) in ks.iter().zip(batch.iter_mut()) {
        if let Some((_, _, _, chunk)) = g {
            let n = chunk.len();
            if n == 64 {
                let v = _mm512_xor_si512(*k, load512(chunk));
                store512(chunk, v);
            } else {
                let v = _mm512_xor_si512(*k, load_partial(chunk, 0, n));
                store_partial(chunk, 0, n, v);
            }
        }
    }
}

/// Keeps the chains interleaved round by round: LLVM would otherwise schedule each block's
/// fifteen rounds back to back and leave the out-of-order window to find the parallelism.
#[inline]
#[target_feature(enable = "avx512f")]
fn interleave<const N: usize>(x: &mut [__m512i; N]) {
    macro_rules! barrier {
        ($($i:literal)*) => {
            // SAFETY: an empty `asm!` block: it emits no instruction, reads and writes no memory
            // and leaves every register as it was; the `inout` operands only make each value pass
            // through it.
            unsafe {
                core::arch::asm!(
                    concat!("/*", $(" {", $i, "}",)* " */"),
                    $(inout(zmm_reg) x[$i],)*
                    options(pure, nomem, nostack, preserves_flags),
                )
            }
        };
    }
    match N {
        8 => barrier!(0 1 2 3 4 5 6 7),
        9 => barrier!(0 1 2 3 4 5 6 7 8),
        10 => barrier!(0 1 2 3 4 5 6 7 8 9),
        11 => barrier!(0 1 2 3 4 5 6 7 8 9 10),
        12 => barrier!(0 1 2 3 4 5 6 7 8 9 10 11),
        _ => unreachable!("no AES batch of {N} registers"),
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
#[target_feature(enable = "avx512f")]
fn load512(b: &[u8]) -> __m512i {
    assert!(b.len() >= 64);
    // SAFETY: the assert gives 64 readable octets; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn store512(b: &mut [u8], v: __m512i) {
    assert!(b.len() >= 64);
    // SAFETY: the assert gives 64 writable octets.
    unsafe { _mm512_storeu_si512(b.as_mut_ptr().cast(), v) }
}

/// The byte mask of the first `n` octets of a register (`n <= 64`).
#[inline]
fn byte_mask(n: usize) -> __mmask64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// [`load_partial`], with a plain load when `n` is 64: a masked load of a whole register cost the
/// 594 B open 8% more.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn load_upto(s: &[u8], off: usize, n: usize) -> __m512i {
    if n == 64 {
        load512(&s[off..])
    } else {
        load_partial(s, off, n)
    }
}

/// Loads the first `n <= 64` octets of `s[off..]`, zeroing the rest of the register.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn load_partial(s: &[u8], off: usize, n: usize) -> __m512i {
    assert!(n <= 64 && off + n <= s.len());
    // SAFETY: only the `n` octets at `off` are enabled by the mask, and the assert keeps them in
    // `s`; masked-off octets are neither read nor can they fault. `wrapping_add` keeps the
    // pointer computation defined even for `n == 0` at the end of `s`.
    unsafe { _mm512_maskz_loadu_epi8(byte_mask(n), s.as_ptr().wrapping_add(off).cast()) }
}

/// Stores the first `n <= 64` octets of `v` to `s[off..]`, leaving the octets after them alone.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
fn store_partial(s: &mut [u8], off: usize, n: usize, v: __m512i) {
    assert!(n <= 64 && off + n <= s.len());
    // SAFETY: as in `load_partial`; we hold `s` mutably.
    unsafe { _mm512_mask_storeu_epi8(s.as_mut_ptr().wrapping_add(off).cast(), byte_mask(n), v) }
}

/// The round keys, each broadcast to the four lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn round_keys<const R: usize>(key: &GcmKeySchedule) -> [__m512i; 15] {
    let mut rk = [_mm512_setzero_si512(); 15];
    for (r, k) in rk.iter_mut().zip(key.round_keys()).take(R + 1) {
        *r = _mm512_broadcast_i32x4(load128(k));
    }
    rk
}

#[inline]
#[target_feature(enable = "avx512f,vaes")]
fn encrypt<const R: usize>(rk: &[__m512i; 15], mut b: [__m512i; WAYS]) -> [__m512i; WAYS] {
    for x in b.iter_mut() {
        *x = _mm512_xor_si512(*x, rk[0]);
    }
    for k in &rk[1..R] {
        interleave(&mut b);
        for x in b.iter_mut() {
            *x = _mm512_aesenc_epi128(*x, *k);
        }
    }
    interleave(&mut b);
    for x in b.iter_mut() {
        *x = _mm512_aesenclast_epi128(*x, rk[R]);
    }
    b
}

/// The tag: GHASH over AAD, ciphertext and lengths, XOR `E(K, J0)`. With `bulk`, the GHASH of
/// the AAD and of the data's whole batches is done already and only the tail is left.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
fn tag(key: &GcmKeySchedule, aad: &[u8], ct: &[u8], bulk: Option<Bulk>, mask: __m128i) -> [u8; 16] {
    let rev = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    if let Some(Bulk { acc, done: true, .. }) = bulk {
        return store128(_mm_xor_si128(_mm_shuffle_epi8(acc, rev), mask));
    }
    if bulk.is_none() {
        if let Some(acc) = small_ghash(key, aad, ct) {
            return store128(_mm_xor_si128(_mm_shuffle_epi8(acc, rev), mask));
        }
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

/// The GHASH of a whole small frame (AAD of up to two blocks, at most `POWERS` blocks in all)
/// with one reduction: the data's registers times the contiguous powers down to `H^2`, and the
/// AAD's blocks and the lengths block in one register, times `H^m..` and `H^1`. `None` for other
/// frames.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
fn small_ghash(key: &GcmKeySchedule, aad: &[u8], ct: &[u8]) -> Option<__m128i> {
    let a = aad.len().div_ceil(16);
    let d = ct.len().div_ceil(16);
    let total = a + d + 1;
    if a > 2 || total > POWERS {
        return None;
    }
    let rev = reverse();
    let mut sums = Sums::new();
    let mut off = 0;
    while off < ct.len() {
        let x = load_upto(ct, off, (ct.len() - off).min(64));
        sums.mul_power(key, _mm512_shuffle_epi8(x, rev), d + 1 - off / 16);
        off += 64;
    }
    // Lanes: the AAD's `a` blocks, then the lengths block (lane `a`), the rest zero. Powers:
    // `H^total..` for the AAD (the rows from `total` down), `H^1` in lane `a`.
    let x = _mm512_shuffle_epi8(load_partial(aad, 0, aad.len()), rev);
    let lengths = _mm512_broadcast_i32x4(lengths_block(aad.len(), ct.len()));
    let lane: __mmask8 = 0b11 << (2 * a);
    let x = _mm512_mask_blend_epi64(lane, x, lengths);
    let (row, one) = (POWERS - total, POWERS - 1);
    let powers = |t: &[[u8; 16]; TABLE_ROWS]| {
        _mm512_mask_blend_epi64(lane, load512(t[row..row + 4].as_flattened()), _mm512_broadcast_i32x4(load128(&t[one])))
    };
    sums.mul_with(x, powers(key.htab_all()), powers(key.hkar_all()));
    Some(sums.reduce())
}

/// Aggregated GHASH state: unreduced Karatsuba sums of the current chunk (four lanes) plus the
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
    #[target_feature(enable = "avx512f")]
    fn new(key: &'k GcmKeySchedule, total: usize, first_chunk: usize) -> Self {
        Ghash { key, sums: Sums::new(), acc: _mm_setzero_si128(), p: first_chunk, rem: total }
    }

    /// Absorbs `bytes`, zero-padded to whole blocks, up to four blocks per step.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
    fn segment(&mut self, bytes: &[u8]) {
        // Work on a local copy so the sums stay in registers across the loop.
        let mut g = Ghash { ..*self };
        let rev = reverse();
        let mut off = 0;
        while off < bytes.len() {
            if g.p == MAX_POWERS && bytes.len() - off >= BULK {
                // A whole chunk (the sums are empty at its start): the tight loop.
                g.acc = ghash_chunk(g.key, &bytes[off..], g.acc);
                g.rem -= MAX_POWERS;
                g.p = g.rem.min(MAX_POWERS);
                off += BULK;
                continue;
            }
            let n = (bytes.len() - off).min(64).min(16 * g.p);
            let x = load_upto(bytes, off, n);
            g.group(_mm512_shuffle_epi8(x, rev), n.div_ceil(16));
            off += n;
        }
        *self = g;
    }

    /// Absorbs one block given as a POLYVAL element.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
    fn last_block(&mut self, x: __m128i) {
        self.group(_mm512_zextsi128_si512(x), 1);
    }

    /// Absorbs `blocks` (1..=4, at most `p`) byte-reversed blocks, unused lanes zero.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,vpclmulqdq,pclmulqdq,avx2")]
    fn group(&mut self, x: __m512i, blocks: usize) {
        let x = _mm512_xor_si512(x, _mm512_zextsi128_si512(self.acc));
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

/// Karatsuba recombination, sum of the four lanes, Montgomery reduction (`ghash::reduce`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,pclmulqdq,avx2")]
fn reduce(lo: __m512i, mid: __m512i, hi: __m512i) -> __m128i {
    let mid = _mm512_xor_si512(mid, _mm512_xor_si512(lo, hi));
    let lo = fold_lanes(_mm512_xor_si512(lo, _mm512_bslli_epi128(mid, 8)));
    let hi = fold_lanes(_mm512_xor_si512(hi, _mm512_bsrli_epi128(mid, 8)));
    let poly = _mm_set_epi64x(ghash::POLY_HI as i64, 1);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    let t = _mm_clmulepi64_si128(lo, poly, 0x10);
    let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
    _mm_xor_si128(hi, lo)
}

/// XOR of the four 128-bit lanes.
#[inline]
#[target_feature(enable = "avx512f,avx2")]
fn fold_lanes(v: __m512i) -> __m128i {
    let a = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1))
}
