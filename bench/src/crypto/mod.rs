//! The crypto part: AES-GCM seal and open of batches of frames, one core, every contender on
//! the same frames, runs interleaved across contenders so that machine noise hits all of them
//! alike; medians of the runs, ratios taken from the same invocation.

pub mod ipsec_mb;
pub mod libs;
pub mod ours;
pub mod work;

use std::time::Duration;

use crate::clock::{timed, Rate};
use crate::sizes::{Size, BATCH};
use work::{Direction, Work};

/// An AES-GCM implementation under test.
pub trait Contender {
    fn name(&self) -> String;
    /// Our own engine (the ratio targets are about these rows).
    fn ours(&self) -> bool {
        false
    }
    /// A runner owning its key schedule and a private copy of the frames.
    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String>;
}

/// Seals or opens every frame of its batch once per call.
pub trait Runner {
    fn run(&mut self) -> Result<(), &'static str>;
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct CryptoResult {
    pub implementation: String,
    pub ours: bool,
    pub direction: Direction,
    pub key_bits: usize,
    pub size: String,
    #[serde(flatten)]
    pub rate: Rate,
    pub runs_gbps: Vec<f64>,
    pub error: Option<String>,
}

pub struct Options {
    pub sizes: Vec<Size>,
    pub key_bits: Vec<usize>,
    pub runs: usize,
    pub duration: Duration,
    pub core_hz: f64,
}

/// Every contender × direction × key size × size point.
pub fn run(contenders: &[Box<dyn Contender>], o: &Options) -> Vec<CryptoResult> {
    let mut out = Vec::new();
    for direction in [Direction::Encrypt, Direction::Decrypt] {
        for &bits in &o.key_bits {
            for &size in &o.sizes {
                let w = Work::new(bits, direction, size, BATCH, 0x5eed ^ bits as u64);
                eprintln!("crypto: {direction:?} AES-{bits} {} B", size.label());
                out.extend(measure_point(contenders, &w, o));
            }
        }
    }
    out
}

pub fn measure_point(contenders: &[Box<dyn Contender>], w: &Work, o: &Options) -> Vec<CryptoResult> {
    let mut runners: Vec<Result<Box<dyn Runner + '_>, String>> = contenders.iter().map(|c| c.prepare(w)).collect();
    let mut samples: Vec<Vec<Rate>> = vec![Vec::new(); contenders.len()];
    let mut errors: Vec<Option<String>> = runners.iter().map(|r| r.as_ref().err().cloned()).collect();
    let (bytes, frames) = (w.bytes(), w.frames.len() as u64);
    for _ in 0..o.runs {
        for (i, r) in runners.iter_mut().enumerate() {
            let Ok(r) = r else { continue };
            let mut failure = None;
            let (secs, b, n) = timed(o.duration, || {
                if let Err(e) = r.run() {
                    failure = Some(e);
                }
                (bytes, frames)
            });
            if let Some(e) = failure {
                errors[i] = Some(e.to_string());
            }
            samples[i].push(Rate::new(secs, b, n, o.core_hz));
        }
    }
    contenders
        .iter()
        .zip(samples)
        .zip(errors)
        .map(|((c, s), error)| CryptoResult {
            implementation: c.name(),
            ours: c.ours(),
            direction: w.direction,
            key_bits: w.key.len() * 8,
            size: w.label.clone(),
            rate: if s.is_empty() { Rate::new(f64::NAN, 0, 0, o.core_hz) } else { Rate::median_of(&s) },
            runs_gbps: s.iter().map(|r| r.gbps).collect(),
            error,
        })
        .collect()
}

/// The external contenders the targets compare against (issue 7: the fastest of these).
pub const REFERENCES: [&str; 3] = ["ring", "aws-lc-rs", "ipsec-mb (cryptodev)"];
