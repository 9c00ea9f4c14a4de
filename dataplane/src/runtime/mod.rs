//! The DPDK runtime of `macsec-dataplane`: EAL, ports, lanes of worker tasks on the worker
//! lcores, the service loop on the main lcore, the metrics HTTP thread, and a clean stop on
//! SIGINT/SIGTERM (workers drain and export, keys are dropped and zeroized, ports stopped).

mod ctl_socket;
mod lane;
mod metrics_http;
mod service;
mod status;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::appliance::config::{Config, Connection, KeySource};
use crate::appliance::ctl_proto::SecyRef;
use crate::appliance::lag::LagState;
use crate::appliance::pipeline::{ReplayState, SecyContext, SecyWorker};
use crate::appliance::sa_manager::SaManager;
use crate::dpdk::{tsc, tsc_hz, DpdkError, Eal, Lcore, Mempool, Port, Ring};
use crate::gcm::EngineBackend;
use crate::secy::{Sci, SecyConfig};
use lane::{Direction, Lane, RxSide, Task, TxSide};
pub use status::snapshot;

/// One SecY at run time: a connection (or one LAG member) with its ports and lanes.
pub struct SecyRt {
    pub secy: SecyRef,
    pub conn: Connection,
    pub ctx: Arc<SecyContext>,
    pub host: Port,
    pub wire: Port,
    pub wire_dev: String,
    pub mac: [u8; 6],
    /// Wire → service lcore (EAPOL), service lcore → wire (MKPDUs).
    pub punt: Arc<Ring>,
    pub inject: Arc<Ring>,
    /// `[protect, validate]`. A LAG's members share its protect lane.
    pub lanes: [Arc<Lane>; 2],
    /// The index of this SecY among its LAG's members (0 without a LAG), also its transmit side
    /// on the protect lane.
    pub member: usize,
    pub lag: Option<Arc<LagState>>,
    /// Queue pairs of the host port (`queues`, or one per LAG member if more).
    pub host_queues: u16,
    pub rekeys_control: AtomicU64,
    pub pn_threshold_requests: AtomicU64,
    pub static_keys: bool,
}

impl SecyRt {
    /// (nextPN, lowestPN) of an Rx SA slot: the highest any worker exported.
    fn rx_pns(&self, ch: usize, an: usize) -> (u64, u64) {
        (0..self.ctx.slot.workers())
            .filter_map(|w| self.ctx.export(w)?.rx_pn(ch, an))
            .fold((0, 0), |(n, l), (n2, l2)| (n.max(n2), l.max(l2)))
    }
}

/// A worker lcore's load, exported every drain tick.
pub struct WorkerExport {
    pub lcore: u32,
    pub busy: AtomicU64,
    pub total: AtomicU64,
    pub bursts: AtomicU64,
}

/// What the service loop, the metrics thread and the workers share.
pub struct Shared {
    pub secys: Vec<Arc<SecyRt>>,
    pub workers: Vec<WorkerExport>,
    pub stop: Arc<AtomicBool>,
    pub tsc_hz: u64,
}

/// Why the runtime could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<DpdkError> for StartError {
    fn from(e: DpdkError) -> Self {
        StartError(e.to_string())
    }
}

/// Runs the dataplane until SIGINT/SIGTERM. Prints a final status line as JSON on stdout.
pub fn run(cfg: Config) -> Result<(), StartError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| StartError(format!("signal handler: {e}")))?;
    }
    let eal = Eal::init(&cfg.eal_args())?;
    let result = run_with_eal(&eal, &cfg, stop);
    eal.cleanup();
    result
}

fn run_with_eal(eal: &Eal, cfg: &Config, stop: Arc<AtomicBool>) -> Result<(), StartError> {
    let lcores = eal.workers();
    if lcores.is_empty() {
        return Err(StartError(
            "eal.lcores: expected at least 2 lcores (the main one serves, the others forward)".into(),
        ));
    }
    let pool = Arc::new(Mempool::new("macsec_mbufs", cfg.mbufs)?);
    let mut secys = Vec::new();
    let mut tasks: Vec<Task> = Vec::new();
    let mut managers = Vec::new();
    for (ci, conn) in cfg.connections.iter().enumerate() {
        let mut b = build_connection(ci, conn, &pool)?;
        tasks.append(&mut b.tasks);
        managers.append(&mut b.managers);
        secys.append(&mut b.secys);
    }
    let workers =
        lcores.iter().map(|l| WorkerExport { lcore: l.0, busy: 0.into(), total: 0.into(), bursts: 0.into() }).collect();
    let shared = Arc::new(Shared { secys, workers, stop: stop.clone(), tsc_hz: tsc_hz() });
    let mut service = service::Service {
        shared: shared.clone(),
        managers,
        ctl: ctl_socket::CtlServer::bind(&cfg.control_socket)
            .map_err(|e| StartError(format!("control.socket = {}: cannot bind ({e})", cfg.control_socket.display())))?,
        pool: pool.clone(),
        threshold_notified: Vec::new(),
    };
    service.load_static_keys().map_err(StartError)?;
    let metrics = metrics_http::serve(cfg.metrics_listen, shared.clone())
        .map_err(|e| StartError(format!("metrics.listen = {}: cannot listen ({e})", cfg.metrics_listen)))?;
    launch_workers(eal, &lcores, tasks, &shared)?;
    eprintln!(
        "macsec-dataplane: running {} connection(s) on {} worker lcore(s); control {}, metrics http://{}/metrics",
        shared.secys.len(),
        lcores.len(),
        cfg.control_socket.display(),
        cfg.metrics_listen
    );
    service.run();
    eal.wait_all();
    let last = snapshot(&shared);
    println!("{}", serde_json::to_string(&last).unwrap_or_default());
    metrics.stop();
    // Keys: dropping the managers drops the last key tables (workers are offline): SAKs zeroize.
    service.managers.clear();
    let mut ports: Vec<Port> = shared.secys.iter().flat_map(|s| [s.host, s.wire]).collect();
    ports.sort_by_key(|p| p.0);
    ports.dedup_by_key(|p| p.0);
    for p in ports {
        let _ = p.stop();
        let _ = p.close();
    }
    eprintln!("macsec-dataplane: stopped");
    Ok(())
}

fn secy_config(conn: &Connection) -> SecyConfig {
    let mut c = SecyConfig::new(conn.cipher_suite);
    c.validate_frames = conn.validate_frames;
    c.replay_protect = conn.replay_protect;
    c.replay_window = conn.replay_window;
    c.confidentiality_offset = conn.confidentiality_offset;
    c.max_frame_len = conn.max_frame_len;
    c
}

/// What a connection brings to the runtime: its SecYs (one per wire port), their tasks and key
/// managers (in the same order as the SecYs).
struct Built {
    secys: Vec<Arc<SecyRt>>,
    tasks: Vec<Task>,
    managers: Vec<SaManager>,
}

/// Ports, rings, lanes and tasks of one connection. A LAG (several wire ports) has one SecY per
/// member and one protect lane that hashes the host port's flows over the members; each member
/// has its own validate lane towards its own Tx queue of the host port.
fn build_connection(ci: usize, conn: &Connection, pool: &Mempool) -> Result<Built, StartError> {
    let members = conn.wire_ports.len().max(1);
    // The host port: the configured queue pairs, and at least one Tx queue per LAG member (each
    // member's validate lane sends on its own).
    let queues = conn.queues.max(members as u16);
    let host = Port::by_name(&conn.host_port)
        .map_err(|e| StartError(format!("connections[{ci}].host_port = {:?}: no such port ({e})", conn.host_port)))?;
    host.configure(queues, queues, 1024, pool).map_err(|e| {
        StartError(format!(
            "connections[{ci}].host_port = {:?}: {e} ({queues} queue pairs: the queues setting, at least one per LAG member; net_af_packet: qpairs={queues})",
            conn.host_port
        ))
    })?;
    host.start()?;
    let n = u64::from(conn.workers.max(1));
    let lag = (members > 1).then(|| Arc::new(LagState::new(members)));
    let mut wires = Vec::new();
    let mut validate_lanes = Vec::new();
    let mut tx_sides = Vec::new();
    for (m, w) in conn.wire_ports.iter().enumerate() {
        let key = if members > 1 {
            format!("connections[{ci}].wire_ports[{m}].device")
        } else {
            format!("connections[{ci}].wire_port")
        };
        let wire =
            Port::by_name(&w.device).map_err(|e| StartError(format!("{key} = {:?}: no such port ({e})", w.device)))?;
        wire.configure(conn.queues, conn.queues, 1024, pool)
            .map_err(|e| StartError(format!("{key} = {:?}: {e}", w.device)))?;
        wire.start()?;
        let mac = wire.mac()?;
        // IEEE 802.1AE-2018 8.2.1: the SCI is the port's MAC address and a port identifier; each
        // LAG member is its own SecY with its own SCI (11.7).
        let sci = Sci::from_mac_port(mac, conn.sci_port);
        let ctx = SecyContext::new(secy_config(conn), sci, conn.encryption_mode, 2 * n as usize, conn.pn_threshold);
        let punt = Arc::new(Ring::new(&format!("punt{ci}_{m}"), 1024)?);
        let inject = Arc::new(Ring::new(&format!("inject{ci}_{m}"), 1024)?);
        tx_sides.push(TxSide { port: wire, queue: 0, replay: ReplayState::default(), ring: inject.clone() });
        let tx = TxSide { port: host, queue: m as u16, replay: ReplayState::default(), ring: punt.clone() };
        validate_lanes.push(Lane::new(Direction::Validate, RxSide::new(wire, conn.queues), vec![tx], None));
        wires.push((w.device.clone(), wire, mac, ctx, punt, inject));
    }
    let mut protect = Lane::new(Direction::Protect, RxSide::new(host, queues), tx_sides, lag.clone());
    let mut tasks = Vec::new();
    // All protect tasks, then all validate tasks: dealt round robin onto the lcores, each
    // direction's tasks land on different lcores and run in parallel.
    let pt = protect.seq.tickets(n);
    let vts: Vec<_> = validate_lanes.iter_mut().map(|l| l.seq.tickets(n)).collect();
    let protect = Arc::new(protect);
    for (k, t) in pt.into_iter().enumerate() {
        let workers = wires.iter().map(|w| SecyWorker::new(w.3.clone(), k)).collect();
        tasks.push(Task::new(protect.clone(), t, workers));
    }
    let mut built = Built { secys: Vec::new(), tasks: Vec::new(), managers: Vec::new() };
    for (m, ((lane, vt), (wire_dev, wire, mac, ctx, punt, inject))) in
        validate_lanes.into_iter().zip(vts).zip(wires).enumerate()
    {
        let lane = Arc::new(lane);
        for (k, t) in vt.into_iter().enumerate() {
            tasks.push(Task::new(lane.clone(), t, vec![SecyWorker::new(ctx.clone(), n as usize + k)]));
        }
        built.managers.push(SaManager::new(ctx.slot.clone(), Arc::new(EngineBackend::detect()), conn.cipher_suite));
        built.secys.push(Arc::new(SecyRt {
            secy: SecyRef { connection: conn.id.clone(), member: m as u16 },
            conn: conn.clone(),
            ctx,
            host,
            wire,
            wire_dev,
            mac,
            punt,
            inject,
            lanes: [protect.clone(), lane],
            member: m,
            lag: lag.clone(),
            host_queues: queues,
            rekeys_control: AtomicU64::new(0),
            pn_threshold_requests: AtomicU64::new(0),
            static_keys: matches!(conn.key_source, KeySource::Static(_)),
        }));
    }
    built.tasks = tasks;
    Ok(built)
}

/// Deals the tasks round robin onto the worker lcores and starts them.
fn launch_workers(eal: &Eal, lcores: &[Lcore], tasks: Vec<Task>, shared: &Arc<Shared>) -> Result<(), StartError> {
    let mut per: Vec<Vec<Task>> = lcores.iter().map(|_| Vec::new()).collect();
    for (i, t) in tasks.into_iter().enumerate() {
        per[i % lcores.len()].push(t);
    }
    for (i, (lcore, tasks)) in lcores.iter().zip(per).enumerate() {
        let shared = shared.clone();
        eal.launch(*lcore, move || worker_main(tasks, &shared, i))?;
    }
    Ok(())
}

/// A worker lcore: poll every task, export counters on the drain tick (every millisecond), stop
/// when the flag is set.
fn worker_main(mut tasks: Vec<Task>, shared: &Shared, index: usize) {
    let hz = shared.tsc_hz.max(1);
    let drain = hz / 1000;
    let start = tsc();
    let mut last = start;
    let (mut busy, mut bursts) = (0u64, 0u64);
    // Relaxed: the flag orders nothing; workers only need to see it eventually.
    while !shared.stop.load(Ordering::Relaxed) {
        let t0 = tsc();
        let mut moved = 0;
        for t in tasks.iter_mut() {
            moved += t.poll();
            t.quiescent();
        }
        let now = tsc();
        if moved > 0 {
            busy += now - t0;
            bursts += 1;
        }
        if now - last > drain {
            last = now;
            for t in tasks.iter_mut() {
                t.request_export();
                t.export_if_protect();
            }
            if let Some(w) = shared.workers.get(index) {
                w.busy.store(busy, Ordering::Relaxed);
                w.total.store(now - start, Ordering::Relaxed);
                w.bursts.store(bursts, Ordering::Relaxed);
            }
        }
    }
    finish(&mut tasks);
}

/// Lets in-flight bursts finish their turns (bounded), then stops every task.
fn finish(tasks: &mut [Task]) {
    let deadline = tsc() + tsc_hz() / 10;
    while tsc() < deadline && tasks.iter().any(|t| t.in_flight()) {
        for t in tasks.iter_mut() {
            t.request_export();
            t.flush();
        }
    }
    for t in tasks.iter_mut() {
        t.stop();
    }
}
