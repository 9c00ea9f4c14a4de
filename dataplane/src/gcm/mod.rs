//! The own batched AES-GCM engine: one call seals or opens a burst of frames of mixed lengths
//! (0..9216 octets and more), mixed keys (AES-128 and AES-256), 96-bit IVs, AAD of any length and
//! 16-octet tags (NIST SP 800-38D; the MACsec cipher suites of IEEE 802.1AE-2018 14.5 and 14.7).
//!
//! # API (stable: `bench/` and the SecY build on it)
//! ```
//! use macsec_dataplane::gcm::{Engine, GcmKeySchedule, OpenJob, SealJob};
//! let engine = Engine::detect(); // best path of this CPU, or MACSEC_GCM_PATH
//! let key = GcmKeySchedule::new(&[7u8; 32]).unwrap();
//! let (mut a, mut b) = (*b"frame one", *b"frame two!");
//! let (mut tag, mut tag_b) = ([0u8; 16], [0u8; 16]);
//! let mut jobs = [
//!     SealJob { key: &key, iv: [1; 12], aad: b"sectag", data: &mut a, tag: &mut tag },
//!     SealJob { key: &key, iv: [2; 12], aad: b"sectag", data: &mut b, tag: &mut tag_b },
//! ];
//! engine.seal_batch(&mut jobs);
//! let mut open = [OpenJob { key: &key, iv: [1; 12], aad: b"sectag", data: &mut a, tag: &tag, ok: false }];
//! engine.open_batch(&mut open);
//! assert!(open[0].ok);
//! assert_eq!(&a, b"frame one");
//! ```
//! - [`Engine::detect`] picks the fastest [`Path`] of the CPU at run time
//!   (`is_x86_feature_detected!`); the environment variable `MACSEC_GCM_PATH`
//!   (`portable|aesni|vaes256|vaes512`) overrides it when that path is available.
//!   [`Engine::with_path`] returns `None` for a path the CPU lacks; [`Engine::available`] lists them.
//! - [`Engine::seal_batch`] encrypts every job's `data` in place and writes its `tag`;
//!   [`Engine::open_batch`] computes the tag over the ciphertext, compares it with `tag` in constant
//!   time into `ok`, and decrypts `data` in place (on `ok == false` the content of `data` is
//!   unspecified: drop the frame). Any number of jobs per call; bursts of up to 64 are the design
//!   point. No allocation, no lock, no syscall.
//! - [`GcmKeySchedule`] is the per-SA precomputation (round keys, `H^1..H^32`); it zeroizes on drop.
//! - [`EngineBackend`] plugs the engine into the SecY's [`GcmBackend`](crate::secy::GcmBackend).
//!
//! # Batching
//! Per burst the engine first encrypts the `J0` blocks of all jobs (four per 512-bit register where
//! consecutive jobs share a key). Whole 512-octet stretches of a frame (256 on `Vaes256`) take a
//! loop that stitches CTR and GHASH (the AES rounds of one stretch interleaved with the carry-less
//! multiplies of another, one reduction per stretch); a tail of at least half a stretch after them
//! (256 to 496 octets on `Vaes512`, 128 to 255 on `Vaes256`) takes one more step of that loop, with
//! the lengths block in its reduction, so a 1500-octet frame is stitched whole. `AesNi` goes one
//! frame at a time and stitches its whole 128-octet stretches. The rest (small frames, shorter
//! tails) runs CTR in batches of eight registers that cross frame boundaries (a burst of 64-octet
//! frames keeps as many AES chains in flight as one jumbo frame), then GHASH. GHASH is aggregated with `H^1..H^32`: a
//! frame of up to 32 blocks (AAD, data and lengths together) costs one reduction, and nothing
//! chains one frame's GHASH to the next, so the CPU overlaps frames.
//!
//! # Paths on this machine (AMD EPYC Zen 5, one core, AES-256, 28-octet AAD, bursts of 32)
//! `Vaes512` is the fastest everywhere and what `detect` picks; `Vaes256` and `AesNi` follow.
//! Against ipsec-mb in the same run (AES-256): 64 B 1.8–2.1×, 1500 B 1.13–1.16×, 9000 B 1.05×,
//! IMIX 1.35–1.47×. `Vaes256` is 1.44–1.49× ring at 1500 B, `AesNi` 0.78–0.79× (`bench/RESULTS.md`,
//! run at `d729bf8`).
//!
//! `unsafe` is confined to the `x86_*` modules (intrinsics behind `#[target_feature]`, entered only
//! through a token that proves the CPU has the features); the rest forbids it.
#![deny(unsafe_code)]

/// An x86 path's `Cpu::detect` (`Some` only if this CPU has every feature) and its `FEATURES`,
/// from one list of `is_x86_feature_detected!` names.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_features {
    ($cpu:ident, $($f:tt),+) => {
        /// The CPU features this path needs, as `is_x86_feature_detected!` names them.
        pub(super) const FEATURES: &[&str] = &[$($f),+];

        impl $cpu {
            pub(super) fn detect() -> Option<$cpu> {
                ($(is_x86_feature_detected!($f))&&+).then_some($cpu(()))
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
use x86_features;

mod backend;
mod ghash;
mod key;
mod portable;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86_aesni;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86_vaes;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86_vaes512;

#[cfg(test)]
mod tests;

pub use backend::EngineBackend;
pub use key::{GcmKeySchedule, KeyLengthError};

/// The tag length of every job.
pub const TAG_LEN: usize = 16;
/// The IV length of every job (96-bit IVs only).
pub const IV_LEN: usize = 12;

/// An implementation of the engine.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// Pure Rust, bitsliced AES and software GHASH: constant time, slow.
    Portable,
    /// AES-NI + PCLMULQDQ on 128-bit registers.
    AesNi,
    /// VAES + VPCLMULQDQ on 256-bit registers (AVX2).
    Vaes256,
    /// VAES + VPCLMULQDQ on 512-bit registers (AVX-512 F/BW/VL).
    Vaes512,
}

impl Path {
    /// Every path, slowest first.
    pub const ALL: [Path; 4] = [Path::Portable, Path::AesNi, Path::Vaes256, Path::Vaes512];

    /// The name used by `MACSEC_GCM_PATH`.
    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::AesNi => "aesni",
            Path::Vaes256 => "vaes256",
            Path::Vaes512 => "vaes512",
        }
    }

    /// The CPU features this path needs, as `is_x86_feature_detected!` names them (none for
    /// `Portable`).
    pub fn features(self) -> &'static [&'static str] {
        match self {
            Path::Portable => &[],
            #[cfg(target_arch = "x86_64")]
            Path::AesNi => x86_aesni::FEATURES,
            #[cfg(target_arch = "x86_64")]
            Path::Vaes256 => x86_vaes::FEATURES,
            #[cfg(target_arch = "x86_64")]
            Path::Vaes512 => x86_vaes512::FEATURES,
            #[cfg(not(target_arch = "x86_64"))]
            _ => &[],
        }
    }

    /// Parses a `MACSEC_GCM_PATH` value.
    pub fn from_name(name: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One frame to encrypt: `data` is encrypted in place and `tag` is written.
pub struct SealJob<'a> {
    pub key: &'a GcmKeySchedule,
    pub iv: [u8; IV_LEN],
    pub aad: &'a [u8],
    pub data: &'a mut [u8],
    /// Out: the authentication tag, written where it goes (the SecY: the frame's ICV), as each
    /// frame is done.
    pub tag: &'a mut [u8; TAG_LEN],
}

/// One frame to verify and decrypt: `data` is the ciphertext, decrypted in place.
pub struct OpenJob<'a> {
    pub key: &'a GcmKeySchedule,
    pub iv: [u8; IV_LEN],
    pub aad: &'a [u8],
    pub data: &'a mut [u8],
    /// In: the received tag, read where it is (the SecY: the frame's ICV) when the frame's
    /// own tag is done.
    pub tag: &'a [u8; TAG_LEN],
    /// Out: whether the tag verified. When false, `data` holds unspecified bytes.
    pub ok: bool,
}

/// The selected implementation, holding the proof that the CPU supports it.
#[derive(Clone, Copy, Debug)]
enum Imp {
    Portable,
    #[cfg(target_arch = "x86_64")]
    AesNi(x86_aesni::Cpu),
    #[cfg(target_arch = "x86_64")]
    Vaes256(x86_vaes::Cpu),
    #[cfg(target_arch = "x86_64")]
    Vaes512(x86_vaes512::Cpu),
}

/// The batched AES-GCM engine. Cheap to copy; holds no key.
#[derive(Clone, Copy, Debug)]
pub struct Engine {
    imp: Imp,
}

impl Engine {
    /// The fastest path of this CPU, unless `MACSEC_GCM_PATH` names another available one.
    pub fn detect() -> Self {
        let wanted = std::env::var("MACSEC_GCM_PATH").ok().and_then(|v| Path::from_name(v.trim()));
        if let Some(engine) = wanted.and_then(Engine::with_path) {
            return engine;
        }
        Engine::best()
    }

    /// The fastest path of this CPU, ignoring the environment.
    pub fn best() -> Self {
        let available = Engine::available();
        // `available` always holds at least `Portable`, fastest last.
        let path = available.last().copied().unwrap_or(Path::Portable);
        Engine::with_path(path).unwrap_or(Engine { imp: Imp::Portable })
    }

    /// The engine on `path`, or `None` if this CPU lacks the instructions for it.
    pub fn with_path(path: Path) -> Option<Self> {
        let imp = match path {
            Path::Portable => Imp::Portable,
            #[cfg(target_arch = "x86_64")]
            Path::AesNi => Imp::AesNi(x86_aesni::Cpu::detect()?),
            #[cfg(target_arch = "x86_64")]
            Path::Vaes256 => Imp::Vaes256(x86_vaes::Cpu::detect()?),
            #[cfg(target_arch = "x86_64")]
            Path::Vaes512 => Imp::Vaes512(x86_vaes512::Cpu::detect()?),
            #[cfg(not(target_arch = "x86_64"))]
            _ => return None,
        };
        Some(Engine { imp })
    }

    /// Every path this CPU can run, slowest first.
    pub fn available() -> Vec<Path> {
        Path::ALL.into_iter().filter(|p| Engine::with_path(*p).is_some()).collect()
    }

    /// The path this engine runs.
    pub fn path(&self) -> Path {
        match self.imp {
            Imp::Portable => Path::Portable,
            #[cfg(target_arch = "x86_64")]
            Imp::AesNi(_) => Path::AesNi,
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes256(_) => Path::Vaes256,
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes512(_) => Path::Vaes512,
        }
    }

    /// Encrypts every job's data in place and writes its tag.
    pub fn seal_batch(&self, jobs: &mut [SealJob<'_>]) {
        match self.imp {
            Imp::Portable => portable::seal_batch(jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::AesNi(cpu) => x86_aesni::seal_batch(cpu, jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes256(cpu) => x86_vaes::seal_batch(cpu, jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes512(cpu) => x86_vaes512::seal_batch(cpu, jobs),
        }
    }

    /// Verifies every job's tag (into `ok`, constant time) and decrypts its data in place.
    pub fn open_batch(&self, jobs: &mut [OpenJob<'_>]) {
        match self.imp {
            Imp::Portable => portable::open_batch(jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::AesNi(cpu) => x86_aesni::open_batch(cpu, jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes256(cpu) => x86_vaes::open_batch(cpu, jobs),
            #[cfg(target_arch = "x86_64")]
            Imp::Vaes512(cpu) => x86_vaes512::open_batch(cpu, jobs),
        }
    }
}

/// One register's worth of a frame for CTR on the VAES paths: its key, IV, index among the
/// frame's groups of a register's width, and the up to that many octets it covers.
#[cfg(target_arch = "x86_64")]
type Group<'a> = (&'a GcmKeySchedule, [u8; 12], usize, &'a mut [u8]);

/// Groups per CTR batch on the VAES paths: eight registers.
#[cfg(target_arch = "x86_64")]
const TAIL_WAYS: usize = 8;

/// The tails of a window's frames (the octets after what the stitched loop covered, given with
/// each frame; all of a small frame) cut into groups of `G` octets, handed to `flush` a batch at a
/// time: up to eight consecutive groups of one key, across frame boundaries, so that a burst of
/// small frames keeps as many AES chains in flight as one large frame. `flush` gets the batch
/// filled from its start and leaves it as it likes. A plain loop, inlined into each path: as a
/// `flat_map` it was no longer inlined once the stitched loops grew.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tail_batches<'a, const G: usize>(
    frames: impl Iterator<Item = (&'a GcmKeySchedule, &'a [u8; 12], &'a mut [u8], usize)>,
    mut flush: impl FnMut(&mut [Option<Group<'a>>; TAIL_WAYS]),
) {
    let mut batch: [Option<Group<'a>>; TAIL_WAYS] = Default::default();
    let mut n = 0;
    for (key, iv, data, bulk) in frames {
        for (g, chunk) in data[bulk..].chunks_mut(G).enumerate() {
            if n == TAIL_WAYS || (n > 0 && batch[0].as_ref().is_some_and(|b| !std::ptr::eq(b.0, key))) {
                flush(&mut batch);
                batch = Default::default();
                n = 0;
            }
            batch[n] = Some((key, *iv, bulk / G + g, chunk));
            n += 1;
        }
    }
    if n > 0 {
        flush(&mut batch);
    }
}

/// `dst.copy_from_slice(src)` for the partial blocks of a frame (up to 32 octets) as two
/// fixed-size, possibly overlapping moves: a variable-length `copy_from_slice` is a `memcpy`
/// call, several per small frame. Longer slices, or slices of different lengths (never passed),
/// take `copy_from_slice` / copy nothing.
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if dst.len() != n {
        return;
    }
    fn pair<const W: usize>(dst: &mut [u8], src: &[u8]) {
        // W <= n: both ends are in bounds, and the overlap is written twice with the same octets.
        let n = src.len();
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<W>(), src.first_chunk::<W>()) {
            *d = *s;
        }
        if let (Some(d), Some(s)) = (dst[n - W..].first_chunk_mut::<W>(), src[n - W..].first_chunk::<W>()) {
            *d = *s;
        }
    }
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => pair::<4>(dst, src),
        8..=15 => pair::<8>(dst, src),
        16..=32 => pair::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Constant-time tag comparison: no early exit on the first differing octet. One 128-bit XOR:
/// no branch depends on where the tags differ (a fold over the octets cost a dozen
/// instructions per frame).
#[inline]
pub(crate) fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    let diff = u128::from_ne_bytes(*a) ^ u128::from_ne_bytes(*b);
    std::hint::black_box(diff) == 0
}
