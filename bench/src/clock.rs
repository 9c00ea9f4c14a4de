//! Time and clock: wall time from `Instant`, and the core clock estimated from a dependent
//! chain of known latency, so that seconds convert to core cycles without a PMU (this VM's
//! `perf stat` reports cycles and instructions as "not supported").

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Cycles per step of [`chain`]: a 64-bit `imul` (3 cycles) feeding a `rol` (1 cycle) on every
/// x86 core of the last decade (Intel since Sandy Bridge, AMD since Zen).
const CYCLES_PER_STEP: f64 = 4.0;

fn chain(steps: u64, m: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15u64);
    for _ in 0..steps {
        x = x.wrapping_mul(m).rotate_left(1);
    }
    x
}

/// The core clock in Hz: the fastest of 64 short timed runs (about 1 ms each, so that some
/// run between two preemptions on a busy machine) of a dependent multiply chain.
pub fn core_hz() -> f64 {
    let steps = 1_000_000;
    let m = black_box(0xd6e8_feb8_6659_fd93u64);
    chain(steps * 20, m);
    (0..64)
        .map(|_| {
            let t = Instant::now();
            black_box(chain(steps, m));
            steps as f64 * CYCLES_PER_STEP / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Runs `f` (which reports the bytes and frames it processed) for at least `d` and returns
/// (seconds, bytes, frames).
pub fn timed(d: Duration, mut f: impl FnMut() -> (u64, u64)) -> (f64, u64, u64) {
    let (mut bytes, mut frames) = f(); // warm-up, not counted
    let _ = (bytes, frames);
    (bytes, frames) = (0, 0);
    let t = Instant::now();
    loop {
        for _ in 0..8 {
            let (b, n) = f();
            bytes += b;
            frames += n;
        }
        let e = t.elapsed();
        if e >= d {
            return (e.as_secs_f64(), bytes, frames);
        }
    }
}

/// The median (the mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A throughput sample.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Rate {
    pub gbps: f64,
    pub mpps: f64,
    pub cycles_per_byte: f64,
    pub cycles_per_frame: f64,
}

impl Rate {
    pub fn new(secs: f64, bytes: u64, frames: u64, core_hz: f64) -> Rate {
        let cycles = secs * core_hz;
        Rate {
            gbps: bytes as f64 * 8.0 / secs / 1e9,
            mpps: frames as f64 / secs / 1e6,
            cycles_per_byte: cycles / bytes.max(1) as f64,
            cycles_per_frame: cycles / frames.max(1) as f64,
        }
    }

    /// The per-field median of several samples.
    pub fn median_of(samples: &[Rate]) -> Rate {
        let f = |g: fn(&Rate) -> f64| median(&samples.iter().map(g).collect::<Vec<_>>());
        Rate {
            gbps: f(|r| r.gbps),
            mpps: f(|r| r.mpps),
            cycles_per_byte: f(|r| r.cycles_per_byte),
            cycles_per_frame: f(|r| r.cycles_per_frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn rate_units() {
        let r = Rate::new(1.0, 1_000_000_000, 1_000_000, 2e9);
        assert_eq!(r.gbps, 8.0);
        assert_eq!(r.mpps, 1.0);
        assert_eq!(r.cycles_per_byte, 2.0);
    }
}
