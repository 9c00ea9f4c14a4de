//! `macsec-control --config appliance.toml`: drives one MKA participant per associated key of
//! every connection, talks to the dataplane over its control socket (reconnecting and re-securing
//! when the dataplane restarts), serves the operator socket for `macsecctl` and its own metrics.

mod conn;
mod dp_link;
mod metrics;
mod operator;
mod schedule;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use macsec_dataplane::appliance::config::Config;
use macsec_dataplane::appliance::ctl_proto::{Event, ReplyBody, Request, SecyInfo, ServerMsg, PROTOCOL_VERSION};
use macsec_dataplane::secy::{An, Sci};
use tokio::sync::{mpsc, oneshot};

use crate::key_store::{KeyStore, Pending, StoreError};
use crate::mka::keys::Ckn;
use crate::mka::participant::DpEvent;
use crate::operator_proto::OpReply;
use conn::Conn;
use dp_link::DpLink;
use operator::{AfterSave, Op};

const USAGE: &str = "usage: macsec-control --config PATH

  --config PATH   the appliance config (TOML) shared with macsec-dataplane";

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [flag, p] if flag == "--config" => PathBuf::from(p),
        [h] if h == "-h" || h == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("macsec-control: --config: expected a path\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("macsec-control: config error: {e}");
            return ExitCode::from(2);
        }
    };
    harden();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("macsec-control: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macsec-control: {e}");
            ExitCode::from(1)
        }
    }
}

/// No core dumps or ptrace of a process holding CAKs, and no key page in swap.
fn harden() {
    let h = macsec_dataplane::appliance::hardening::harden();
    eprintln!("macsec-control: {h}");
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A key store write running on the blocking pool, the change it is for and who waits for it.
struct Saving {
    task: tokio::task::JoinHandle<(Pending, Result<(), StoreError>)>,
    then: AfterSave,
    reply: Option<oneshot::Sender<OpReply>>,
}

impl Saving {
    /// Replies at once, or starts the write.
    fn start(op: Op, reply: Option<oneshot::Sender<OpReply>>) -> Option<Saving> {
        match op {
            Op::Done(r) => {
                Self::answer(reply, r);
                None
            }
            Op::Save(p, then) => {
                let task = tokio::task::spawn_blocking(move || {
                    let written = p.write();
                    (p, written)
                });
                Some(Saving { task, then, reply })
            }
        }
    }

    fn end(self, d: &mut Daemon, joined: Result<(Pending, Result<(), StoreError>), tokio::task::JoinError>) {
        let r = match joined {
            Ok((p, written)) => d.finish(p, written, self.then),
            Err(e) => OpReply::err(format!("key store: the write did not complete ({e}); the keychain is unchanged")),
        };
        Self::answer(self.reply, r);
    }

    /// To the operator who asked, or to the log for a scheduled deletion.
    fn answer(reply: Option<oneshot::Sender<OpReply>>, r: OpReply) {
        match reply {
            Some(tx) => {
                let _ = tx.send(r);
            }
            None if !r.ok => eprintln!("macsec-control: {}", r.error.unwrap_or_default()),
            None => {}
        }
    }
}

/// A request from the operator socket with the channel for its reply.
pub type OpCall = (crate::operator_proto::OpRequest, oneshot::Sender<crate::operator_proto::OpReply>);

pub struct Daemon {
    pub cfg: Config,
    pub store: KeyStore,
    pub conns: Vec<Conn>,
    dp: Option<DpLink>,
    status_ids: Vec<u64>,
    last_log: Vec<String>,
}

async fn run(cfg: Config) -> Result<(), String> {
    let store = KeyStore::open(&cfg.mka.key_store, &cfg.mka.master_key_file).map_err(|e| e.to_string())?;
    let (op_tx, mut op_rx) = mpsc::channel::<OpCall>(16);
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<oneshot::Sender<String>>(4);
    operator::serve(&cfg.mka.operator_socket, op_tx)
        .map_err(|e| format!("control.operator_socket = {}: {e}", cfg.mka.operator_socket.display()))?;
    operator::serve_metrics(cfg.mka.metrics_listen, metrics_tx)
        .await
        .map_err(|e| format!("control.metrics_listen = {}: {e}", cfg.mka.metrics_listen))?;
    let mut d = Daemon { cfg, store, conns: Vec::new(), dp: None, status_ids: Vec::new(), last_log: Vec::new() };
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut status_tick = tokio::time::interval(Duration::from_secs(1));
    let mut saving: Option<Saving> = None;
    eprintln!(
        "macsec-control: started; operator socket {}, metrics http://{}/metrics",
        d.cfg.mka.operator_socket.display(),
        d.cfg.mka.metrics_listen
    );
    loop {
        if d.dp.is_none() {
            d.connect_dataplane();
        }
        d.flush();
        let deadline = d
            .conns
            .iter()
            .filter_map(|c| c.next_timeout())
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        let idle = saving.is_none();
        let save_done = async {
            match saving.as_mut() {
                Some(s) => (&mut s.task).await,
                None => std::future::pending().await,
            }
        };
        let msg = async {
            match d.dp.as_mut() {
                Some(dp) => Some(dp.recv().await),
                None => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    None
                }
            }
        };
        tokio::select! {
            m = msg => match m {
                Some(Ok(m)) => d.on_dataplane(m),
                Some(Err(e)) => d.dataplane_lost(&e.to_string()),
                None => {}
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                let now = Instant::now();
                for c in &mut d.conns { c.handle_timeout(now); }
            }
            // One key store write at a time; requests wait in the channel meanwhile.
            Some((req, reply)) = op_rx.recv(), if idle => {
                let op = d.begin(req);
                saving = Saving::start(op, Some(reply));
            }
            joined = save_done => if let Some(s) = saving.take() {
                s.end(&mut d, joined);
            },
            Some(reply) = metrics_rx.recv() => {
                let _ = reply.send(metrics::render(&d.conns, d.dp.is_some()));
            }
            _ = status_tick.tick() => if let Some(op) = d.tick(idle) {
                saving = Saving::start(op, None);
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
        d.log_changes();
    }
    eprintln!("macsec-control: stopping (the dataplane keeps its SAs until it is stopped or MKA peers expire)");
    Ok(())
}

impl Daemon {
    fn connect_dataplane(&mut self) {
        let Ok(mut dp) = DpLink::connect(&self.cfg.control_socket) else { return };
        if dp.send(Request::Hello { version: PROTOCOL_VERSION }).is_err() || dp.send(Request::Subscribe).is_err() {
            return;
        }
        eprintln!("macsec-control: connected to the dataplane at {}", self.cfg.control_socket.display());
        self.dp = Some(dp);
    }

    fn dataplane_lost(&mut self, why: &str) {
        eprintln!("macsec-control: lost the dataplane ({why}); reconnecting");
        self.dp = None;
    }

    /// Sends MKPDUs and SA requests the connections queued.
    fn flush(&mut self) {
        let Some(dp) = self.dp.as_mut() else {
            for c in &mut self.conns {
                c.out.clear();
                c.drain_transmit();
            }
            return;
        };
        let mut failed = None;
        for c in &mut self.conns {
            // SA requests before the MKPDUs that announce them: an MKPDU saying we receive with
            // the latest SAK lets the key server transmit with it (802.1X-2020 9.8), so the Rx
            // SA must be in the dataplane (which applies requests in order) before it is sent.
            for r in c.out.drain(..) {
                if let Err(e) = dp.send(r) {
                    failed = Some(e);
                }
            }
            for frame in c.drain_transmit() {
                if let Err(e) = dp.send(Request::SendEapol { secy: c.secy.clone(), frame: hex::encode(frame) }) {
                    failed = Some(e);
                }
            }
        }
        if let Some(e) = failed {
            self.dataplane_lost(&e.to_string());
        }
    }

    fn on_dataplane(&mut self, m: ServerMsg) {
        let now = Instant::now();
        match m {
            ServerMsg::Reply(r) => match r.body {
                ReplyBody::Hello { secys, .. } => self.on_hello(&secys, now),
                ReplyBody::Status { snapshot } if self.status_ids.contains(&r.id) => {
                    self.status_ids.retain(|i| *i != r.id);
                    for s in &snapshot.secys {
                        let member = |c: &&mut Conn| c.secy.connection == s.connection && c.secy.member == s.member;
                        let Some(c) = self.conns.iter_mut().find(member) else { continue };
                        if let Some((tx, an)) = s.tx_sa.as_ref().and_then(|tx| Some((tx, An::new(tx.an)?))) {
                            c.handle_dataplane(now, DpEvent::TxNextPn { an, next_pn: tx.next_pn });
                        }
                        c.tx_next_pn = s.tx_sa.as_ref().map(|tx| tx.next_pn);
                        let rx = s.rx_scs.iter().flat_map(|sc| &sc.sas).filter(|sa| sa.installed);
                        c.rx_next_pn = rx.map(|sa| sa.next_pn).max();
                        let installed: Vec<(Sci, An)> = s
                            .rx_scs
                            .iter()
                            .filter_map(|sc| Some((Sci(u64::from_str_radix(&sc.sci, 16).ok()?), sc)))
                            .flat_map(|(sci, sc)| {
                                sc.sas
                                    .iter()
                                    .filter(|sa| sa.installed)
                                    .filter_map(move |sa| Some((sci, An::new(sa.an)?)))
                            })
                            .collect();
                        c.learn_stale(&installed, s.tx_sa.as_ref().and_then(|t| An::new(t.an)));
                    }
                }
                ReplyBody::Error { message } => eprintln!("macsec-control: dataplane refused a request: {message}"),
                _ => {}
            },
            ServerMsg::Event(Event::Eapol { secy, frame }) => {
                let Ok(bytes) = hex::decode(&frame) else { return };
                if let Some(c) = self.conns.iter_mut().find(|c| c.secy == secy) {
                    c.handle_mkpdu(now, &bytes);
                }
            }
            ServerMsg::Event(Event::PnThreshold { secy, an, next_pn }) => {
                if let (Some(c), Some(an)) = (self.conns.iter_mut().find(|c| c.secy == secy), An::new(an)) {
                    c.handle_dataplane(now, DpEvent::PnThreshold { an, next_pn });
                }
            }
            ServerMsg::Event(_) => {}
        }
    }

    /// First contact: create the connections with the SCI and MAC the dataplane reports and start
    /// a participant per stored key. Later contacts (dataplane restarted): re-secure.
    fn on_hello(&mut self, secys: &[SecyInfo], now: Instant) {
        if !self.conns.is_empty() {
            for c in &mut self.conns {
                c.resync(now);
            }
            return;
        }
        for info in secys.iter().filter(|i| !i.static_keys) {
            let Some(cfg) = self.cfg.connections.iter().find(|c| c.id == info.secy.connection) else { continue };
            let Ok(sci) = u64::from_str_radix(&info.sci, 16) else { continue };
            let mut mac = [0u8; 6];
            for (m, part) in mac.iter_mut().zip(info.mac.split(':')) {
                *m = u8::from_str_radix(part, 16).unwrap_or(0);
            }
            let mut c = Conn::new(cfg.clone(), info.secy.clone(), Sci(sci), mac);
            for e in self.store.entries().iter().filter(|e| e.connection == cfg.id) {
                match (self.store.unseal(e), Ckn::from_hex(&e.ckn)) {
                    (Ok(cak), Ok(ckn)) => c.add_key(ckn, cak, e.associated_at, now),
                    (Err(err), _) => eprintln!("macsec-control: {err}"),
                    _ => {}
                }
            }
            c.out.push(Request::SetMode { secy: c.secy.clone(), mode: c.mode.name().to_owned() });
            eprintln!(
                "macsec-control: connection {} (SCI {}, {}): {} key(s)",
                c.secy,
                info.sci,
                c.cfg.cipher_suite,
                c.keys.len()
            );
            self.conns.push(c);
        }
    }

    /// Every second: dataplane status (Tx PNs); and, when no key store write is in progress,
    /// the first scheduled key deletion that is due.
    fn tick(&mut self, may_save: bool) -> Option<Op> {
        if let Some(dp) = self.dp.as_mut() {
            if let Ok(id) = dp.send(Request::Status) {
                self.status_ids.push(id);
                if self.status_ids.len() > 8 {
                    self.status_ids.remove(0);
                }
            }
        }
        let (conn, ckn) = schedule::due(self.store.entries(), unix_now()).into_iter().next().filter(|_| may_save)?;
        eprintln!("macsec-control: connection {conn}: scheduled deletion of CKN {ckn} is due");
        Some(self.disassociate(&conn, &ckn))
    }

    /// Logs state changes (never key material).
    fn log_changes(&mut self) {
        self.last_log.resize(self.conns.len(), String::new());
        for (c, last) in self.conns.iter().zip(self.last_log.iter_mut()) {
            let line = match c.keys.iter().find(|k| Some(&k.ckn) == c.principal.as_ref()) {
                Some(k) => {
                    let s = k.participant.status();
                    // The latest SAK, and the AN we send on: they differ while a new SAK is
                    // being taken into use (802.1X-2020 9.8).
                    format!(
                        "encryption up with CKN {}, key server {}{}, AN {}, KN {}, transmitting on AN {}",
                        s.ckn,
                        s.key_server_sci.unwrap_or_default(),
                        if s.key_server { " (us)" } else { "" },
                        s.latest_an.unwrap_or(0),
                        s.latest_kn.unwrap_or(0),
                        k.encoding_an().map_or(0, |an| an.get())
                    )
                }
                None => format!("encryption down ({} key(s), mode {})", c.keys.len(), c.mode.name()),
            };
            if *last != line {
                eprintln!("macsec-control: connection {}: {line}", c.secy);
                *last = line;
            }
        }
    }
}
