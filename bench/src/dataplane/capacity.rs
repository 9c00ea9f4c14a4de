//! What one worker can do when the generator is not the limit: at 64 B the memif generator tops
//! out near 4.5 Mpps on its CPU (half of it in the memif PMD's copies) while the worker polls
//! half idle (perf). So the capacity phases give the dataplane null ports (`net_null`), which
//! cost next to nothing, and read its own port counters:
//! - protect: host port `net_null0,size=L` makes L-octet frames as fast as the worker polls,
//!   wire port `net_null1,no-rx=1` discards them; no generator at all.
//! - validate: the generator only sends its pre-encrypted frames into the wire port (memif,
//!   `--tx-only`); host port `net_null0,no-rx=1` discards the decrypted frames.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{command, metrics_port, scrape, wait_for, worker_cpu, write_config, DpOptions, Reaper, Setup};
use crate::sizes::Size;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Capacity {
    pub direction: String,
    pub size: String,
    /// Frames the dataplane sent out of its output port per second, median of the runs.
    pub mpps: f64,
    /// Octets of those frames (as sent: with SecTAG and ICV for protect).
    pub gbps: f64,
    pub worker_cpu_share: f64,
    pub runs_mpps: Vec<f64>,
    pub error: Option<String>,
}

/// Protect at 64 and 1518 B (a null port makes one size), validate at 64, 1518 B and IMIX.
pub fn run(bin: &Path, o: &DpOptions) -> Vec<Capacity> {
    let mut out = Vec::new();
    let points = [(true, Size::Fixed(64)), (true, Size::Fixed(1518)), (false, Size::Fixed(64))]
        .into_iter()
        .chain([(false, Size::Fixed(1518)), (false, Size::Imix)]);
    for (k, (protect, size)) in points.enumerate() {
        let dir = if protect { "protect" } else { "validate" };
        eprintln!("dataplane: capacity {dir} {} B", size.label());
        let (mut runs, mut shares, mut gbps, mut error) = (Vec::new(), Vec::new(), Vec::new(), None);
        for r in 0..o.runs {
            match once(bin, protect, size, o, 500 + k * 10 + r) {
                Ok((mpps, g, share)) => {
                    runs.push(mpps);
                    gbps.push(g);
                    shares.push(share);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let med = |v: &[f64]| crate::clock::median(v);
        out.push(Capacity {
            direction: dir.into(),
            size: size.label(),
            mpps: med(&runs),
            gbps: med(&gbps),
            worker_cpu_share: med(&shares),
            runs_mpps: runs,
            error,
        });
    }
    out
}

fn once(bin: &Path, protect: bool, size: Size, o: &DpOptions, n: usize) -> Result<(f64, f64, f64), String> {
    let dir = std::env::temp_dir().join(format!("macsec-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let r = once_in(bin, protect, size, o, n, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn once_in(
    bin: &Path,
    protect: bool,
    size: Size,
    o: &DpOptions,
    n: usize,
    dir: &Path,
) -> Result<(f64, f64, f64), String> {
    let sak = "42".repeat(32);
    let setup = Setup { name: "capacity".into(), protect, workers: 1, lcores: "0@0,1@1".into(), rekey: false };
    let memif = |role: &str| {
        format!("net_memif1,role={role},id=0,socket={}/wire.sock,socket-abstract=no,rsize=11", dir.display())
    };
    let len = match size {
        Size::Fixed(l) => l,
        Size::Imix => 0,
    };
    let (host, wire) = if protect {
        (format!("net_null0,size={len}"), "net_null1,no-rx=1".to_string())
    } else {
        ("net_null0,no-rx=1".to_string(), memif("client"))
    };
    let cfg = write_config(dir, &setup, n, &sak, &host, &wire)?;
    let _gen = if protect {
        None
    } else {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut g = command(o.realtime, &me);
        g.args(["gen", "--cpu", &o.gen_cpu.to_string(), "--host", "none", "--wire", &memif("server")])
            .args(["--mode", "validate", "--tx-only", "--sizes", &size.label().to_lowercase()])
            .args(["--secs", &(o.secs * 2.0 + 10.0).to_string(), "--suite", "gcm-aes-256", "--sak", &sak]);
        let g = Reaper(g.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| e.to_string())?);
        wait_for(&dir.join("wire.sock"), &dir.join("wire.sock"))?;
        Some(g)
    };
    let dp = Reaper(
        command(o.realtime, bin)
            .args(["--config", &cfg.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let port = metrics_port(n);
    let out_port = if protect { "wire" } else { "host" };
    // Up, then a warm-up second, then the measured interval between two scrapes.
    let t = Instant::now();
    while scrape(port).is_none() {
        if t.elapsed() > Duration::from_secs(15) {
            return Err("the dataplane's metrics endpoint did not come up within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (p0, t0, w0) = (counter(port, "packets", out_port), Instant::now(), worker_cpu(dp.0.id()).iter().sum::<f64>());
    std::thread::sleep(Duration::from_secs_f64(o.secs));
    let (p1, dt) = (counter(port, "packets", out_port), t0.elapsed().as_secs_f64());
    let share = (worker_cpu(dp.0.id()).iter().sum::<f64>() - w0) / dt;
    drop(dp);
    if p1 <= p0 {
        return Err(format!("the dataplane sent nothing on its {out_port} port"));
    }
    let mpps = (p1 - p0) / dt / 1e6;
    // net_null counts no octets: frames out are L + 32 (protect) or L (validate) octets.
    let len = crate::scaling::mean_len(&size.label()).unwrap_or(0.0) + if protect { 32.0 } else { 0.0 };
    Ok((mpps, mpps * len * 8.0 / 1e3, share))
}

/// `macsec_port_tx_<what>_total` of one port, summed over its queues.
fn counter(port: u16, what: &str, out_port: &str) -> f64 {
    let text = scrape(port).unwrap_or_default();
    let name = format!("macsec_port_tx_{what}_total{{");
    let label = format!("port=\"{out_port}\"");
    text.lines()
        .filter(|l| l.starts_with(&name) && l.contains(&label))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}
