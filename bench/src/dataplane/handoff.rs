//! What this host charges to move a frame from one CPU to another, without DPDK: one thread on
//! each CPU, passing 1518-octet frames through a ring of 2048 buffers of 2048 octets (the shape
//! of the memif rings between the generator and the dataplane, `rsize=11`). The receiving
//! thread reads every octet, as memif's copy does.
//!
//! On the 2-vCPU host of `bench/RESULTS.md` this costs 50-70 ns per frame most of the time and
//! 300-370 ns in stretches of seconds to minutes (its "slow mode"), in which the memif rows fall
//! to 0.4x or less. The bench measures it just before and just after every memif run and every
//! 2-worker capacity run, so that each run says which mode it started and ended in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// Octets per frame handed over.
pub const FRAME: usize = 1518;
const SLOTS: usize = 2048;
/// One ring slot, in 8-octet words (2048 octets).
const SLOT_WORDS: usize = 2048 / 8;
const FRAME_WORDS: usize = FRAME.div_ceil(8);
const FRAMES: u64 = 100_000;
/// Either thread gives up when the other makes no progress for this long (a CPU that is
/// offline or taken by a real-time task).
const STALL: Duration = Duration::from_secs(2);

const OTHER_STOPPED: &str = "the thread on the other CPU stopped";

/// A position in the ring on a cache line of its own, so that the two positions and the
/// frames do not share lines.
#[repr(align(64))]
#[derive(Default)]
struct Position(AtomicU64);

struct Ring {
    slots: Vec<AtomicU64>,
    /// Frames written.
    head: Position,
    /// Frames read.
    tail: Position,
    /// One side gave up: the other stops waiting for it.
    failed: AtomicBool,
}

impl Ring {
    fn give_up_on_error<T>(&self, r: Result<T, String>) -> Result<T, String> {
        if r.is_err() {
            self.failed.store(true, Ordering::Release);
        }
        r
    }

    /// Spins until `ready`, unless the other side fails or makes no progress for [`STALL`].
    /// The clock is read only once it has to wait, not for every frame.
    fn wait_until(&self, ready: impl Fn() -> bool) -> Result<(), String> {
        if ready() {
            return Ok(());
        }
        let since = Instant::now();
        while !ready() {
            if self.failed.load(Ordering::Acquire) {
                return Err(OTHER_STOPPED.into());
            }
            if since.elapsed() > STALL {
                return Err(format!("the thread on the other CPU made no progress for {STALL:?}"));
            }
            std::hint::spin_loop();
        }
        Ok(())
    }
}

/// The value of word `k` of frame `i`: the reader checks the sum, so every word is really read.
fn word(i: u64, k: usize) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k as u64
}

/// Nanoseconds per 1518-octet frame handed from a thread on CPU `from` to one on CPU `to`, over
/// 100 000 frames (tens of milliseconds).
pub fn handoff_ns(from: usize, to: usize) -> Result<f64, String> {
    let ring = Ring {
        slots: (0..SLOTS * SLOT_WORDS).map(|_| AtomicU64::new(0)).collect(),
        head: Position::default(),
        tail: Position::default(),
        failed: AtomicBool::new(false),
    };
    std::thread::scope(|s| {
        // Both on threads of their own: the caller keeps the CPUs it had.
        let writer = s.spawn(|| ring.give_up_on_error(write_frames(&ring, from)));
        let reader = s.spawn(|| ring.give_up_on_error(read_frames(&ring, to)));
        let read = reader.join().map_err(|_| "the reading thread panicked".to_string())?;
        let written = writer.join().map_err(|_| "the writing thread panicked".to_string())?;
        let (elapsed, sum) = match (written, read) {
            (Ok(()), Ok(r)) => r,
            // The side that failed first says why; the other only stopped waiting for it.
            (Err(w), Err(r)) => return Err(if w == OTHER_STOPPED { r } else { w }),
            (Err(e), Ok(_)) | (Ok(()), Err(e)) => return Err(e),
        };
        let want = (0..FRAMES).flat_map(|i| (0..FRAME_WORDS).map(move |k| word(i, k))).fold(0u64, u64::wrapping_add);
        if sum != want {
            return Err("the frames arrived changed".into());
        }
        Ok(elapsed.as_nanos() as f64 / FRAMES as f64)
    })
}

/// Runs `run` between two probes from CPU `from` to CPU `to` (`None` where one failed, said on
/// stderr).
pub fn around<T>(from: usize, to: usize, run: impl FnOnce() -> T) -> (T, [Option<f64>; 2]) {
    let probe = || handoff_ns(from, to).map_err(|e| eprintln!("dataplane: handoff probe: {e}")).ok();
    let before = probe();
    let out = run();
    (out, [before, probe()])
}

/// Probes as `before/after` per run, in ns (`?` where one failed).
pub fn label(runs: &[[Option<f64>; 2]]) -> String {
    let ns = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0}"));
    runs.iter().map(|[a, b]| format!("{}/{}", ns(*a), ns(*b))).collect::<Vec<_>>().join(", ")
}

fn pin(cpu: usize) -> Result<(), String> {
    let mut set = CpuSet::new();
    set.set(cpu).map_err(|e| format!("CPU {cpu}: {e}"))?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| format!("CPU {cpu}: {e}"))
}

fn write_frames(ring: &Ring, cpu: usize) -> Result<(), String> {
    pin(cpu)?;
    for i in 0..FRAMES {
        // Room for frame i once the reader has taken frame i - SLOTS.
        ring.wait_until(|| i.saturating_sub(ring.tail.0.load(Ordering::Acquire)) < SLOTS as u64)?;
        let slot = &ring.slots[(i as usize % SLOTS) * SLOT_WORDS..][..FRAME_WORDS];
        for (k, w) in slot.iter().enumerate() {
            w.store(word(i, k), Ordering::Relaxed);
        }
        ring.head.0.store(i + 1, Ordering::Release);
    }
    Ok(())
}

/// The time from the first frame's arrival to the last one read, and the sum of all words.
fn read_frames(ring: &Ring, cpu: usize) -> Result<(Duration, u64), String> {
    pin(cpu)?;
    let mut sum = 0u64;
    let mut start = None;
    for i in 0..FRAMES {
        ring.wait_until(|| ring.head.0.load(Ordering::Acquire) > i)?;
        start.get_or_insert_with(Instant::now);
        let slot = &ring.slots[(i as usize % SLOTS) * SLOT_WORDS..][..FRAME_WORDS];
        sum = slot.iter().fold(sum, |s, w| s.wrapping_add(w.load(Ordering::Relaxed)));
        ring.tail.0.store(i + 1, Ordering::Release);
    }
    Ok((start.map_or(Duration::ZERO, |s| s.elapsed()), sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sched::sched_getaffinity;

    #[test]
    fn hands_frames_between_two_cpus_or_within_one() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let ns = handoff_ns(0, cpus.min(2) - 1).unwrap();
        // A frame takes some time, and less than the stall limit.
        assert!(ns > 0.0 && ns < STALL.as_nanos() as f64, "{ns}");
    }

    #[test]
    fn the_caller_keeps_its_cpus() {
        let before = sched_getaffinity(Pid::from_raw(0)).unwrap();
        handoff_ns(0, 0).unwrap();
        assert_eq!(sched_getaffinity(Pid::from_raw(0)).unwrap(), before);
    }

    #[test]
    fn around_runs_between_the_probes() {
        let (out, [before, after]) = around(0, 4096, || 7);
        assert_eq!((out, before, after), (7, None, None));
        assert_eq!(label(&[[Some(70.4), None], [Some(331.0), Some(329.6)]]), "70/?, 331/330");
    }

    #[test]
    fn a_cpu_that_does_not_exist_is_an_error_on_either_side() {
        let e = handoff_ns(0, 4096).unwrap_err();
        assert!(e.contains("CPU 4096"), "{e}");
        let e = handoff_ns(4096, 0).unwrap_err();
        assert!(e.contains("CPU 4096"), "{e}");
    }

    /// The bench's main thread is pinned to one CPU (EAL's `-l`) when it probes: the probe's
    /// threads still go where they are told.
    #[test]
    fn a_caller_pinned_to_one_cpu_can_probe_another() {
        std::thread::spawn(|| {
            pin(0).unwrap();
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            handoff_ns(0, cpus.min(2) - 1)
        })
        .join()
        .unwrap()
        .unwrap();
    }
}
