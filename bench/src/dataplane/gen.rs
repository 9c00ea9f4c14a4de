//! The traffic generator: `macsec-bench gen ...`, a DPDK process of its own (EAL once per
//! process) pinned to one CPU, with two memif ports (server role) facing the dataplane's host
//! and wire ports.
//!
//! `protect` mode sends clear frames into the dataplane's host port and receives them
//! encrypted from its wire port; the frame's sequence number travels in the source MAC, which
//! MACsec leaves in clear. `validate` mode sends frames it encrypted itself (through the SecY
//! library, SCI [`GEN_SCI`]) into the wire port and receives them decrypted from the host port;
//! the sequence number travels in the payload. A table maps sequence numbers to the TSC at
//! sending, which gives the latency of every returning frame (hdrhistogram).
//!
//! Phases per size: `max` (send as fast as the dataplane takes frames; the received rate is the
//! throughput), then `latency` at half that rate, and with `--rekey SOCKET` a phase at that rate
//! during which the generator rekeys the dataplane's Tx SA at 10 Hz through the control socket.
//! One JSON object per phase goes to stdout.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use macsec_dataplane::dpdk::{tsc, tsc_hz, Eal, Mbuf, MbufBurst, Mempool, Port};
use macsec_dataplane::secy::{An, CipherSuite, Pn, RingBackend, SaParams, Sak, Sci, Secy, SecyConfig};

use super::ctl::Ctl;
use crate::crypto::work::XorShift;
use crate::sizes::Size;

/// The generator's SCI when it sends MACsec (validate mode).
pub const GEN_SCI: Sci = Sci(0x0200_0000_000b_0001);
/// Sequence numbers index this many send timestamps (and validate mode's pre-encrypted frames).
const SLOTS: usize = 8192;
const SEQ_OFF_MAC: usize = 7; // protect: source MAC octets 1..5
const SEQ_OFF_PAYLOAD: usize = 14; // validate: the first payload octets after the EtherType

#[derive(Clone, Debug)]
pub struct GenArgs {
    pub cpu: usize,
    pub host_dev: String,
    pub wire_dev: String,
    pub protect: bool,
    pub sizes: Vec<Size>,
    pub secs: f64,
    pub suite: CipherSuite,
    pub sak: Vec<u8>,
    pub rekey: Option<String>,
    pub connection: String,
    /// Only send (one `max` phase per size, nothing received): the dataplane's own counters
    /// measure; `host_dev` may then be `none`.
    pub tx_only: bool,
    /// The dataplane's metrics port: each phase records the change of its drop counters.
    pub metrics: Option<u16>,
    /// EAL `--file-prefix` (the caller removes `/var/run/dpdk/<prefix>` afterwards).
    pub prefix: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize, Clone)]
pub struct Phase {
    pub phase: String,
    pub size: String,
    pub offered_pps: f64,
    pub secs: f64,
    pub sent: u64,
    pub received: u64,
    pub rx_bytes: u64,
    /// Frames sent in the phase that never came back (after a drain).
    pub lost: i64,
    pub mpps: f64,
    /// Received frame octets (as the dataplane emitted them) in Gbps.
    pub gbps: f64,
    pub lat_p50_us: f64,
    pub lat_p99_us: f64,
    pub lat_p999_us: f64,
    pub lat_max_us: f64,
    pub rekeys: u64,
    /// Received frames per AN (protect mode): the rekeys really switched SAs.
    pub per_an: [u64; 4],
    /// The share of a CPU the generator thread got in the phase (others' processes compete).
    pub gen_cpu_share: f64,
    /// Of the first returning frames of the phase, how many were checked and found right: with
    /// protect, MACsec that a SecY with the dataplane's Tx SAs validates back to the frame sent
    /// (the checker learns each rekey's SA, so the phases after a rekey phase are checked on the
    /// keys it left; in the rekey phase the first frames mostly precede its first rekey); with
    /// validate, exactly the clear frame that was encrypted.
    pub checked_ok: u64,
    pub checked_bad: u64,
    /// Change of the dataplane's counters over the phase: frames its ports could not send (a
    /// full ring towards the generator), and MACsec drops (every other non-zero drop counter).
    pub dp_port_tx_dropped: f64,
    pub dp_other_drops: f64,
    /// Over the phase, of the dataplane's worker lcores: the share of their cycles spent in
    /// loop iterations that moved frames, and the frames that came back per such iteration
    /// (32, a full burst, when the worker is the bottleneck; fewer when it waits for frames).
    #[serde(default)]
    pub dp_busy: f64,
    #[serde(default)]
    pub dp_frames_per_burst: f64,
}

/// The dataplane's worker counters, summed over its worker lcores: (busy cycles, cycles, bursts).
fn dp_worker(port: Option<u16>) -> (f64, f64, f64) {
    let Some(port) = port else { return (0.0, 0.0, 0.0) };
    let text = super::scrape(port).unwrap_or_default();
    let sum = |name| super::sum_samples(&text, name, "");
    (sum("macsec_worker_busy_cycles_total"), sum("macsec_worker_cycles_total"), sum("macsec_worker_bursts_total"))
}

/// (port tx drops, every other drop counter) of the dataplane, summed.
fn dp_drops(port: Option<u16>) -> (f64, f64) {
    let Some(port) = port else { return (0.0, 0.0) };
    super::drop_counters(port).iter().fold((0.0, 0.0), |(tx, other), (k, v)| {
        if k.starts_with("macsec_port_tx_dropped_total") {
            (tx + v, other)
        } else {
            (tx, other + v)
        }
    })
}

/// CPU seconds (user + system) a thread or process has used, from `/proc/.../stat`.
pub fn cpu_secs(stat_path: &str) -> Option<f64> {
    let s = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

pub fn parse(mut it: impl Iterator<Item = String>) -> Result<GenArgs, String> {
    let mut a = GenArgs {
        cpu: 0,
        host_dev: String::new(),
        wire_dev: String::new(),
        protect: true,
        sizes: vec![Size::Fixed(64)],
        secs: 2.0,
        suite: CipherSuite::GcmAes256,
        sak: vec![0x42; 32],
        rekey: None,
        connection: "dxcon-bench".into(),
        tx_only: false,
        metrics: None,
        prefix: format!("mbgen{}", std::process::id()),
    };
    while let Some(k) = it.next() {
        if k == "--tx-only" {
            a.tx_only = true;
            continue;
        }
        let v = it.next().ok_or(format!("gen: {k} needs a value"))?;
        match k.as_str() {
            "--cpu" => a.cpu = v.parse().map_err(|_| "gen: --cpu N")?,
            "--host" => a.host_dev = v,
            "--wire" => a.wire_dev = v,
            "--mode" => a.protect = v == "protect",
            "--sizes" => a.sizes = v.split(',').map(parse_size).collect::<Result<_, _>>()?,
            "--secs" => a.secs = v.parse().map_err(|_| "gen: --secs S")?,
            "--suite" => a.suite = v.parse().map_err(|_| "gen: --suite")?,
            "--sak" => a.sak = hex::decode(&v).map_err(|_| "gen: --sak HEX")?,
            "--rekey" => a.rekey = Some(v),
            "--connection" => a.connection = v,
            "--metrics" => a.metrics = Some(v.parse().map_err(|_| "gen: --metrics PORT")?),
            "--prefix" => a.prefix = v,
            _ => return Err(format!("gen: unknown argument {k}")),
        }
    }
    Ok(a)
}

pub fn parse_size(s: &str) -> Result<Size, String> {
    if s.eq_ignore_ascii_case("imix") {
        return Ok(Size::Imix);
    }
    s.parse().map(Size::Fixed).map_err(|_| format!("size {s:?}: expected octets or imix"))
}

type Frames = Vec<Vec<u8>>;

/// Returning frames checked per phase.
const CHECKS: u64 = 64;

/// Frames to send, one per slot: clear (protect) or encrypted by the SecY library (validate),
/// and the clear frames they stand for.
pub fn templates(a: &GenArgs, size: Size) -> Result<(Frames, Frames), String> {
    let mut rng = XorShift(0x9e37);
    let mut frames: Vec<Vec<u8>> = size
        .lengths(SLOTS)
        .into_iter()
        .enumerate()
        .map(|(i, len)| {
            let mut f = vec![0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0b, 0x08, 0x00];
            f.extend((14..len).map(|_| rng.byte()));
            let off = if a.protect { SEQ_OFF_MAC } else { SEQ_OFF_PAYLOAD };
            f[off..off + 4].copy_from_slice(&(i as u32).to_be_bytes());
            f
        })
        .collect();
    let clear = frames.clone();
    if !a.protect {
        let mut tx = Secy::new(SecyConfig::new(a.suite), GEN_SCI, Arc::new(RingBackend));
        let sak = Sak::from_slice(&a.sak).map_err(|e| e.to_string())?;
        let an = An::new(0).ok_or("AN 0")?;
        tx.install_tx_sa(&sak, &SaParams { an, pn: Pn(1), ssci: None, salt: None }).map_err(|e| e.to_string())?;
        tx.enable_tx_sa(an).map_err(|e| e.to_string())?;
        for f in &mut frames {
            tx.protect(f).map_err(|e| format!("protect: {e:?}"))?;
        }
    }
    Ok((frames, clear))
}

/// A receiving SecY for the dataplane's Tx SA (protect mode), made from the first frame's SCI.
fn checker(a: &GenArgs, frame: &[u8]) -> Option<Secy> {
    let sci = frame_sci(frame)?;
    let mut rx = Secy::new(SecyConfig::new(a.suite), GEN_SCI, Arc::new(RingBackend));
    rx.add_rx_sc(sci);
    let sak = Sak::from_slice(&a.sak).ok()?;
    rx.install_rx_sa(sci, &sak, &SaParams { an: An::new(0)?, pn: Pn(1), ssci: None, salt: None }).ok()?;
    Some(rx)
}

/// The SCI of a SecTAG that carries one (SC bit set, as the dataplane always sends it).
fn frame_sci(frame: &[u8]) -> Option<Sci> {
    Some(Sci(u64::from_be_bytes(frame.get(20..28)?.try_into().ok()?)))
}

struct Gen {
    pool: Mempool,
    tx_port: Port,
    rx_port: Port,
    protect: bool,
    /// Poll the receive port (false: send only).
    rx: bool,
    hz: f64,
    sent_at: Vec<u64>,
    /// The clear frame of each slot, to check what comes back.
    clear: Vec<Vec<u8>>,
    checker: Option<Secy>,
    /// The SAs each rekey installs, for the checker: sent before the dataplane may use them.
    rekeyed: (Sender<TxSa>, Receiver<TxSa>),
    /// The AN of the dataplane's Tx SA in use (the static key file's, then each rekey's).
    tx_an: An,
    args: GenArgs,
}

pub fn main(a: GenArgs) -> Result<(), String> {
    let prefix = a.prefix.clone();
    let cpu = a.cpu.to_string();
    let mut args: Vec<&str> =
        vec!["macsec-bench-gen", "-l", &cpu, "--no-pci", "--no-huge", "-m", "1024", "--file-prefix", &prefix];
    args.extend(["--log-level", "lib.eal:error", "--vdev", &a.wire_dev]);
    let with_host = a.host_dev != "none";
    if with_host {
        args.extend(["--vdev", &a.host_dev]);
    }
    let _eal = Eal::init(&args).map_err(|e| e.to_string())?;
    let pool = Mempool::new("gen", 32767).map_err(|e| e.to_string())?;
    let wire = open_port(&a.wire_dev, &pool)?;
    let host = if with_host { open_port(&a.host_dev, &pool)? } else { wire };
    wait_link(&[host, wire])?;
    let (tx_port, rx_port) = if a.protect { (host, wire) } else { (wire, host) };
    let mut g = Gen {
        pool,
        tx_port,
        rx_port,
        protect: a.protect,
        rx: true,
        hz: tsc_hz() as f64,
        sent_at: vec![0; SLOTS],
        clear: Vec::new(),
        checker: None,
        rekeyed: channel(),
        tx_an: An::ALL[0],
        args: a.clone(),
    };
    let mut ctl = match &a.rekey {
        Some(path) => Some(Ctl::connect(path)?),
        None => None,
    };
    for &size in &a.sizes {
        let (t, clear) = templates(&a, size)?;
        g.clear = clear;
        if a.tx_only {
            g.rx = false;
            emit(&g.phase("txonly", size, &t, 0.0, a.secs, &mut None, &a)?);
            continue;
        }
        g.phase("warmup", size, &t, 0.0, 0.3, &mut None, &a)?;
        let max = g.phase("max", size, &t, 0.0, a.secs, &mut None, &a)?;
        let rate = max.mpps * 1e6 / 2.0;
        emit(&max);
        emit(&g.phase("latency", size, &t, rate, a.secs, &mut None, &a)?);
        if ctl.is_some() {
            emit(&g.phase("rekey", size, &t, rate, a.secs.max(3.0), &mut ctl, &a)?);
        }
    }
    Ok(())
}

fn emit(p: &Phase) {
    if let Ok(j) = serde_json::to_string(p) {
        println!("{j}");
    }
}

fn open_port(dev: &str, pool: &Mempool) -> Result<Port, String> {
    let p = Port::by_name(dev).map_err(|e| e.to_string())?;
    p.configure(1, 1, 2048, pool).map_err(|e| e.to_string())?;
    p.start().map_err(|e| e.to_string())?;
    Ok(p)
}

fn wait_link(ports: &[Port]) -> Result<(), String> {
    for _ in 0..300 {
        if ports.iter().all(|p| p.link().map(|l| l.up).unwrap_or(false)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("gen: memif links did not come up within 15 s (is the dataplane running?)".into())
}

/// A Tx SA a rekey installed.
struct TxSa {
    an: An,
    sak: Sak,
}

/// Rekeys the dataplane's Tx SA at 10 Hz from a thread of its own, so that waiting for the
/// control socket's replies never stalls the generator's receive loop.
struct Rekeyer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Rekeyed>,
}

/// What the rekey thread gives back: the client, and the number of rekeys done with the AN of
/// the last (or the error that stopped it).
struct Rekeyed {
    ctl: Ctl,
    done: Result<(u64, An), String>,
}

impl Rekeyer {
    /// Rekeys onto the ANs after `current`, the one in use, in turn: never onto the SA in use.
    fn start(mut ctl: Ctl, connection: String, key_len: usize, current: An, installed: Sender<TxSa>) -> Rekeyer {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut n, mut an) = (0u64, current);
            // Relaxed: the flag orders nothing; the thread only needs to see it eventually.
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                an = an.next();
                if let Err(e) = ctl.rekey_tx(&connection, an, key_len, |sak| drop(installed.send(TxSa { an, sak }))) {
                    return Rekeyed { ctl, done: Err(e) };
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Rekeyed { ctl, done: Ok((n, an)) }
        });
        Rekeyer { stop, handle }
    }

    /// Stops the thread; gives the client back with the number of rekeys done and the AN in
    /// use after them.
    fn stop(self) -> Result<(Ctl, u64, An), String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let Rekeyed { ctl, done } = self.handle.join().map_err(|_| "rekey thread panicked".to_string())?;
        let (n, an) = done?;
        Ok((ctl, n, an))
    }
}

impl Gen {
    /// One phase: send at `pps` (0 = as fast as the port takes) for `secs`, then drain.
    #[allow(clippy::too_many_arguments)]
    fn phase(
        &mut self,
        name: &str,
        size: Size,
        t: &[Vec<u8>],
        pps: f64,
        secs: f64,
        ctl: &mut Option<Ctl>,
        a: &GenArgs,
    ) -> Result<Phase, String> {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
        let cpu0 = cpu_secs("/proc/thread-self/stat").unwrap_or(0.0);
        let drops0 = dp_drops(a.metrics);
        let work0 = dp_worker(a.metrics);
        let mut p = Phase { phase: name.into(), size: size.label(), offered_pps: pps, ..Default::default() };
        let (start, dur) = (tsc(), (secs * self.hz) as u64);
        let rekeys = ctl
            .take()
            .map(|c| Rekeyer::start(c, a.connection.clone(), a.sak.len(), self.tx_an, self.rekeyed.0.clone()));
        let mut burst = MbufBurst::new();
        let mut slot = 0usize;
        loop {
            let now = tsc();
            if now - start >= dur {
                break;
            }
            let allowed =
                if pps > 0.0 { (((now - start) as f64 / self.hz * pps) as u64).saturating_sub(p.sent) } else { 32 };
            self.fill(&mut burst, t, &mut slot, allowed.min(32) as usize);
            p.sent += self.tx_port.tx_burst(0, &mut burst) as u64;
            self.receive(&mut p, &mut hist);
        }
        let elapsed = (tsc() - start) as f64 / self.hz;
        if let Some(r) = rekeys {
            let (c, n, an) = r.stop()?;
            *ctl = Some(c);
            p.rekeys = n;
            self.tx_an = an;
        }
        // Frames never sent go back to the pool; then collect what is still in flight.
        burst.free_all();
        let drain = tsc();
        while ((tsc() - drain) as f64) < self.hz * 0.1 {
            self.receive(&mut p, &mut hist);
        }
        self.finish(&mut p, &hist, elapsed);
        let drops1 = dp_drops(a.metrics);
        (p.dp_port_tx_dropped, p.dp_other_drops) = (drops1.0 - drops0.0, drops1.1 - drops0.1);
        let work1 = dp_worker(a.metrics);
        let (busy, total, bursts) = (work1.0 - work0.0, work1.1 - work0.1, work1.2 - work0.2);
        p.dp_busy = if total > 0.0 { busy / total } else { 0.0 };
        p.dp_frames_per_burst = if bursts > 0.0 { p.received as f64 / bursts } else { 0.0 };
        let wall = (tsc() - start) as f64 / self.hz;
        p.gen_cpu_share = (cpu_secs("/proc/thread-self/stat").unwrap_or(0.0) - cpu0) / wall;
        Ok(p)
    }

    /// Tops `burst` up to `n` frames from the templates, stamping each slot's send time.
    fn fill(&mut self, burst: &mut MbufBurst, t: &[Vec<u8>], slot: &mut usize, n: usize) {
        let now = tsc();
        while burst.len() < n {
            let Some(mut m) = self.pool.alloc() else { return };
            if m.fill(&t[*slot]).is_err() {
                return;
            }
            self.sent_at[*slot] = now;
            *slot = (*slot + 1) % t.len();
            if burst.push(m).is_err() {
                return;
            }
        }
    }

    fn receive(&mut self, p: &mut Phase, hist: &mut Histogram<u64>) {
        if !self.rx {
            return;
        }
        let mut rx = MbufBurst::new();
        if self.rx_port.rx_burst(0, &mut rx) == 0 {
            return;
        }
        let now = tsc();
        for m in rx.as_mut_slice().iter() {
            self.account(m, now, p, hist);
        }
        rx.free_all();
    }

    fn account(&mut self, m: &Mbuf, now: u64, p: &mut Phase, hist: &mut Histogram<u64>) {
        let d = m.data();
        p.received += 1;
        p.rx_bytes += d.len() as u64;
        let off = if self.protect { SEQ_OFF_MAC } else { SEQ_OFF_PAYLOAD };
        let Some(seq) = d.get(off..off + 4) else { return };
        let seq = u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]) as usize;
        if self.protect {
            if let Some(tci) = d.get(14) {
                p.per_an[usize::from(tci & 3)] += 1;
            }
        }
        if let Some(&at) = self.sent_at.get(seq) {
            if at > 0 && now >= at {
                let ns = ((now - at) as f64 * 1e9 / self.hz) as u64;
                let _ = hist.record(ns.max(1));
            }
        }
        if p.checked_ok + p.checked_bad < CHECKS {
            match self.check(d, seq) {
                Some(true) => p.checked_ok += 1,
                Some(false) => p.checked_bad += 1,
                None => {}
            }
        }
    }

    /// Whether a returning frame is right (see [`Phase::checked_ok`]); `None` if it can't tell.
    fn check(&mut self, d: &[u8], seq: usize) -> Option<bool> {
        let want = self.clear.get(seq)?;
        if !self.protect {
            return Some(d == want.as_slice());
        }
        if self.checker.is_none() {
            self.checker = checker(&self.args, d);
        }
        let rx = self.checker.as_mut()?;
        let sci = frame_sci(d)?;
        for TxSa { an, sak } in self.rekeyed.1.try_iter() {
            let p = SaParams { an, pn: Pn(1), ssci: None, salt: None };
            rx.install_rx_sa(sci, &sak, &p).ok()?;
        }
        let mut f = d.to_vec();
        Some(rx.validate(&mut f) == macsec_dataplane::secy::RxVerdict::Ok && f == *want)
    }

    fn finish(&self, p: &mut Phase, hist: &Histogram<u64>, secs: f64) {
        p.secs = secs;
        p.lost = p.sent as i64 - p.received as i64;
        p.mpps = p.received as f64 / secs / 1e6;
        p.gbps = p.rx_bytes as f64 * 8.0 / secs / 1e9;
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1e3;
        p.lat_p50_us = us(0.5);
        p.lat_p99_us = us(0.99);
        p.lat_p999_us = us(0.999);
        p.lat_max_us = hist.max() as f64 / 1e3;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use macsec_dataplane::secy::RxVerdict;

    fn args(protect: bool) -> GenArgs {
        parse(["--mode", if protect { "protect" } else { "validate" }].into_iter().map(String::from)).unwrap()
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("IMIX"), Ok(Size::Imix));
        assert_eq!(parse_size("64"), Ok(Size::Fixed(64)));
        assert!(parse_size("big").is_err());
    }

    /// What validate mode sends is MACsec a receiver with the generator's SA accepts, and the
    /// sequence number is readable once decrypted.
    #[test]
    fn validate_templates_decrypt_to_their_sequence_numbers() {
        let a = args(false);
        let (t, clear) = templates(&a, Size::Imix).unwrap();
        let mut rx = Secy::new(SecyConfig::new(a.suite), Sci(0x0200_0000_000a_0001), Arc::new(RingBackend));
        rx.add_rx_sc(GEN_SCI);
        let sak = Sak::from_slice(&a.sak).unwrap();
        let an = An::new(0).unwrap();
        rx.install_rx_sa(GEN_SCI, &sak, &SaParams { an, pn: Pn(1), ssci: None, salt: None }).unwrap();
        for (i, f) in t.iter().take(100).enumerate() {
            let mut f = f.clone();
            assert_eq!(rx.validate(&mut f), RxVerdict::Ok);
            assert_eq!(&f[SEQ_OFF_PAYLOAD..SEQ_OFF_PAYLOAD + 4], &(i as u32).to_be_bytes());
            assert_eq!(f, clear[i]);
        }
    }

    #[test]
    fn protect_templates_carry_the_sequence_in_the_source_mac() {
        let (t, clear) = templates(&args(true), Size::Fixed(64)).unwrap();
        assert_eq!(t, clear);
        assert_eq!(t.len(), SLOTS);
        assert_eq!(&t[5][SEQ_OFF_MAC..SEQ_OFF_MAC + 4], &5u32.to_be_bytes());
        assert!(t.iter().all(|f| f.len() == 64 && f[12..14] == [0x08, 0x00]));
    }
}
