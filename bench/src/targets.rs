//! The targets of issue 7, judged from this run's numbers (same-run ratios).

use crate::crypto::{CryptoResult, REFERENCES};
use crate::dataplane::DataplaneReport;
use crate::secy::SecyResult;

/// How a row stands to the issue's text ("at 1500 B AES-256 unless said").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A target as the issue words it.
    Issue,
    /// A row this bench adds beyond the issue's words: the SecY at 64 B and IMIX (the issue's
    /// SecY target is at 1500 B), and the dataplane without a generator (the issue's per-worker
    /// rows have one on the other core).
    Beyond,
    /// 2 workers against 1: the issue asks for 1.8x on a machine with the cores for it, and on
    /// this one for the design and a test that proves the order is kept.
    MoreCores,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Issue => "issue",
            Scope::Beyond => "beyond",
            Scope::MoreCores => "cores",
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Target {
    pub target: String,
    pub value: f64,
    pub goal: f64,
    pub met: bool,
    pub scope: Scope,
    pub detail: String,
}

fn t(target: String, value: f64, goal: f64, detail: String) -> Target {
    Target { target, value, goal, met: value >= goal, scope: Scope::Issue, detail }
}

impl Target {
    fn scope(self, scope: Scope) -> Target {
        Target { scope, ..self }
    }

    /// Met only if the frames the row counts were checked: `(ok, bad)` of the returning frames
    /// the generator validated (protect) or compared (validate). A fast wrong output is a miss.
    fn verified(self, (ok, bad): (u64, u64)) -> Target {
        if ok > 0 && bad == 0 {
            return self;
        }
        Target { met: false, detail: format!("{}; output not verified: {ok} ok, {bad} bad", self.detail), ..self }
    }
}

pub fn judge(crypto: &[CryptoResult], secy: &[SecyResult], dp: &DataplaneReport) -> Vec<Target> {
    let mut out = Vec::new();
    engine_vs_references(crypto, &mut out);
    secy_vs_engine(secy, &mut out);
    dataplane_vs_engine(secy, dp, &mut out);
    out
}

/// Our fastest path against the fastest of ring, aws-lc-rs and ipsec-mb, AES-256.
fn engine_vs_references(crypto: &[CryptoResult], out: &mut Vec<Target>) {
    for (size, goal) in [("1500", 1.0), ("64", 1.3), ("IMIX", 1.3)] {
        for dir in ["encrypt", "decrypt"] {
            let at = |r: &&CryptoResult| {
                r.key_bits == 256
                    && r.size == size
                    && format!("{:?}", r.direction).to_lowercase() == dir
                    && r.error.is_none()
            };
            let best = |ours: bool| {
                crypto
                    .iter()
                    .filter(at)
                    .filter(|r| if ours { r.ours } else { REFERENCES.contains(&r.implementation.as_str()) })
                    .max_by(|a, b| a.rate.gbps.total_cmp(&b.rate.gbps))
            };
            if let (Some(o), Some(r)) = (best(true), best(false)) {
                let spread = run_ratios(&o.runs_gbps, &r.runs_gbps)
                    .map_or(String::new(), |(lo, hi)| format!("; run by run {lo:.2}-{hi:.2}"));
                out.push(t(
                    format!("engine {dir} AES-256 {size} B vs fastest reference"),
                    o.rate.gbps / r.rate.gbps,
                    goal,
                    format!(
                        "{} {:.1} Gbps vs {} {:.1} Gbps{spread}",
                        o.implementation, o.rate.gbps, r.implementation, r.rate.gbps
                    ),
                ));
            }
        }
    }
}

/// The lowest and highest of the ratios `a[i] / b[i]`: the contenders of a point take turns run
/// by run, so run `i` of each was measured side by side. How far the host's noise moves a ratio
/// whose medians the target compares.
fn run_ratios(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let r: Vec<f64> = a.iter().zip(b).filter(|(x, y)| x.is_finite() && **y > 0.0).map(|(x, y)| x / y).collect();
    let lo = r.iter().copied().reduce(f64::min)?;
    Some((lo, r.iter().copied().fold(lo, f64::max)))
}

/// SecY protect/validate on the engine against the same engine path raw, GCM-AES-256.
fn secy_vs_engine(secy: &[SecyResult], out: &mut Vec<Target>) {
    for r in secy.iter().filter(|r| r.backend.starts_with("EngineBackend") && r.suite == "gcm-aes-256") {
        if r.size == "1518" || r.size == "64" || r.size == "IMIX" {
            let row = t(
                format!("secy {} {} B vs raw engine", r.stage, r.size),
                r.ratio_vs_raw,
                0.9,
                format!("{:.2} Mpps vs {} {:.2} Mpps", r.rate.mpps, r.raw_implementation, r.raw_mpps),
            );
            out.push(if r.size == "1518" { row } else { row.scope(Scope::Beyond) });
        }
    }
}

/// One worker end to end against the raw engine on the same frames (1518 B), and 64 B in Mpps;
/// one SA's decrypt with 2 workers against 1.
fn dataplane_vs_engine(secy: &[SecyResult], report: &DataplaneReport, out: &mut Vec<Target>) {
    let dp = &report.setups;
    // The best input for the direction: null (no copy) where there is one, else pcap.
    let capw = |dir: &str, workers: usize, size: &str| {
        report
            .capacity
            .iter()
            .filter(|c| c.direction == dir && c.workers == workers && c.size == size && c.error.is_none())
            .max_by(|a, b| a.mpps.total_cmp(&b.mpps))
    };
    let cap = |dir: &str, size: &str| capw(dir, 1, size).map(|c| c.mpps);
    // The max phase's Mpps, the setup's handoff probes (whether its runs had the host's slow
    // mode) and the phase's checked frames.
    let max = |protect: bool, workers: usize, size: &str| {
        let r = dp.iter().find(|r| r.setup.protect == protect && r.setup.workers == workers)?;
        let p = r.phases.iter().find(|p| p.phase == "max" && p.size == size)?;
        Some((p.mpps, crate::dataplane::handoff::label(&r.handoff_ns), (p.checked_ok, p.checked_bad)))
    };
    for (stage, protect) in [("protect", true), ("validate", false)] {
        let raw = secy.iter().find(|r| {
            r.backend.starts_with("EngineBackend") && r.suite == "gcm-aes-256" && r.size == "1518" && r.stage == stage
        });
        if let (Some((d, h, checked)), Some(raw)) = (max(protect, 1, "1518"), raw) {
            out.push(
                t(
                    format!("dataplane {stage} 1518 B per worker vs raw engine"),
                    d / raw.raw_mpps,
                    0.75,
                    format!(
                        "{d:.2} Mpps vs {} {:.2} Mpps on the same User Data; handoff {h} ns",
                        raw.raw_implementation, raw.raw_mpps
                    ),
                )
                .verified(checked),
            );
        }
        if let (Some(c), Some(raw)) = (cap(stage, "1518"), raw) {
            out.push(
                t(
                    format!("dataplane capacity {stage} 1518 B vs raw engine"),
                    c / raw.raw_mpps,
                    0.75,
                    format!("{c:.2} Mpps (no generator) vs {} {:.2} Mpps", raw.raw_implementation, raw.raw_mpps),
                )
                .scope(Scope::Beyond),
            );
        }
        if let Some((d, h, checked)) = max(protect, 1, "64") {
            let detail = format!("{d:.2} Mpps over memif; handoff {h} ns");
            out.push(t(format!("dataplane {stage} 64 B per worker, Mpps"), d, 15.0, detail).verified(checked));
        }
        if let Some(c) = cap(stage, "64") {
            out.push(
                t(format!("dataplane capacity {stage} 64 B, Mpps"), c, 15.0, format!("{c:.2} Mpps (no generator)"))
                    .scope(Scope::Beyond),
            );
        }
    }
    for size in ["64", "1518", "IMIX"] {
        if let (Some(one), Some(two)) = (capw("validate", 1, size), capw("validate", 2, size)) {
            let (a, b) = (one.mpps, two.mpps);
            out.push(
                t(
                    format!("validate one SA {size} B, 2 workers vs 1 (capacity)"),
                    b / a,
                    1.8,
                    format!(
                        "{a:.2} -> {b:.2} Mpps, one worker lcore per CPU, service lcore shares CPU 0; handoff {} ns",
                        crate::dataplane::handoff::label(&two.handoff_ns)
                    ),
                )
                .scope(Scope::MoreCores),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_met_only_with_its_output_checked_and_right() {
        let row = || t("row".into(), 2.0, 1.0, "fast".into());
        assert!(row().verified((64, 0)).met);
        for checked in [(0, 0), (63, 1), (0, 64)] {
            let r = row().verified(checked);
            assert!(!r.met, "{checked:?}");
            assert!(r.detail.contains("output not verified"), "{}", r.detail);
        }
    }

    #[test]
    fn run_ratios_pair_the_runs_in_order() {
        assert_eq!(run_ratios(&[60.0, 70.0, 30.0], &[60.0, 35.0, 40.0]), Some((0.75, 2.0)));
        // A run without a reference figure is left out; nothing to pair gives nothing.
        assert_eq!(run_ratios(&[50.0, 80.0], &[0.0, 40.0]), Some((2.0, 2.0)));
        assert_eq!(run_ratios(&[50.0], &[]), None);
        assert_eq!(run_ratios(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn only_the_issues_own_rows_are_scoped_issue() {
        let row = |name: &str| t(name.into(), 1.0, 1.0, String::new());
        assert_eq!(row("x").scope, Scope::Issue);
        assert_eq!(row("x").scope(Scope::Beyond).scope, Scope::Beyond);
        let summary = crate::report::targets_table(&[
            row("a"),
            t("b".into(), 0.9991, 1.0, String::new()),
            row("c").scope(Scope::Beyond),
            t("d".into(), 0.5, 1.0, String::new()).scope(Scope::MoreCores),
        ]);
        assert!(summary.contains("as the issue words them: 1 of 2 met"), "{summary}");
        assert!(summary.contains("MISS issue  b") && summary.contains("   0.99 (goal  1.00)"), "{summary}");
        assert!(summary.contains("beyond the issue's words: 1 of 1 met"), "{summary}");
        assert!(summary.contains("need more cores than this machine has: 0 of 1 met"), "{summary}");
    }
}
