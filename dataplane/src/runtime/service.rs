//! The service lcore (the main lcore): SA management from the control socket or the static key
//! file, EAPOL relay in both directions, PN threshold events, retiring old key tables. It may
//! block briefly and allocate; workers never wait for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::ctl_socket::{CtlServer, Incoming};
use super::status::link_up;
use super::{snapshot, SecyRt, Shared};
use crate::appliance::config::EncryptionMode;
use crate::appliance::ctl_proto::{Event, Reply, ReplyBody, Request, SecyInfo, SecyRef, ServerMsg, PROTOCOL_VERSION};
use crate::appliance::lag::{usable_mask, LagState, MemberState};
use crate::appliance::sa_manager::SaManager;
use crate::appliance::static_keys::StaticKeys;
use crate::dpdk::{Mbuf, MbufBurst, Mempool};
use crate::secy::{An, Pn, SaParams, Salt, Sci, Ssci};

/// The service lcore's state.
pub struct Service {
    pub shared: Arc<Shared>,
    pub managers: Vec<SaManager>,
    pub ctl: CtlServer,
    pub pool: Arc<Mempool>,
    /// Per SecY: the id of the Tx SA whose PN threshold event was sent.
    pub threshold_notified: Vec<u64>,
}

type Refusal = String;

impl Service {
    /// Installs the SAs of every static-key SecY (checked at config time; checked again here).
    pub fn load_static_keys(&mut self) -> Result<(), String> {
        for (s, m) in self.shared.secys.iter().zip(self.managers.iter_mut()) {
            let crate::appliance::config::KeySource::Static(path) = &s.conn.key_source else { continue };
            let keys = StaticKeys::load(path, s.conn.cipher_suite).map_err(|e| format!("{}: {e}", path.display()))?;
            for (sci, sa) in &keys.rx {
                m.install_rx_sa(*sci, &sa.sak, &sa.params).map_err(|e| format!("{}: rx sa: {e}", s.secy))?;
            }
            for sa in &keys.tx {
                m.install_tx_sa(&sa.sak, &sa.params).map_err(|e| format!("{}: tx sa: {e}", s.secy))?;
            }
            if let Some(first) = keys.tx.first() {
                m.enable_tx_sa(first.params.an).map_err(|e| format!("{}: {e}", s.secy))?;
            }
        }
        Ok(())
    }

    /// Runs until the stop flag is set.
    pub fn run(&mut self) {
        let mut last_health = std::time::Instant::now();
        while !self.shared.stop.load(Ordering::Relaxed) {
            self.ctl.accept();
            self.serve_requests();
            self.relay_eapol();
            self.pn_thresholds();
            if last_health.elapsed() >= LAG_HEALTH_INTERVAL {
                last_health = std::time::Instant::now();
                self.lag_health();
            }
            for m in &mut self.managers {
                m.reclaim();
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn serve_requests(&mut self) {
        let mut i = 0;
        while i < self.ctl.clients.len() {
            let before = self.ctl.clients.len();
            match self.ctl.recv(i) {
                Some(Incoming::Request(m)) => {
                    let body = self.handle(i, m.req);
                    self.ctl.send(i, &ServerMsg::Reply(Reply { id: m.id, body }));
                }
                Some(Incoming::Malformed(message)) => {
                    self.ctl.send(i, &ServerMsg::Reply(Reply { id: 0, body: ReplyBody::Error { message } }))
                }
                None if self.ctl.clients.len() < before => {}
                None => i += 1,
            }
        }
    }

    fn handle(&mut self, client: usize, req: Request) -> ReplyBody {
        match req {
            Request::Hello { version } if version != PROTOCOL_VERSION => {
                ReplyBody::Error { message: format!("version: expected {PROTOCOL_VERSION}, got {version}") }
            }
            Request::Hello { .. } => ReplyBody::Hello { version: PROTOCOL_VERSION, secys: self.infos() },
            Request::Subscribe => {
                if let Some(c) = self.ctl.clients.get_mut(client) {
                    c.subscribed = true;
                }
                ReplyBody::Ok
            }
            Request::Status => ReplyBody::Status { snapshot: Box::new(snapshot(&self.shared)) },
            other => match self.manage(other) {
                Ok(()) => ReplyBody::Ok,
                Err(message) => ReplyBody::Error { message },
            },
        }
    }

    fn infos(&self) -> Vec<SecyInfo> {
        self.shared
            .secys
            .iter()
            .map(|s| SecyInfo {
                secy: s.secy.clone(),
                sci: format!("{:016x}", s.ctx.sci.0),
                mac: s.mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
                cipher_suite: s.conn.cipher_suite.to_string(),
                encryption_mode: s.ctx.mode().name().to_owned(),
                static_keys: s.static_keys,
            })
            .collect()
    }

    fn find(&self, r: &SecyRef) -> Result<usize, Refusal> {
        self.shared
            .secys
            .iter()
            .position(|s| s.secy == *r)
            .ok_or_else(|| format!("secy: no connection {:?} member {} on this dataplane", r.connection, r.member))
    }

    /// The SecY management requests (IEEE 802.1AE-2018 10.7). A refused request changes nothing.
    fn manage(&mut self, req: Request) -> Result<(), Refusal> {
        match req {
            Request::InstallTxSa { secy, an, next_pn, ssci, salt, sak } => {
                let i = self.find(&secy)?;
                let p = sa_params(an, next_pn, ssci, salt.as_deref())?;
                let sak = sak.to_sak().map_err(|e| format!("sak: {e}"))?;
                self.managers[i].install_tx_sa(&sak, &p).map_err(|e| e.to_string())
            }
            Request::EnableTxSa { secy, an } => {
                let i = self.find(&secy)?;
                self.managers[i].enable_tx_sa(parse_an(an)?).map_err(|e| e.to_string())?;
                self.shared.secys[i].rekeys_control.fetch_add(1, Ordering::Relaxed);
                // A new encoding SA starts below the threshold again.
                self.shared.secys[i].ctx.threshold_reached.store(false, Ordering::Relaxed);
                Ok(())
            }
            Request::DeleteTxSa { secy, an } => {
                let i = self.find(&secy)?;
                self.managers[i].delete_tx_sa(parse_an(an)?);
                Ok(())
            }
            Request::InstallRxSa { secy, peer_sci, an, lowest_pn, ssci, salt, sak } => {
                let i = self.find(&secy)?;
                let sci = parse_sci(&peer_sci)?;
                let p = sa_params(an, lowest_pn, ssci, salt.as_deref())?;
                let sak = sak.to_sak().map_err(|e| format!("sak: {e}"))?;
                self.managers[i].install_rx_sa(sci, &sak, &p).map_err(|e| e.to_string())
            }
            Request::DeleteRxSa { secy, peer_sci, an } => {
                let i = self.find(&secy)?;
                self.managers[i].delete_rx_sa(parse_sci(&peer_sci)?, parse_an(an)?);
                Ok(())
            }
            Request::ClearSas { secy } => {
                let i = self.find(&secy)?;
                self.managers[i].clear();
                Ok(())
            }
            Request::SetMode { secy, mode } => {
                let i = self.find(&secy)?;
                let m = EncryptionMode::parse(&mode).ok_or_else(|| {
                    format!("mode: expected must_encrypt, should_encrypt or no_encrypt, got {mode:?}")
                })?;
                self.shared.secys[i].ctx.set_mode(m);
                Ok(())
            }
            Request::SendEapol { secy, frame } => {
                let i = self.find(&secy)?;
                self.inject(i, &frame)
            }
            _ => Err("op: not a management request".to_owned()),
        }
    }

    /// Queues an EAPOL frame for the protect lane, which sends it on the wire port.
    fn inject(&mut self, i: usize, frame_hex: &str) -> Result<(), Refusal> {
        let bytes = hex::decode(frame_hex).map_err(|_| "frame: expected hex digits".to_owned())?;
        if bytes.len() < 18 || bytes[12..14] != [0x88, 0x8e] {
            return Err("frame: expected an Ethernet frame with EtherType 0x888e (EAPOL)".to_owned());
        }
        let mut m: Mbuf = self.pool.alloc().ok_or("frame: no free mbuf, try again")?;
        m.fill(&bytes).map_err(|_| "frame: longer than an mbuf".to_owned())?;
        self.shared.secys[i].inject.enqueue(m).map_err(|_| "frame: inject queue full, try again".to_owned())
    }

    /// EAPOL frames punted by the validate lanes go to the subscribed control clients.
    fn relay_eapol(&mut self) {
        for i in 0..self.shared.secys.len() {
            let s = self.shared.secys[i].clone();
            let mut burst = MbufBurst::new();
            s.punt.dequeue_burst(&mut burst);
            while let Some(m) = burst.pop() {
                let event = Event::Eapol { secy: s.secy.clone(), frame: hex::encode(m.data()) };
                self.ctl.broadcast(&ServerMsg::Event(event));
            }
        }
    }

    /// One event per encoding SA that passed its PN threshold (workers raise the flag on every
    /// burst above it).
    fn pn_thresholds(&mut self) {
        self.threshold_notified.resize(self.shared.secys.len(), 0);
        for ((s, m), notified) in self.shared.secys.iter().zip(&self.managers).zip(self.threshold_notified.iter_mut()) {
            if !s.ctx.threshold_reached.swap(false, Ordering::Relaxed) {
                continue;
            }
            let (Some(tx), Some(next)) = (m.encoding_sa(), m.tx_next_pn()) else { continue };
            if *notified == tx.id {
                continue;
            }
            *notified = tx.id;
            s.pn_threshold_requests.fetch_add(1, Ordering::Relaxed);
            let event = Event::PnThreshold { secy: s.secy.clone(), an: tx.an.get(), next_pn: next.0 };
            self.ctl.broadcast(&ServerMsg::Event(event));
        }
    }

    /// LAGs: a member carries the host's flows while it has link and (once any member has) a
    /// Tx SA; a change moves only the flows of the members that changed.
    fn lag_health(&mut self) {
        let mut states: Vec<LagMembers> = Vec::new();
        for s in &self.shared.secys {
            let Some(lag) = &s.lag else { continue };
            let state =
                MemberState { link_up: link_up(&s.wire_dev, s.wire), secured: s.ctx.slot.current().tx.is_some() };
            match states.iter_mut().find(|(l, _, _)| Arc::ptr_eq(l, lag)) {
                Some((_, members, secys)) => {
                    members.push(state);
                    secys.push(s.clone());
                }
                None => states.push((lag.clone(), vec![state], vec![s.clone()])),
            }
        }
        for (lag, members, secys) in states {
            let mask = usable_mask(&members);
            if !lag.set_usable(mask) {
                continue;
            }
            let each: Vec<String> = secys
                .iter()
                .zip(&members)
                .map(|(s, m)| {
                    let why = match (m.link_up, m.secured, mask & (1 << s.member) != 0) {
                        (_, _, true) => "carries traffic",
                        (false, _, _) => "link down",
                        (true, false, _) => "no Tx SA",
                        (true, true, false) => "standby",
                    };
                    format!("member {} ({}): {why}", s.member, s.wire_dev)
                })
                .collect();
            let id = secys.first().map(|s| s.secy.connection.as_str()).unwrap_or("");
            eprintln!("macsec-dataplane: LAG {id}: {}", each.join(", "));
        }
    }
}

/// A LAG, its members' states and SecYs, in member order.
type LagMembers = (Arc<LagState>, Vec<MemberState>, Vec<Arc<SecyRt>>);

/// How often the service lcore looks at LAG members' links and keys.
const LAG_HEALTH_INTERVAL: Duration = Duration::from_millis(100);

fn parse_an(an: u8) -> Result<An, Refusal> {
    An::new(an).ok_or_else(|| format!("an: expected 0..3, got {an}"))
}

fn parse_sci(text: &str) -> Result<Sci, Refusal> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("peer_sci: expected 16 hex digits, got {} characters", text.len()));
    }
    u64::from_str_radix(text, 16).map(Sci).map_err(|_| format!("peer_sci: expected 16 hex digits, got {text:?}"))
}

fn sa_params(an: u8, pn: u64, ssci: Option<u32>, salt: Option<&str>) -> Result<SaParams, Refusal> {
    let salt = match salt {
        Some(s) => {
            Some(Salt::from_hex(s).ok_or_else(|| format!("salt: expected 24 hex digits, got {} characters", s.len()))?)
        }
        None => None,
    };
    Ok(SaParams { an: parse_an(an)?, pn: Pn(pn), ssci: ssci.map(Ssci), salt })
}

/// For [`SecyRt`] users that need a label.
impl std::fmt::Display for SecyRt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.secy)
    }
}
