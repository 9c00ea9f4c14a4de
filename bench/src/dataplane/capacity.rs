//! What the workers can do when no generator is the limit. At 64 B the memif generator tops out
//! near 4.5-6.5 Mpps on its CPU (half of it in the memif PMD's copies) while the worker polls
//! half idle (perf), and the generator takes CPU 0, so 2 workers cannot be measured either.
//!
//! Here the dataplane's input port replays a pcap file from memory (`net_pcap0,rx_pcap=F,
//! infinite_rx=1`: the PMD loads the frames into mbufs once and hands them out in a loop) and
//! its output port discards (`net_null0,no-rx=1`); the rate comes from the dataplane's own tx
//! counters. protect replays clear frames into the host port; validate replays frames the SecY
//! library encrypted into the wire port (`replay_protect = false`: their PNs repeat). Nothing
//! else busy-polls, so 1 and 2 worker lcores (one per CPU) give the speed-up of one SA. With
//! `--rt` only the 2-worker rows run SCHED_RR (see `once_in`).

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::gen::{templates, GenArgs};
use super::{command, metrics_port, scrape, sum_samples, worker_cpu, write_config, DpOptions, Reaper, Setup};
use crate::sizes::Size;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Capacity {
    pub direction: String,
    /// "pcap" (replayed frames, one copy per frame in the PMD) or "null" (protect only:
    /// `net_null0,size=L` hands out frames without touching them, the cheapest input there is).
    pub input: String,
    pub workers: usize,
    pub size: String,
    /// Frames the dataplane sent out of its output port per second, median of the runs.
    pub mpps: f64,
    /// Octets of those frames (as sent: with SecTAG and ICV for protect).
    pub gbps: f64,
    /// Summed CPU share of the worker lcore threads over the measured interval.
    pub worker_cpu_share: f64,
    pub runs_mpps: Vec<f64>,
    /// With 2 workers, which hand frames to each other in the ordered stage: per run,
    /// [`handoff_ns`](super::handoff::handoff_ns) from CPU 0 to CPU 1 just before and after.
    pub handoff_ns: Vec<[Option<f64>; 2]>,
    pub error: Option<String>,
}

/// Every direction × 1 and 2 workers × 64 B, 1518 B, IMIX from a pcap; protect at 64 and
/// 1518 B from a null port as well.
pub fn run(bin: &Path, o: &DpOptions) -> Vec<Capacity> {
    let mut out = Vec::new();
    let mut k = 0;
    for (protect, pcap) in [(true, false), (true, true), (false, true)] {
        for workers in [1, 2] {
            for size in [Size::Fixed(64), Size::Fixed(1518), Size::Imix] {
                if !pcap && size == Size::Imix {
                    continue; // a null port makes one size
                }
                let dir = if protect { "protect" } else { "validate" };
                let input = if pcap { "pcap" } else { "null" };
                eprintln!("dataplane: capacity {dir} ({input} in), {workers} worker(s), {} B", size.label());
                out.push(point(bin, Input { protect, pcap, workers, size }, o, &mut k));
            }
        }
    }
    out
}

/// One capacity point.
#[derive(Clone, Copy)]
struct Input {
    protect: bool,
    pcap: bool,
    workers: usize,
    size: Size,
}

fn point(bin: &Path, i: Input, o: &DpOptions, k: &mut usize) -> Capacity {
    let (mut runs, mut shares, mut gbps, mut error) = (Vec::new(), Vec::new(), Vec::new(), None);
    let mut handoffs = Vec::new();
    for _ in 0..o.runs {
        *k += 1;
        let result = match probe_cpus(lcores(i.workers)) {
            Some((from, to)) => {
                let (r, h) = super::handoff::around(from, to, || once(bin, i, o, 500 + *k));
                handoffs.push(h);
                r
            }
            None => once(bin, i, o, 500 + *k),
        };
        match result {
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
    Capacity {
        direction: if i.protect { "protect" } else { "validate" }.into(),
        input: if i.pcap { "pcap" } else { "null" }.into(),
        workers: i.workers,
        size: i.size.label(),
        mpps: med(&runs),
        gbps: med(&gbps),
        worker_cpu_share: med(&shares),
        runs_mpps: runs,
        handoff_ns: handoffs,
        error,
    }
}

type Sample = (f64, f64, f64);

fn once(bin: &Path, i: Input, o: &DpOptions, n: usize) -> Result<Sample, String> {
    let dir = std::env::temp_dir().join(format!("macsec-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let r = once_in(bin, i, o, n, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    super::remove_eal_dirs(n);
    r
}

/// The frames the input port replays, as a pcap file (microsecond timestamps, Ethernet).
fn write_pcap(path: &Path, frames: &[Vec<u8>]) -> Result<(), String> {
    let mut b: Vec<u8> = Vec::new();
    b.extend(0xa1b2_c3d4u32.to_le_bytes()); // magic: microsecond timestamps
    b.extend(2u16.to_le_bytes()); // version 2.4
    b.extend(4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        b.extend(v.to_le_bytes()); // zone, sigfigs, snaplen, LINKTYPE_ETHERNET
    }
    for f in frames {
        let len = f.len() as u32;
        for v in [0u32, 0, len, len] {
            b.extend(v.to_le_bytes());
        }
        b.extend_from_slice(f);
    }
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(&b).map_err(|e| e.to_string())
}

/// The EAL lcore map for `workers` worker lcores, one per CPU.
pub(super) fn lcores(workers: usize) -> &'static str {
    if workers == 1 {
        "0@0,1@1"
    } else {
        "0@0,1@1,2@0"
    }
}

/// The handoff probe's CPUs: worker 2's to worker 1's, the two that hand frames to each other
/// in the ordered stage; none with one worker.
pub(super) fn probe_cpus(lcores: &str) -> Option<(usize, usize)> {
    Some((super::lcore_cpu(lcores, 2)?, super::lcore_cpu(lcores, 1)?))
}

fn once_in(bin: &Path, i: Input, o: &DpOptions, n: usize, dir: &Path) -> Result<Sample, String> {
    let Input { protect, pcap, workers, size } = i;
    let sak = "42".repeat(32);
    let input = if pcap {
        let gen = GenArgs { protect, ..super::gen::parse(std::iter::empty())? };
        let (frames, _) = templates(&gen, size)?;
        let file = dir.join("in.pcap");
        // 2048 frames: the PMD copies them into mbufs of the dataplane's pool at start.
        write_pcap(&file, &frames[..2048])?;
        format!("net_pcap0,rx_pcap={},infinite_rx=1", file.display())
    } else {
        format!("net_null1,size={}", crate::scaling::mean_len(&size.label()).unwrap_or(64.0))
    };
    let setup = Setup { name: "capacity".into(), protect, workers, lcores: lcores(workers).into(), rekey: false };
    let sink = "net_null0,no-rx=1".to_string();
    let (host, wire) = if protect { (input, sink) } else { (sink, input) };
    let cfg = write_config(dir, &setup, n, &sak, &host, &wire)?;
    // One worker runs SCHED_OTHER even with --rt: nothing shares its CPU, and under SCHED_RR the
    // kernel keeps 5% of each second for normal tasks (RT throttling, or the fair server since
    // Linux 6.12), which capped it at 95%. Two workers keep --rt: worker 2 shares CPU 0 with the
    // service lcore, and 1 ms RR turns keep the workers' ordered turns from waiting long.
    let mut dp = Reaper(
        command(o.realtime && workers > 1, bin)
            .args(["--config", &cfg.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let port = metrics_port(n);
    let out_port = if protect { "wire" } else { "host" };
    let t = Instant::now();
    while scrape(port).is_none() {
        if t.elapsed() > Duration::from_secs(15) || matches!(dp.0.try_wait(), Ok(Some(_))) {
            return Err("the dataplane did not come up (metrics endpoint) within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1)); // warm-up
    let cpu = || worker_cpu(dp.0.id()).iter().sum::<f64>();
    let (p0, t0, w0) = (counter(port, out_port), Instant::now(), cpu());
    std::thread::sleep(Duration::from_secs_f64(o.secs));
    let (p1, dt, w1) = (counter(port, out_port), t0.elapsed().as_secs_f64(), cpu());
    if p1 <= p0 {
        return Err(format!("the dataplane sent nothing on its {out_port} port"));
    }
    let mpps = (p1 - p0) / dt / 1e6;
    // net_null counts no octets: frames out are L + 32 (protect) or L (validate) octets.
    let len = crate::scaling::mean_len(&size.label()).unwrap_or(0.0) + if protect { 32.0 } else { 0.0 };
    Ok((mpps, mpps * len * 8.0 / 1e3, (w1 - w0) / dt))
}

/// `macsec_port_tx_packets_total` of one port, summed over its queues.
fn counter(port: u16, out_port: &str) -> f64 {
    let text = scrape(port).unwrap_or_default();
    sum_samples(&text, "macsec_port_tx_packets_total", &format!("port=\"{out_port}\""))
}
