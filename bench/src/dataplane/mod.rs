//! The dataplane part: the real `macsec-dataplane` binary (static keys, `--no-huge`) between
//! two memif ports of a DPDK generator process (`macsec-bench gen`, see [`gen`]). On this
//! 2-CPU machine the dataplane's worker lcore has CPU 1 to itself; the generator and the
//! dataplane's service lcore (which sleeps between 0.5 ms ticks) share CPU 0. With 2 workers
//! the second worker lcore shares CPU 0 as well, so that speed-up is a lower bound.

pub mod capacity;
pub mod ctl;
pub mod gen;
pub mod handoff;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gen::{Phase, GEN_SCI};

use crate::clock::median;
use crate::sizes::Size;

/// One dataplane configuration the generator runs against.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Setup {
    pub name: String,
    pub protect: bool,
    pub workers: usize,
    pub lcores: String,
    pub rekey: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct SetupResult {
    pub setup: Setup,
    /// Median over the runs, per phase and size.
    pub phases: Vec<Phase>,
    pub runs: Vec<Vec<Phase>>,
    /// Per run: the share of a CPU each dataplane worker lcore thread got (CPU time / wall).
    pub worker_cpu_share: Vec<Vec<f64>>,
    /// Median over the runs of the summed worker shares: `mpps / worker_cpus` estimates the
    /// rate of workers that had their CPUs to themselves.
    pub worker_cpus: f64,
    /// Per run, [`handoff::handoff_ns`] from the generator's CPU to the first worker's just
    /// before and just after it (`None` where it could not be measured): whether the run had
    /// this host's slow mode.
    pub handoff_ns: Vec<[Option<f64>; 2]>,
    /// The dataplane's own drop counters at the end of the last run (Prometheus samples that
    /// are not zero; names from dataplane/src/appliance/metrics.rs).
    pub dataplane_drops: Vec<(String, f64)>,
    pub error: Option<String>,
}

pub struct DpOptions {
    pub sizes: Vec<Size>,
    pub secs: f64,
    pub runs: usize,
    pub gen_cpu: usize,
    /// Run the generator and the dataplane SCHED_RR (`chrt -r 1`: round robin, so that the
    /// dataplane's service lcore still gets turns next to the generator), ahead of every normal
    /// process (the kernel still keeps 5% of each CPU for them).
    pub realtime: bool,
}

pub fn setups() -> Vec<Setup> {
    let s = |name: &str, protect, workers, lcores: &str, rekey| Setup {
        name: name.into(),
        protect,
        workers,
        lcores: lcores.into(),
        rekey,
    };
    vec![
        s("protect, 1 worker", true, 1, "0@0,1@1", true),
        s("validate, 1 worker", false, 1, "0@0,1@1", false),
        s("protect, 2 workers", true, 2, "0@0,1@1,2@0", false),
        s("validate, 2 workers", false, 2, "0@0,1@1,2@0", false),
    ]
}

/// While alive, SCHED_RR tasks get 1 ms turns instead of the default 100 ms
/// (`/proc/sys/kernel/sched_rr_timeslice_ms`, restored on drop): with 2 workers one worker
/// lcore shares CPU 0 with the generator, and the workers' ordered turns wait on each other.
struct RrTimeslice(Option<String>);

const RR_TIMESLICE: &str = "/proc/sys/kernel/sched_rr_timeslice_ms";

impl RrTimeslice {
    fn set(realtime: bool) -> RrTimeslice {
        let old = realtime.then(|| std::fs::read_to_string(RR_TIMESLICE).ok()).flatten();
        if old.is_some() && std::fs::write(RR_TIMESLICE, "1").is_err() {
            return RrTimeslice(None);
        }
        RrTimeslice(old)
    }
}

impl Drop for RrTimeslice {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            let _ = std::fs::write(RR_TIMESLICE, old.trim());
        }
    }
}

/// Everything the dataplane part measured.
#[derive(Debug, Default, serde::Serialize)]
pub struct DataplaneReport {
    pub setups: Vec<SetupResult>,
    pub capacity: Vec<capacity::Capacity>,
}

pub fn run(setups: &[Setup], o: &DpOptions) -> DataplaneReport {
    let _rr = RrTimeslice::set(o.realtime);
    let setups = run_setups(setups, o);
    let capacity = match dataplane_binary() {
        Ok(bin) => capacity::run(&bin, o),
        Err(_) => Vec::new(),
    };
    DataplaneReport { setups, capacity }
}

fn run_setups(setups: &[Setup], o: &DpOptions) -> Vec<SetupResult> {
    let bin = match dataplane_binary() {
        Ok(b) => b,
        Err(e) => {
            return setups
                .iter()
                .map(|s| SetupResult {
                    setup: s.clone(),
                    phases: Vec::new(),
                    runs: Vec::new(),
                    worker_cpu_share: Vec::new(),
                    worker_cpus: f64::NAN,
                    handoff_ns: Vec::new(),
                    dataplane_drops: Vec::new(),
                    error: Some(e.clone()),
                })
                .collect()
        }
    };
    setups
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (mut runs, mut shares, mut drops) = (Vec::new(), Vec::new(), Vec::new());
            let (mut handoffs, mut error) = (Vec::new(), None);
            // An lcore map without a worker lcore 1 fails in the dataplane; the probe's error
            // then names CPU usize::MAX.
            let to = lcore_cpu(&s.lcores, 1).unwrap_or(usize::MAX);
            for r in 0..o.runs {
                eprintln!("dataplane: {} (run {})", s.name, r + 1);
                let (result, h) = handoff::around(o.gen_cpu, to, || run_once(&bin, s, o, i * 10 + r));
                handoffs.push(h);
                match result {
                    Ok((p, share, d)) => {
                        runs.push(p);
                        shares.push(share);
                        drops = d;
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            let worker_cpus = median(&shares.iter().map(|r: &Vec<f64>| r.iter().sum()).collect::<Vec<f64>>());
            SetupResult {
                setup: s.clone(),
                phases: median_phases(&runs),
                runs,
                worker_cpu_share: shares,
                worker_cpus,
                handoff_ns: handoffs,
                dataplane_drops: drops,
                error,
            }
        })
        .collect()
}

/// The CPU of `lcore` in an EAL `--lcores` map such as `0@0,1@1,2@0` (lcore 0 is the service
/// lcore, 1 the first worker).
fn lcore_cpu(lcores: &str, lcore: usize) -> Option<usize> {
    let prefix = format!("{lcore}@");
    lcores.split(',').find_map(|m| m.strip_prefix(&prefix)).and_then(|cpu| cpu.parse().ok())
}

/// The `macsec-dataplane` binary next to this one (same target dir). Under `cargo run` it is
/// built first (a no-op when up to date), so that a stale binary is never measured.
fn dataplane_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = me.with_file_name("macsec-dataplane");
    if let Ok(cargo) = std::env::var("CARGO") {
        eprintln!("dataplane: cargo build --release -p macsec-dataplane");
        let st = Command::new(cargo)
            .args(["build", "--release", "-p", "macsec-dataplane", "--bin", "macsec-dataplane"])
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err("cargo build --release -p macsec-dataplane failed".into());
        }
    }
    if !bin.exists() {
        return Err(format!("{} not found; run cargo build --release -p macsec-dataplane", bin.display()));
    }
    Ok(bin)
}

/// Kills a child process we started, by its pid, when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type RunOut = (Vec<Phase>, Vec<f64>, Vec<(String, f64)>);

fn run_once(bin: &Path, s: &Setup, o: &DpOptions, n: usize) -> Result<RunOut, String> {
    let dir = std::env::temp_dir().join(format!("macsec-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = run_in(bin, s, o, n, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    remove_eal_dirs(n);
    result
}

/// The EAL prefixes of run `n`: the dataplane's and the generator's.
fn prefixes(n: usize) -> [String; 2] {
    let pid = std::process::id();
    [format!("mbdp{pid}x{n}"), format!("mbgen{pid}x{n}")]
}

/// EAL leaves `/var/run/dpdk/<prefix>/` behind, one per prefix; remove those of run `n`.
fn remove_eal_dirs(n: usize) {
    for p in prefixes(n) {
        let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(p));
    }
}

/// `program` under SCHED_RR priority 1, or under SCHED_OTHER: named either way, since a child
/// inherits the policy of the bench, which `--rt` makes SCHED_RR.
fn command(realtime: bool, program: &Path) -> Command {
    let mut c = Command::new("chrt");
    c.args(if realtime { ["-r", "1"] } else { ["-o", "0"] }).arg(program);
    c
}

/// CPU seconds used so far by each worker lcore thread (`rte-worker-N`) of process `pid`.
fn worker_cpu(pid: u32) -> Vec<f64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut v: Vec<(String, f64)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            let comm = std::fs::read_to_string(p.join("comm")).ok()?;
            let comm = comm.trim();
            comm.starts_with("rte-worker")
                .then(|| Some((comm.to_string(), gen::cpu_secs(p.join("stat").to_str()?)?)))?
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, s)| s).collect()
}

fn run_in(bin: &Path, s: &Setup, o: &DpOptions, n: usize, dir: &Path) -> Result<RunOut, String> {
    let sak = "42".repeat(32);
    let memif = |i: usize, role: &str, name: &str| {
        format!("net_memif{i},role={role},id=0,socket={}/{name}.sock,socket-abstract=no,rsize=11", dir.display())
    };
    let cfg = write_config(dir, s, n, &sak, &memif(0, "client", "host"), &memif(1, "client", "wire"))?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let sizes: Vec<String> = o.sizes.iter().map(|z| z.label().to_lowercase()).collect();
    let mut g = command(o.realtime, &me);
    g.args(["gen", "--cpu", &o.gen_cpu.to_string(), "--host", &memif(0, "server", "host")])
        .args(["--wire", &memif(1, "server", "wire"), "--mode", if s.protect { "protect" } else { "validate" }])
        .args(["--sizes", &sizes.join(","), "--secs", &o.secs.to_string(), "--suite", "gcm-aes-256", "--sak", &sak]);
    if s.rekey {
        g.args(["--rekey", &dir.join("dp.sock").display().to_string()]);
    }
    g.args(["--metrics", &metrics_port(n).to_string(), "--prefix", &prefixes(n)[1]]);
    let gen = Reaper(g.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?);
    wait_for(&dir.join("host.sock"), &dir.join("wire.sock"))?;
    let log = std::fs::File::create(dir.join("dp.log")).map_err(|e| e.to_string())?;
    let dp = Reaper(
        command(o.realtime, bin)
            .args(["--config", &cfg.display().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let mut dp = dp;
    let mut w = WorkerSamples::default();
    let out = wait_gen(gen, &mut dp, &mut w, Duration::from_secs_f64(30.0 + o.secs * 6.0 * o.sizes.len() as f64))?;
    // The dataplane's worker threads (under chrt, the child of chrt is the dataplane itself).
    let shares = w.shares();
    let mut drops = drop_counters(metrics_port(n));
    if let Some(st) = &w.exited {
        drops.push((format!("dataplane exited before the end of the run ({st})"), 1.0));
    }
    drop(dp);
    let phases: Vec<Phase> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    if phases.is_empty() {
        let dplog = std::fs::read_to_string(dir.join("dp.log")).unwrap_or_default();
        return Err(format!("the generator reported nothing; dataplane log: {}", tail(&dplog, 600)));
    }
    Ok((phases, shares, drops))
}

fn metrics_port(n: usize) -> u16 {
    19464 + (n % 1000) as u16
}

/// The dataplane's Prometheus text, or `None` while it does not answer.
pub(crate) fn scrape(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The sum of the samples of metric `name` in Prometheus text whose labels contain `label`.
pub(crate) fn sum_samples(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{')) && l.contains(label))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Non-zero `*drop*` counters from the dataplane's Prometheus endpoint.
fn drop_counters(port: u16) -> Vec<(String, f64)> {
    let text = scrape(port).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && (l.contains("drop") || l.contains("not_valid") || l.contains("late")))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| v.parse::<f64>().ok().filter(|v| *v != 0.0).map(|v| (k.to_string(), v)))
        .collect()
}

fn write_config(dir: &Path, s: &Setup, n: usize, sak: &str, host: &str, wire: &str) -> Result<PathBuf, String> {
    let keys = dir.join("dp.keys");
    let k =
        format!("[[tx]]\nan = 0\nsak = \"{sak}\"\n\n[[rx]]\nsci = \"{:016x}\"\nan = 0\nsak = \"{sak}\"\n", GEN_SCI.0);
    write_private(&keys, &k)?;
    let cfg = dir.join("dp.toml");
    let text = format!(
        r#"mbufs = 32767

[eal]
lcores = "{lcores}"
huge_pages = false
memory_mb = 1024
file_prefix = "{prefix}"
extra_args = ["--log-level", "lib.eal:warning", "--log-level", "pmd.net.memif:warning"]

[control]
socket = "{dir}/dp.sock"

[metrics]
listen = "127.0.0.1:{port}"

[[connections]]
id = "dxcon-bench"
host_port = "{host}"
wire_port = "{wire}"
workers = {workers}
cipher_suite = "gcm-aes-256"
encryption_mode = "must_encrypt"
replay_protect = {replay}
replay_window = 0
key_source = "static"
static_key_file = "{keys}"
"#,
        lcores = s.lcores,
        prefix = prefixes(n)[0],
        dir = dir.display(),
        port = metrics_port(n),
        workers = s.workers,
        // The generator re-sends a pool of 8192 pre-encrypted frames, whose PNs repeat.
        replay = s.protect,
        keys = keys.display(),
    );
    write_private(&cfg, &text)?;
    Ok(cfg)
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| e.to_string())
}

fn wait_for(a: &Path, b: &Path) -> Result<(), String> {
    for _ in 0..200 {
        if a.exists() && b.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err("the generator's memif sockets did not appear within 5 s".into())
}

/// CPU time of the dataplane's worker threads, sampled while the generator runs: the share is
/// taken between the first and the last sample, so the dataplane's start-up does not count.
#[derive(Default)]
struct WorkerSamples {
    first: Option<(Instant, Vec<f64>)>,
    last: Option<(Instant, Vec<f64>)>,
    /// Set when the dataplane exited before the bench stopped it.
    exited: Option<String>,
}

impl WorkerSamples {
    fn sample(&mut self, dp: &mut Reaper) {
        if self.exited.is_some() {
            return;
        }
        if let Ok(Some(st)) = dp.0.try_wait() {
            self.exited = Some(st.to_string());
            return;
        }
        let cpu = worker_cpu(dp.0.id());
        if cpu.is_empty() {
            return;
        }
        let now = (Instant::now(), cpu);
        if self.first.is_none() {
            self.first = Some(now.clone());
        }
        self.last = Some(now);
    }

    fn shares(&self) -> Vec<f64> {
        let (Some((t0, c0)), Some((t1, c1))) = (&self.first, &self.last) else { return Vec::new() };
        let dt = t1.duration_since(*t0).as_secs_f64();
        if dt <= 0.0 {
            return Vec::new();
        }
        c0.iter().zip(c1).map(|(a, b)| (b - a) / dt).collect()
    }
}

fn wait_gen(mut gen: Reaper, dp: &mut Reaper, w: &mut WorkerSamples, limit: Duration) -> Result<String, String> {
    let t = Instant::now();
    loop {
        if let Ok(Some(_)) = gen.0.try_wait() {
            break;
        }
        if t.elapsed() > limit {
            return Err("the generator did not finish in time".into());
        }
        w.sample(dp);
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = gen.0.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
    }
    if let Some(mut s) = gen.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut err);
    }
    if out.trim().is_empty() {
        return Err(format!("generator: {}", tail(&err, 600)));
    }
    Ok(out)
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
    &s[start..]
}

/// Per (phase, size): the median of each number over the runs.
fn median_phases(runs: &[Vec<Phase>]) -> Vec<Phase> {
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .iter()
        .map(|p0| {
            let same: Vec<&Phase> =
                runs.iter().filter_map(|r| r.iter().find(|p| p.phase == p0.phase && p.size == p0.size)).collect();
            let m = |f: fn(&Phase) -> f64| median(&same.iter().map(|p| f(p)).collect::<Vec<_>>());
            Phase {
                mpps: m(|p| p.mpps),
                gbps: m(|p| p.gbps),
                offered_pps: m(|p| p.offered_pps),
                lat_p50_us: m(|p| p.lat_p50_us),
                lat_p99_us: m(|p| p.lat_p99_us),
                lat_p999_us: m(|p| p.lat_p999_us),
                lat_max_us: m(|p| p.lat_max_us),
                lost: m(|p| p.lost as f64) as i64,
                gen_cpu_share: m(|p| p.gen_cpu_share),
                checked_ok: same.iter().map(|p| p.checked_ok).sum(),
                checked_bad: same.iter().map(|p| p.checked_bad).sum(),
                dp_port_tx_dropped: m(|p| p.dp_port_tx_dropped),
                dp_other_drops: m(|p| p.dp_other_drops),
                dp_busy: m(|p| p.dp_busy),
                dp_frames_per_burst: m(|p| p.dp_frames_per_burst),
                ..p0.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{capacity, lcore_cpu, setups, sum_samples};

    #[test]
    fn lcores_are_found_in_the_map() {
        assert_eq!(lcore_cpu("0@0,1@1,2@0", 1), Some(1));
        assert_eq!(lcore_cpu("0@1,2@1,1@0", 1), Some(0));
        assert_eq!(lcore_cpu("0@1,2@1,1@0", 2), Some(1));
        assert_eq!(lcore_cpu("0@0,12@1", 2), None);
        assert_eq!(lcore_cpu("0@0", 1), None);
        assert_eq!(lcore_cpu("0@0,1@x", 1), None);
        assert!(setups().iter().all(|s| lcore_cpu(&s.lcores, 1) == Some(1)));
        // The 2-worker capacity rows probe from worker 2's CPU to worker 1's.
        assert_eq!(capacity::probe_cpus(capacity::lcores(2)), Some((0, 1)));
        assert_eq!(capacity::probe_cpus(capacity::lcores(1)), None);
    }

    #[test]
    fn sum_samples_takes_the_named_metric_with_the_label() {
        let text = "# HELP macsec_worker_cycles_total x\n\
                    macsec_worker_cycles_total{lcore=\"1\"} 10\n\
                    macsec_worker_cycles_total{lcore=\"2\"} 5\n\
                    macsec_worker_cycles_total_extra{lcore=\"1\"} 100\n\
                    macsec_worker_busy_cycles_total{lcore=\"1\"} 7\n\
                    macsec_port_tx_packets_total{port=\"wire\",queue=\"0\"} 3\n\
                    macsec_port_tx_packets_total{port=\"host\",queue=\"0\"} 4\n";
        assert_eq!(sum_samples(text, "macsec_worker_cycles_total", ""), 15.0);
        assert_eq!(sum_samples(text, "macsec_worker_busy_cycles_total", ""), 7.0);
        assert_eq!(sum_samples(text, "macsec_port_tx_packets_total", "port=\"wire\""), 3.0);
        assert_eq!(sum_samples(text, "macsec_absent_total", ""), 0.0);
    }
}
