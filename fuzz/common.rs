//! What `dataplane/tests/fuzz.rs` and `control/tests/fuzz.rs` share (included with `#[path]`):
//! the number of cases, the seed corpus in `fuzz/corpus/<target>/`, a mutator (bit flips,
//! interesting values, truncations, insertions, removals, splices), and an allocation meter that
//! shows a parser never allocates far more than its input.

#![allow(dead_code, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases per target: `FUZZ_CASES` (e.g. 200000 for `make fuzz`), 256 by default.
pub fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256)
}

/// The proptest config of every target; failures are printed shrunk, not persisted in files.
pub fn config() -> Config {
    Config { cases: cases(), failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() }
}

/// The seeds of `target`, by file name: `.hex` files decoded, others as they are.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let raw = std::fs::read(&p).unwrap();
            let data = if name.ends_with(".hex") {
                hex::decode(String::from_utf8(raw).unwrap().trim()).unwrap_or_else(|e| panic!("{name}: {e}"))
            } else {
                raw
            };
            (name, data)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// One change to an input.
#[derive(Clone, Debug)]
pub enum Op {
    FlipBit(Index, u8),
    /// Overwrite with a boundary value: 1, 2 or 4 octets (a length field claiming 0, 2^8-1,
    /// 2^16-1, 2^32-1...).
    Interesting(Index, u32, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    /// Our prefix up to the index, then the other seed from its index.
    Splice(Index, Index),
    /// A range of ourselves again.
    Duplicate(Index, usize),
}

pub fn op() -> impl Strategy<Value = Op> {
    let interesting =
        prop::sample::select(vec![0u32, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x8000_0000, u32::MAX]);
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Op::FlipBit(i, b)),
        2 => (any::<Index>(), interesting, prop::sample::select(vec![1u8, 2, 4])).prop_map(|(i, v, w)| Op::Interesting(i, v, w)),
        1 => any::<Index>().prop_map(Op::Truncate),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Op::Insert(i, v)),
        1 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Op::Remove(i, n)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Op::Splice(i, j)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Op::Duplicate(i, n)),
    ]
}

/// Applies `ops` to `seed` in order; `other` is the splice partner.
pub fn mutate(seed: &[u8], other: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for op in ops {
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
        match op {
            Op::FlipBit(i, b) if !out.is_empty() => {
                let k = at(i, out.len());
                out[k] ^= 1 << b;
            }
            Op::Interesting(i, v, w) if !out.is_empty() => {
                let k = at(i, out.len());
                let bytes = v.to_be_bytes();
                let w = usize::from(*w);
                for (j, b) in bytes[4 - w..].iter().enumerate() {
                    if let Some(o) = out.get_mut(k + j) {
                        *o = *b;
                    }
                }
            }
            Op::Truncate(i) => out.truncate(at(i, out.len() + 1)),
            Op::Insert(i, v) => {
                let k = at(i, out.len() + 1);
                out.splice(k..k, v.iter().copied());
            }
            Op::Remove(i, n) if !out.is_empty() => {
                let k = at(i, out.len());
                out.drain(k..(k + n).min(out.len()));
            }
            Op::Splice(i, j) => {
                out.truncate(at(i, out.len() + 1));
                out.extend_from_slice(&other[at(j, other.len() + 1)..]);
            }
            Op::Duplicate(i, n) if !out.is_empty() => {
                let k = at(i, out.len());
                let piece = out[k..(k + n).min(out.len())].to_vec();
                out.splice(k..k, piece);
            }
            _ => {}
        }
    }
    out
}

/// Inputs from the corpus of `target`: a seed as it is or changed by up to 8 ops.
pub fn mutated(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Arc<Vec<Vec<u8>>> = Arc::new(corpus(target).into_iter().map(|(_, d)| d).collect());
    (any::<Index>(), any::<Index>(), prop::collection::vec(op(), 0..8))
        .prop_map(move |(a, b, ops)| mutate(&seeds[a.index(seeds.len())], &seeds[b.index(seeds.len())], &ops))
}

/// Random bytes or a mutated seed of `target`, half and half.
pub fn input(target: &str, max_random: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..max_random), mutated(target)]
}

// ---------------------------------------------------------------------------------------------
// The allocation meter: the system allocator, counting the bytes each thread holds.

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

pub struct Meter;

fn count(grow: usize, shrink: usize) {
    // try_with: never panics, even while the thread's TLS is torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `Meter`
// upholds the `GlobalAlloc` contract exactly as `System` does; the counting touches only
// const-initialised thread-locals without destructors and allocates nothing.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        // SAFETY: `ptr` came from `System` with this `layout` (every allocation goes through us).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        // SAFETY: as for `dealloc`; `new_size` is the caller's, unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns the most bytes it held allocated at once on this thread (beyond what
/// was held before).
pub fn peak_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(start))
}

/// What a parser may allocate for `input_len` octets: a generous multiple of the input, never
/// what a length field claims.
pub fn alloc_bound(input_len: usize) -> usize {
    256 * input_len + (1 << 20)
}
