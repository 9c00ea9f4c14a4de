//! The scaling part: worker cores needed for 100G and 400G per direction, from the per-core
//! rates measured in this run, and the measured 1 → 2 worker speed-up of one SA.
//!
//! Line rate in frames per second on the wire side: `G / ((L + 32 + 20) × 8)` for a frame of
//! `L` octets (MACsec adds a 16-octet SecTAG with SCI and a 16-octet ICV; preamble and
//! inter-frame gap add 20). The wire side is the tighter one, so this is the rate each
//! direction has to sustain.

use crate::dataplane::{DataplaneReport, SetupResult};
use crate::secy::SecyResult;

#[derive(Debug, serde::Serialize)]
pub struct CoresNeeded {
    /// Where the per-core rate comes from.
    pub source: String,
    pub direction: String,
    pub size: String,
    pub per_core_mpps: f64,
    pub line_mpps_100g: f64,
    pub cores_100g: f64,
    pub line_mpps_400g: f64,
    pub cores_400g: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct SpeedUp {
    pub source: String,
    pub direction: String,
    pub size: String,
    pub one_worker_mpps: f64,
    pub two_workers_mpps: f64,
    pub speedup: f64,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Scaling {
    pub cores: Vec<CoresNeeded>,
    pub speedup: Vec<SpeedUp>,
}

/// Mean frame length of a size label ("64", "1518", "IMIX").
pub fn mean_len(size: &str) -> Option<f64> {
    match size {
        "IMIX" => Some((7.0 * 64.0 + 4.0 * 594.0 + 1518.0) / 12.0),
        s => s.parse().ok(),
    }
}

pub fn line_mpps(gbps: f64, size: &str) -> Option<f64> {
    mean_len(size).map(|l| gbps * 1e9 / ((l + 32.0 + 20.0) * 8.0) / 1e6)
}

fn needed(source: &str, direction: &str, size: &str, per_core_mpps: f64) -> Option<CoresNeeded> {
    let (l100, l400) = (line_mpps(100.0, size)?, line_mpps(400.0, size)?);
    Some(CoresNeeded {
        source: source.into(),
        direction: direction.into(),
        size: size.into(),
        per_core_mpps,
        line_mpps_100g: l100,
        cores_100g: (l100 / per_core_mpps).ceil(),
        line_mpps_400g: l400,
        cores_400g: (l400 / per_core_mpps).ceil(),
    })
}

const SIZES: [&str; 3] = ["64", "1518", "IMIX"];

pub fn compute(report: &DataplaneReport, secy: &[SecyResult]) -> Scaling {
    let dp = &report.setups;
    let mut s = Scaling::default();
    for c in report.capacity.iter().filter(|c| c.error.is_none() && c.workers == 1) {
        let src = format!("dataplane capacity ({} in, null out), 1 worker", c.input);
        s.cores.extend(needed(&src, &c.direction, &c.size, c.mpps));
        let two = report.capacity.iter().find(|d| {
            d.error.is_none() && d.workers == 2 && d.direction == c.direction && d.size == c.size && d.input == c.input
        });
        if let Some(d) = two {
            s.speedup.push(SpeedUp {
                source: format!("capacity ({} in, null out; one worker lcore per CPU)", c.input),
                direction: c.direction.clone(),
                size: c.size.clone(),
                one_worker_mpps: c.mpps,
                two_workers_mpps: d.mpps,
                speedup: d.mpps / c.mpps,
            });
        }
    }
    for (dir, protect) in [("protect", true), ("validate", false)] {
        let one = dp.iter().find(|r| r.setup.protect == protect && r.setup.workers == 1);
        let two = dp.iter().find(|r| r.setup.protect == protect && r.setup.workers == 2);
        let max = |r: Option<&SetupResult>, size: &str| {
            r.and_then(|r| r.phases.iter().find(|p| p.phase == "max" && p.size == size)).map(|p| p.mpps)
        };
        for size in SIZES {
            if let Some(m) = max(one, size) {
                s.cores.extend(needed("dataplane end to end, per worker", dir, size, m));
            }
            // The SecY pipeline without I/O: the best backend measured (the engine once it exists).
            let best = secy
                .iter()
                .filter(|r| r.stage == dir && r.size == size && r.suite == "gcm-aes-256" && r.error.is_none())
                .max_by(|a, b| a.rate.mpps.total_cmp(&b.rate.mpps));
            if let Some(b) = best {
                s.cores.extend(needed(&format!("secy pipeline, {}", b.backend), dir, size, b.rate.mpps));
            }
            if let (Some(a), Some(b)) = (max(one, size), max(two, size)) {
                s.speedup.push(SpeedUp {
                    source: "end to end over memif (2nd worker shares CPU 0 with the generator)".into(),
                    direction: dir.into(),
                    size: size.into(),
                    one_worker_mpps: a,
                    two_workers_mpps: b,
                    speedup: b / a,
                });
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_rates() {
        // 100G of 64-octet frames with MACsec: 100e9 / (116 * 8) = 107.8 Mpps.
        assert!((line_mpps(100.0, "64").unwrap() - 107.76).abs() < 0.01);
        assert!((line_mpps(400.0, "1518").unwrap() - 31.85).abs() < 0.01);
        assert!(line_mpps(100.0, "big").is_none());
    }
}
