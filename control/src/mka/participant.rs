//! A sans-IO MKA participant for one CAK (IEEE 802.1X-2020 9.4 - 9.8): peer liveness, key server
//! election, SAK generation and distribution, SAK use, install Rx before Tx, retire, rekey.
//!
//! Inputs: [`Participant::handle_mkpdu`], [`Participant::handle_timeout`],
//! [`Participant::handle_dataplane`]. Outputs: [`Participant::poll_transmit`] (MKPDU frames),
//! [`Participant::poll_dataplane_command`] (SA management), [`Participant::poll_timeout`]. No
//! clock, socket or randomness inside: time is an argument and the RNG is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use macsec_dataplane::secy::{An, CipherSuite, Sak, Salt, Sci, Ssci};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroize;

use super::announcement::Announcement;
use super::election::{self, NEVER_KEY_SERVER};
use super::keys::{Cak, Ckn, Ick, Kek};
use super::mkpdu::{self, Basic, DistributedSak, KeyUse, Kn, Mi, Mkpdu, PeerEntry, PeerList, SakUse, Xpn};
use super::rate_limit::TokenBucket;
use super::{kdf, key_wrap, xpn};

/// Timers (IEEE 802.1X-2020 Table 9-3).
pub const HELLO_TIME: Duration = Duration::from_secs(2);
pub const BOUNDED_HELLO_TIME: Duration = Duration::from_millis(500);
pub const LIFE_TIME: Duration = Duration::from_secs(6);
pub const SAK_RETIRE_TIME: Duration = Duration::from_secs(3);

/// The MACsec Capability we report in the Basic Parameter Set and the Announcement (IEEE
/// 802.1X-2020 11.11.1, 11.12): 2 = integrity and confidentiality with offset 0 (AWS requires
/// offset 0; we implement no other offset).
pub const MACSEC_CAPABILITY: u8 = 2;

/// Peers (live and potential) one participant keeps; MKPDUs from further new MIs are dropped and
/// counted. A point-to-point link has one peer; a CA on a LAN a few. The cap bounds memory and
/// the size of our own peer lists (16 octets each) whatever a CAK holder or a replay sends.
pub const MAX_PEERS: usize = 32;
/// Of those, potential peers (heard, not yet listing us): the room a flood of new MIs can take.
pub const MAX_POTENTIAL_PEERS: usize = 16;
/// MKPDUs acted on per peer MI: a burst, then one per interval. A peer sends one per Hello Time
/// (one per Bounded Hello Time while keys are agreed) plus one per event, far below this.
pub const PEER_BURST: u32 = 16;
pub const PEER_EVERY: Duration = Duration::from_millis(100);
/// New MIs admitted as potential peers: a burst, then one per interval.
pub const NEWCOMER_BURST: u32 = 8;
pub const NEWCOMER_EVERY: Duration = Duration::from_millis(250);

/// Settings of a participant.
#[derive(Clone, Debug)]
pub struct MkaConfig {
    pub sci: Sci,
    pub mac: [u8; 6],
    pub priority: u8,
    pub cipher_suite: CipherSuite,
    /// Distribute a new SAK this often (None: only on the other triggers).
    pub rekey_interval: Option<Duration>,
    /// Ask for a new SAK when a participant's PN passes this.
    pub pn_threshold: u64,
}

/// SA management for the dataplane (IEEE 802.1AE-2018 10.7), in the order to apply them.
#[derive(Debug)]
#[non_exhaustive]
pub enum DpCommand {
    InstallRxSa {
        peer: Sci,
        an: An,
        lowest_pn: u64,
        ssci: Option<Ssci>,
        salt: Option<Salt>,
        sak: Sak,
    },
    InstallTxSa {
        an: An,
        next_pn: u64,
        ssci: Option<Ssci>,
        salt: Option<Salt>,
        sak: Sak,
    },
    EnableTxSa {
        an: An,
    },
    DeleteRxSa {
        peer: Sci,
        an: An,
    },
    DeleteTxSa {
        an: An,
    },
    /// MKA lost every peer: remove all SAs.
    ClearSas,
}

/// What the dataplane reports.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum DpEvent {
    /// The encoding SA passed the PN threshold.
    PnThreshold { an: An, next_pn: u64 },
    /// The next PN of the encoding SA with AN `an` (reported in SAK Use as our lowest acceptable
    /// PN). A status read before a new SAK's install arrives after it: its PN is the old SA's.
    TxNextPn { an: An, next_pn: u64 },
}

/// Why a SAK was distributed (for the metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RekeyReason {
    Established,
    PeerChange,
    Interval,
    PnThreshold,
    Operator,
}

impl RekeyReason {
    pub const ALL: [RekeyReason; 5] =
        [Self::Established, Self::PeerChange, Self::Interval, Self::PnThreshold, Self::Operator];

    pub fn name(self) -> &'static str {
        match self {
            Self::Established => "session_established",
            Self::PeerChange => "peer_change",
            Self::Interval => "interval",
            Self::PnThreshold => "pn_threshold",
            Self::Operator => "operator",
        }
    }
}

/// Counters of one participant (exported as `macsec_mka_*`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MkaStats {
    pub mkpdu_rx: u64,
    pub mkpdu_tx: u64,
    pub icv_failures: u64,
    pub bad_peer: u64,
    pub peer_list_errors: u64,
    pub validation_errors: u64,
    pub sak_cipher_mismatch: u64,
    pub sak_unwrap_errors: u64,
    /// Authentic MKPDUs not acted on: the sender's token bucket (or the one for new MIs) was empty.
    pub rate_limited: u64,
    /// MKPDUs from a new MI dropped because the peer table is full ([`MAX_PEERS`]).
    pub peer_table_full: u64,
    /// Live peers that stopped sending SAK Use after using our latest key (they lost their SAs).
    pub peer_lost_keys: u64,
    pub rekeys: [u64; 5],
}

/// One peer (IEEE 802.1X-2020 9.4.3).
#[derive(Clone, Debug)]
pub struct Peer {
    pub mi: Mi,
    pub mn: u32,
    pub sci: Sci,
    pub priority: u8,
    pub live: bool,
    last_seen: Instant,
    /// The peer's SAK Use says it receives (rx) / transmits (tx) with our latest key.
    pub receiving_latest: bool,
    pub transmitting_latest: bool,
    /// The highest lowest-acceptable PN the peer reported for the latest key.
    pub lowest_pn: u64,
    /// The highest of our MNs this MI listed: how recently it heard us.
    our_mn: u32,
    /// How many of this MI's MKPDUs we act on.
    bucket: TokenBucket,
}

/// A SAK and what is done with it.
struct SakState {
    server: Mi,
    kn: Kn,
    an: An,
    sak: Sak,
    tx_enabled: bool,
    /// Peers the Rx SA was installed for.
    rx_for: Vec<Sci>,
}

/// Where the participant is, for status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No live peer.
    Pending,
    /// Live peers, no SAK in use yet.
    Live,
    /// A SAK is installed and transmitting.
    Secured,
}

/// Status for `describe-connections` / `status`. No key material.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub ckn: String,
    pub state: State,
    pub key_server: bool,
    pub key_server_sci: Option<String>,
    pub latest_an: Option<u8>,
    pub latest_kn: Option<u32>,
    pub live_peers: Vec<String>,
    pub potential_peers: Vec<String>,
    pub stats: MkaStats,
}

pub struct Participant<R: RngCore + CryptoRng> {
    cfg: MkaConfig,
    ckn: Ckn,
    cak: Cak,
    ick: Ick,
    kek: Kek,
    mi: Mi,
    mn: u32,
    /// Our MN when `life_time` ago ended: a peer listing our MI with a lower MN is stale.
    mn_history: VecDeque<(Instant, u32)>,
    peers: Vec<Peer>,
    latest: Option<SakState>,
    old: Option<SakState>,
    next_kn: u32,
    next_an: An,
    retire_at: Option<Instant>,
    rekey_at: Option<Instant>,
    next_hello: Instant,
    pending_rekey: Option<RekeyReason>,
    tx_next_pn: u64,
    transmit: VecDeque<Vec<u8>>,
    commands: VecDeque<DpCommand>,
    /// ANs other participants of the same SecY use (a key server skips them).
    avoid: [bool; 4],
    /// How fast new MIs become potential peers.
    newcomers: TokenBucket,
    rng: R,
    pub stats: MkaStats,
}

/// Why an MKPDU was not accepted (counted in [`MkaStats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MkaError {
    Invalid(mkpdu::MkpduError),
    /// For another CKN: the caller routes MKPDUs to the participant of their CKN.
    OtherCkn,
    IcvMismatch,
    /// Algorithm Agility other than the AES-CMAC KDF/ICV.
    Agility(u32),
    /// Our own MI reflected back.
    OwnMi,
    /// An MN not greater than the last one from that MI (replayed or stale).
    StaleMn,
    /// Our own SCI with another MI: a loop, or a replay of ours from before a restart.
    OwnSci,
    /// Authentic, but the sender (or new MIs as a whole) exceeded its MKPDU rate.
    RateLimited,
    /// A new MI while the peer table is full.
    PeerTableFull,
}

impl std::fmt::Display for MkaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "malformed MKPDU: {e}"),
            Self::OtherCkn => f.write_str("MKPDU for another CKN"),
            Self::IcvMismatch => f.write_str("ICV verification failed"),
            Self::Agility(a) => write!(f, "algorithm agility {a:#010x}, expected 0x0080c201"),
            Self::OwnMi => f.write_str("our own MI reflected back"),
            Self::StaleMn => f.write_str("message number not fresh"),
            Self::OwnSci => f.write_str("our own SCI with another MI"),
            Self::RateLimited => f.write_str("MKPDU rate of the sender exceeded"),
            Self::PeerTableFull => write!(f, "peer table full ({MAX_PEERS} peers)"),
        }
    }
}

impl<R: RngCore + CryptoRng> Participant<R> {
    pub fn new(cfg: MkaConfig, ckn: Ckn, cak: Cak, mut rng: R, now: Instant) -> Self {
        let ick = kdf::derive_ick(&cak, &ckn);
        let kek = kdf::derive_kek(&cak, &ckn);
        let mut mi = [0u8; 12];
        rng.fill_bytes(&mut mi);
        Participant {
            cfg,
            ckn,
            cak,
            ick,
            kek,
            mi: Mi(mi),
            mn: 0,
            mn_history: VecDeque::new(),
            peers: Vec::new(),
            latest: None,
            old: None,
            next_kn: 1,
            next_an: An::ALL[0],
            retire_at: None,
            rekey_at: None,
            next_hello: now,
            pending_rekey: None,
            tx_next_pn: 1,
            transmit: VecDeque::new(),
            commands: VecDeque::new(),
            avoid: [false; 4],
            newcomers: TokenBucket::new(NEWCOMER_BURST, NEWCOMER_EVERY, now),
            rng,
            stats: MkaStats::default(),
        }
    }

    pub fn ckn(&self) -> &Ckn {
        &self.ckn
    }

    pub fn mi(&self) -> Mi {
        self.mi
    }

    /// Whether a SAK is installed and our Tx SA enabled. During a SAK rekey the old SAK's Tx SA
    /// transmits until the new one is enabled (802.1X-2020 9.8), so the session stays secured.
    pub fn is_secured(&self) -> bool {
        [&self.latest, &self.old].into_iter().flatten().any(|k| k.tx_enabled) && self.peers.iter().any(|p| p.live)
    }

    pub fn state(&self) -> State {
        match (self.peers.iter().any(|p| p.live), self.is_secured()) {
            (_, true) => State::Secured,
            (true, false) => State::Live,
            _ => State::Pending,
        }
    }

    pub fn status(&self) -> Status {
        let ks = self.key_server();
        Status {
            ckn: self.ckn.to_string(),
            state: self.state(),
            key_server: ks == Some(self.cfg.sci),
            key_server_sci: ks.map(|s| format!("{:016x}", s.0)),
            latest_an: self.latest.as_ref().map(|l| l.an.get()),
            latest_kn: self.latest.as_ref().map(|l| l.kn.0),
            live_peers: self.peers.iter().filter(|p| p.live).map(|p| format!("{:016x}", p.sci.0)).collect(),
            potential_peers: self.peers.iter().filter(|p| !p.live).map(|p| format!("{:016x}", p.sci.0)).collect(),
            stats: self.stats.clone(),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_dataplane_command(&mut self) -> Option<DpCommand> {
        self.commands.pop_front()
    }

    /// The next instant `handle_timeout` must run.
    pub fn poll_timeout(&self) -> Instant {
        let mut t = self.next_hello;
        for p in &self.peers {
            t = t.min(p.last_seen + LIFE_TIME);
        }
        for x in [self.retire_at, self.rekey_at].into_iter().flatten() {
            t = t.min(x);
        }
        t
    }

    /// ANs in use by other participants of the same SecY (keychain): never distributed by us.
    pub fn avoid_ans(&mut self, busy: [bool; 4]) {
        self.avoid = busy;
    }

    /// Starts over with a new MI, no peers and no keys (the dataplane restarted and lost its
    /// SAs: reusing a SAK from PN 1 would reuse IVs, so the session is re-established and the
    /// key server distributes a fresh SAK).
    pub fn reinstall(&mut self, now: Instant) {
        let mut mi = [0u8; 12];
        self.rng.fill_bytes(&mut mi);
        self.mi = Mi(mi);
        self.mn = 0;
        self.mn_history.clear();
        self.peers.clear();
        self.latest = None;
        self.old = None;
        self.retire_at = None;
        self.commands.clear();
        self.next_hello = now;
    }

    /// Asks for a new SAK at the next opportunity (operator `rekey`).
    pub fn request_rekey(&mut self, reason: RekeyReason) {
        self.pending_rekey = Some(reason);
    }

    pub fn handle_dataplane(&mut self, now: Instant, ev: DpEvent) {
        match ev {
            DpEvent::PnThreshold { .. } => self.pending_rekey = Some(RekeyReason::PnThreshold),
            // Only the latest key's SA: the old one's PN, reported as the latest's, would have
            // the key server rekey again at once for a PN threshold nobody reached (9.8).
            DpEvent::TxNextPn { an, next_pn } => {
                if self.latest.as_ref().is_some_and(|l| l.an == an) {
                    self.tx_next_pn = next_pn;
                }
            }
        }
        self.step(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let before = self.peers.len();
        let lost_live = self.peers.iter().any(|p| p.live && p.last_seen + LIFE_TIME <= now);
        // IEEE 802.1X-2020 9.4.3: a peer not heard from for MKA Life Time is removed.
        self.peers.retain(|p| p.last_seen + LIFE_TIME > now);
        if lost_live && self.peers.iter().any(|p| p.live) {
            self.pending_rekey = Some(RekeyReason::PeerChange);
        }
        if self.retire_at.is_some_and(|t| t <= now) {
            self.retire_old();
        }
        if self.rekey_at.is_some_and(|t| t <= now) {
            self.rekey_at = None;
            self.pending_rekey.get_or_insert(RekeyReason::Interval);
        }
        self.step(now);
        if now >= self.next_hello || self.peers.len() != before {
            self.send(now);
        }
    }

    pub fn handle_mkpdu(&mut self, now: Instant, frame: &[u8]) -> Result<(), MkaError> {
        let parsed = mkpdu::Mkpdu::parse(frame).map_err(|e| {
            self.stats.validation_errors += 1;
            MkaError::Invalid(e)
        })?;
        if parsed.mkpdu.basic.ckn != self.ckn {
            return Err(MkaError::OtherCkn);
        }
        // IEEE 802.1X-2020 11.11.2: nothing of an MKPDU is used before its ICV is verified.
        if !parsed.verify_icv(&self.ick) {
            self.stats.icv_failures += 1;
            return Err(MkaError::IcvMismatch);
        }
        self.stats.mkpdu_rx += 1;
        let m = parsed.mkpdu;
        if m.basic.algorithm_agility != mkpdu::ALGORITHM_AGILITY {
            self.stats.validation_errors += 1;
            return Err(MkaError::Agility(m.basic.algorithm_agility));
        }
        if m.basic.mi == self.mi {
            self.stats.bad_peer += 1;
            return Err(MkaError::OwnMi);
        }
        if m.basic.sci == self.cfg.sci {
            self.stats.bad_peer += 1;
            return Err(MkaError::OwnSci);
        }
        let idx = self.update_peer(now, &m.basic)?;
        let (idx, became_live) = self.check_liveness(now, idx, &m);
        match &m.sak_use {
            Some(u) => self.peer_sak_use(idx, u, m.xpn.as_ref()),
            None => self.peer_without_sak_use(idx),
        }
        if let Some(d) = &m.distributed_sak {
            self.receive_sak(now, idx, m.basic.key_server, d);
        }
        self.step(now);
        if became_live {
            self.send(now);
        }
        Ok(())
    }
}

/// Peers: liveness and SAK use.
impl<R: RngCore + CryptoRng> Participant<R> {
    /// Records the sender; its MN must grow (IEEE 802.1X-2020 9.4.2). A replayed or stale MKPDU
    /// changes nothing (not even the peer's last-heard time) and costs no token.
    fn update_peer(&mut self, now: Instant, b: &Basic) -> Result<usize, MkaError> {
        if let Some(i) = self.peers.iter().position(|p| p.mi == b.mi) {
            let p = &mut self.peers[i];
            if b.mn <= p.mn {
                self.stats.bad_peer += 1;
                return Err(MkaError::StaleMn);
            }
            if !p.bucket.take(now) {
                self.stats.rate_limited += 1;
                return Err(MkaError::RateLimited);
            }
            p.mn = b.mn;
            p.sci = b.sci;
            p.priority = b.key_server_priority;
            p.last_seen = now;
            return Ok(i);
        }
        self.admit(now, b)
    }

    /// A new MI becomes a potential peer, within the table's bounds and the newcomer rate. A peer
    /// that restarted has a new MI with the same SCI; its old MI stays until the new one is live
    /// ([`Self::check_liveness`]), so a replay of an MKPDU from an old MI cannot push the live
    /// peer out.
    fn admit(&mut self, now: Instant, b: &Basic) -> Result<usize, MkaError> {
        let potential = self.peers.iter().filter(|p| !p.live).count();
        if self.peers.len() >= MAX_PEERS || potential >= MAX_POTENTIAL_PEERS {
            self.stats.peer_table_full += 1;
            return Err(MkaError::PeerTableFull);
        }
        if !self.newcomers.take(now) {
            self.stats.rate_limited += 1;
            return Err(MkaError::RateLimited);
        }
        self.peers.push(Peer {
            mi: b.mi,
            mn: b.mn,
            sci: b.sci,
            priority: b.key_server_priority,
            live: false,
            last_seen: now,
            receiving_latest: false,
            transmitting_latest: false,
            lowest_pn: 0,
            our_mn: 0,
            bucket: TokenBucket::new(PEER_BURST, PEER_EVERY, now),
        });
        Ok(self.peers.len() - 1)
    }

    /// A peer is live once it lists our MI with a recent MN (IEEE 802.1X-2020 9.4.3).
    ///
    /// A peer that restarted has a new MI with the same SCI. Of the MIs of one SCI, the one that
    /// heard our most recent MN is the current one: it goes live and the others are forgotten.
    /// A live one among those means the membership changed, so the key server distributes a new
    /// SAK (9.8) and the restarted peer never gets the SAK it already used from PN 1. A replay of
    /// an old MI's MKPDUs lists older MNs of ours than the current MI does: it stays potential
    /// and expires, and the session is not disturbed. Returns the peer's index afterwards and
    /// whether it just became live.
    fn check_liveness(&mut self, now: Instant, idx: usize, m: &Mkpdu) -> (usize, bool) {
        let oldest_fresh = self.oldest_fresh_mn(now);
        let heard = [&m.live_peers, &m.potential_peers]
            .into_iter()
            .flatten()
            .flat_map(|l| l.peers.iter())
            .filter(|e| e.mi == self.mi && e.mn >= oldest_fresh)
            .map(|e| e.mn)
            .max();
        let (Some(heard), Some(p)) = (heard, self.peers.get_mut(idx)) else { return (idx, false) };
        p.our_mn = p.our_mn.max(heard);
        if p.live {
            return (idx, false);
        }
        let (mi, sci, ours) = (p.mi, p.sci, p.our_mn);
        if self.peers.iter().any(|o| o.sci == sci && o.mi != mi && o.live && o.our_mn >= ours) {
            return (idx, false);
        }
        let replaced_live = self.peers.iter().any(|o| o.sci == sci && o.mi != mi && o.live);
        self.peers.retain(|o| o.sci != sci || o.mi == mi);
        let idx = self.peers.iter().position(|o| o.mi == mi).unwrap_or(idx);
        if let Some(p) = self.peers.get_mut(idx) {
            p.live = true;
        }
        if replaced_live {
            self.pending_rekey = Some(RekeyReason::PeerChange);
        }
        (idx, true)
    }

    fn oldest_fresh_mn(&mut self, now: Instant) -> u32 {
        self.forget_old_mns(now);
        self.mn_history.front().map_or(self.mn, |(_, mn)| *mn)
    }

    /// Our MNs sent more than MKA Life Time ago can no longer prove a peer live.
    fn forget_old_mns(&mut self, now: Instant) {
        while self.mn_history.front().is_some_and(|(t, _)| *t + LIFE_TIME < now) {
            self.mn_history.pop_front();
        }
    }

    /// Does the peer receive / transmit with our latest key? (It may report it in the Latest or,
    /// after its retire step, in the Old Key fields.)
    fn peer_sak_use(&mut self, idx: usize, u: &SakUse, x: Option<&Xpn>) {
        let Some(latest) = &self.latest else { return };
        let Some((lk, ok)) = &u.keys else { return };
        let is_latest = |k: &KeyUse| k.server_mi == latest.server && k.kn == latest.kn;
        let (rx, tx, lpn) = if is_latest(lk) {
            (
                u.latest_rx,
                u.latest_tx,
                (u64::from(x.map_or(0, |x| x.latest_lowest_pn_hi)) << 32) | u64::from(lk.lowest_pn),
            )
        } else if is_latest(ok) {
            (u.old_rx, u.old_tx, (u64::from(x.map_or(0, |x| x.old_lowest_pn_hi)) << 32) | u64::from(ok.lowest_pn))
        } else {
            (false, false, 0)
        };
        let threshold = self.cfg.pn_threshold;
        let we_serve = self.key_server() == Some(self.cfg.sci);
        let Some(p) = self.peers.get_mut(idx) else { return };
        p.receiving_latest = rx;
        p.transmitting_latest = tx;
        p.lowest_pn = p.lowest_pn.max(lpn);
        // IEEE 802.1X-2020 9.8: a new SAK before any participant's PN space runs out.
        if we_serve && lpn > threshold {
            self.pending_rekey.get_or_insert(RekeyReason::PnThreshold);
        }
    }

    /// A live peer that used our latest key and now sends no SAK Use has lost its SAs: its MKA
    /// let us expire (it stopped hearing us while we still heard it) and kept its MI, so it is
    /// still live to us. It now waits for a SAK, and the key server distributes a new one (9.8),
    /// never the same again: the peer would start its Tx SA over at PN 1 with it. Without this
    /// we stayed secured on a key the peer no longer had, and traffic stopped both ways.
    /// (wpa_supplicant, for the same reason, stops taking such a peer's MKPDUs as alive.)
    fn peer_without_sak_use(&mut self, idx: usize) {
        let Some(p) = self.peers.get_mut(idx).filter(|p| p.live) else { return };
        if !(p.receiving_latest || p.transmitting_latest) {
            return;
        }
        p.receiving_latest = false;
        p.transmitting_latest = false;
        self.stats.peer_lost_keys += 1;
        if self.key_server() == Some(self.cfg.sci) {
            self.pending_rekey = Some(RekeyReason::PeerChange);
        }
    }

    pub fn key_server(&self) -> Option<Sci> {
        let me = (self.cfg.priority, self.cfg.sci);
        let live = self.peers.iter().filter(|p| p.live).map(|p| (p.priority, p.sci));
        if !self.peers.iter().any(|p| p.live) {
            return None;
        }
        election::elect(std::iter::once(me).chain(live))
    }

    fn all_scis(&self) -> Vec<Sci> {
        std::iter::once(self.cfg.sci).chain(self.peers.iter().filter(|p| p.live).map(|p| p.sci)).collect()
    }
}

/// SAKs: distribute (key server), receive (member), enable, retire.
impl<R: RngCore + CryptoRng> Participant<R> {
    /// Decides what the current state calls for.
    fn step(&mut self, now: Instant) {
        if !self.peers.iter().any(|p| p.live) {
            if self.latest.is_some() || self.old.is_some() {
                self.latest = None;
                self.old = None;
                self.retire_at = None;
                self.commands.push_back(DpCommand::ClearSas);
            }
            return;
        }
        if self.key_server() == Some(self.cfg.sci) && self.cfg.priority != NEVER_KEY_SERVER {
            self.step_key_server(now);
        } else {
            self.step_member(now);
        }
    }

    fn step_key_server(&mut self, now: Instant) {
        let live: Vec<Sci> = self.peers.iter().filter(|p| p.live).map(|p| p.sci).collect();
        let reason = match &self.latest {
            None => Some(RekeyReason::Established),
            Some(l) if l.server != self.mi => Some(RekeyReason::PeerChange),
            Some(l) if live.iter().any(|s| !l.rx_for.contains(s)) => Some(RekeyReason::PeerChange),
            // 802.1X-2020 9.8: a new SAK retires the old one, so a rekey (interval, PN threshold,
            // operator) waits until the latest is in use: we transmit with it and so does every
            // live peer. Served earlier, the peer deletes the Rx SA of the SAK we still send on.
            Some(l) if l.tx_enabled && self.peers.iter().filter(|p| p.live).all(|p| p.transmitting_latest) => {
                self.pending_rekey
            }
            Some(_) => self.pending_rekey.filter(|r| *r == RekeyReason::PeerChange),
        };
        if let Some(r) = reason {
            self.pending_rekey = None;
            self.distribute(now, r);
            return;
        }
        let all_receive = self.peers.iter().filter(|p| p.live).all(|p| p.receiving_latest);
        if all_receive && self.latest.as_ref().is_some_and(|l| !l.tx_enabled) {
            self.enable_tx(now);
        }
    }

    fn step_member(&mut self, now: Instant) {
        let ks = self.key_server();
        let server_tx = self.peers.iter().any(|p| Some(p.sci) == ks && p.transmitting_latest);
        let first = self.old.is_none();
        if self.latest.as_ref().is_some_and(|l| !l.tx_enabled) && (server_tx || first) {
            self.enable_tx(now);
        }
    }

    /// IEEE 802.1X-2020 9.8.1: a fresh SAK from the KDF with a random nonce, Rx SAs for every
    /// live peer installed before the Tx SA, distributed in the next MKPDU.
    fn distribute(&mut self, now: Instant, reason: RekeyReason) {
        let len = self.cfg.cipher_suite.key_len();
        let mut nonce = [0u8; 32];
        self.rng.fill_bytes(&mut nonce[..len]);
        let mut mis = vec![self.mi.0];
        mis.extend(self.peers.iter().filter(|p| p.live).map(|p| p.mi.0));
        let kn = Kn(self.next_kn);
        let sak = kdf::derive_sak(&self.cak, &nonce[..len], &mis, kn.0, len);
        nonce.zeroize();
        let Some(sak) = sak else { return };
        self.next_kn = self.next_kn.wrapping_add(1).max(1);
        let mut an = self.next_an;
        for _ in 0..4 {
            let mine = [&self.latest, &self.old].into_iter().flatten().any(|k| k.an == an);
            if !self.avoid[an.index()] && !mine {
                break;
            }
            an = an.next();
        }
        self.next_an = an.next();
        let server = self.mi;
        self.install(now, server, kn, an, sak);
        if let Some(slot) = self.stats.rekeys.get_mut(RekeyReason::ALL.iter().position(|r| *r == reason).unwrap_or(0)) {
            *slot += 1;
        }
        self.rekey_at = self.cfg.rekey_interval.map(|i| now + i);
        self.send(now);
    }

    /// A member takes the SAK the key server distributed.
    fn receive_sak(&mut self, now: Instant, idx: usize, sender_is_ks: bool, d: &DistributedSak) {
        let Some(sender) = self.peers.get(idx).cloned() else { return };
        // IEEE 802.1X-2020 9.5, 9.8: only the elected key server, a live peer, distributes SAKs.
        // A potential peer with the key server's SCI may be a replay of its MKPDU from an old MI.
        if !sender_is_ks || !sender.live || self.key_server() != Some(sender.sci) {
            return;
        }
        if self.latest.as_ref().is_some_and(|l| l.server == sender.mi && l.kn == d.kn) {
            return;
        }
        let suite = self.cfg.cipher_suite;
        // Body of 28 octets = GCM-AES-128; some implementations wrote its id as 0x0080020001000001.
        let cs = d.cipher_suite.unwrap_or(CipherSuite::GcmAes128.id());
        let cs = if cs == 0x0080_0200_0100_0001 { CipherSuite::GcmAes128.id() } else { cs };
        if cs != suite.id() {
            self.stats.sak_cipher_mismatch += 1;
            return;
        }
        let sak = match key_wrap::unwrap(&self.kek, &d.wrapped) {
            Ok(s) if s.len() == suite.key_len() => s,
            _ => {
                self.stats.sak_unwrap_errors += 1;
                return;
            }
        };
        let Some(an) = An::new(d.an) else { return };
        self.install(now, sender.mi, d.kn, an, sak);
        self.send(now);
    }

    /// Installs the Rx SAs (every live peer) and the Tx SA (not enabled) of a new latest key.
    fn install(&mut self, now: Instant, server: Mi, kn: Kn, an: An, sak: Sak) {
        let xpn = self.cfg.cipher_suite.is_xpn();
        let salt = xpn.then(|| xpn::salt(&server, kn));
        let scis = self.all_scis();
        let ssci = |s: Sci| xpn.then(|| xpn::ssci_of(s, &scis));
        let mut rx_for = Vec::new();
        for p in self.peers.iter().filter(|p| p.live) {
            let sak = sak.duplicate();
            self.commands.push_back(DpCommand::InstallRxSa {
                peer: p.sci,
                an,
                lowest_pn: 1,
                ssci: ssci(p.sci),
                salt,
                sak,
            });
            rx_for.push(p.sci);
        }
        self.commands.push_back(DpCommand::InstallTxSa {
            an,
            next_pn: 1,
            ssci: ssci(self.cfg.sci),
            salt,
            sak: sak.duplicate(),
        });
        if self.old.is_some() {
            // A third key: the oldest goes now (at most two keys are in use, 9.8).
            self.retire_old();
        }
        self.old = self.latest.take();
        for p in &mut self.peers {
            p.receiving_latest = false;
            p.transmitting_latest = false;
            p.lowest_pn = 0;
        }
        self.tx_next_pn = 1;
        self.latest = Some(SakState { server, kn, an, sak, tx_enabled: false, rx_for });
        let _ = now;
    }

    fn enable_tx(&mut self, now: Instant) {
        let Some(l) = self.latest.as_mut() else { return };
        l.tx_enabled = true;
        self.commands.push_back(DpCommand::EnableTxSa { an: l.an });
        if self.old.is_some() {
            self.retire_at = Some(now + SAK_RETIRE_TIME);
        }
        self.send(now);
    }

    fn retire_old(&mut self) {
        self.retire_at = None;
        let Some(old) = self.old.take() else { return };
        let latest_an = self.latest.as_ref().map(|l| l.an);
        if latest_an == Some(old.an) {
            return;
        }
        for sci in &old.rx_for {
            self.commands.push_back(DpCommand::DeleteRxSa { peer: *sci, an: old.an });
        }
        self.commands.push_back(DpCommand::DeleteTxSa { an: old.an });
    }
}

/// Building MKPDUs.
impl<R: RngCore + CryptoRng> Participant<R> {
    fn send(&mut self, now: Instant) {
        self.mn = self.mn.wrapping_add(1);
        // Pruned here too: with no peer to hear from, the history would grow by one per hello.
        self.forget_old_mns(now);
        self.mn_history.push_back((now, self.mn));
        let frame = self.build().emit(self.cfg.mac, &self.ick);
        self.transmit.push_back(frame);
        self.stats.mkpdu_tx += 1;
        // Bounded hello while keys are being agreed (IEEE 802.1X-2020 9.4.1).
        let agreeing = self.latest.as_ref().is_some_and(|l| !l.tx_enabled);
        self.next_hello = now + if agreeing { BOUNDED_HELLO_TIME } else { HELLO_TIME };
    }

    fn build(&self) -> Mkpdu {
        let we_serve = self.key_server() == Some(self.cfg.sci);
        let xpn = self.cfg.cipher_suite.is_xpn();
        let entries = |live: bool| -> Vec<PeerEntry> {
            self.peers.iter().filter(|p| p.live == live).map(|p| PeerEntry { mi: p.mi, mn: p.mn }).collect()
        };
        let (live, potential) = (entries(true), entries(false));
        let ks_ssci = if we_serve && xpn { xpn::ssci_of(self.cfg.sci, &self.all_scis()).0 as u8 } else { 0 };
        Mkpdu {
            basic: Basic {
                mka_version: mkpdu::MKA_VERSION,
                key_server_priority: self.cfg.priority,
                key_server: we_serve,
                macsec_desired: true,
                macsec_capability: MACSEC_CAPABILITY,
                sci: self.cfg.sci,
                mi: self.mi,
                mn: self.mn,
                algorithm_agility: mkpdu::ALGORITHM_AGILITY,
                ckn: self.ckn.clone(),
            },
            live_peers: (!live.is_empty()).then_some(PeerList { octet2: ks_ssci, peers: live }),
            potential_peers: (!potential.is_empty()).then_some(PeerList { octet2: 0, peers: potential }),
            sak_use: self.sak_use(),
            distributed_sak: self.distributed_sak(we_serve),
            xpn: xpn.then_some(Xpn {
                suspension_time: 0,
                latest_lowest_pn_hi: (self.tx_next_pn >> 32) as u32,
                old_lowest_pn_hi: 0,
            }),
            // IEEE 802.1X-2020 11.12: announce the cipher suite we accept a SAK for. wpa_supplicant
            // 2.10 skips the Announcement parameter set; Cisco and Juniper send and accept one.
            announcement: Some(Announcement::supporting(self.cfg.cipher_suite, MACSEC_CAPABILITY)),
            unknown_sets: Vec::new(),
            icv_indicator: false,
        }
    }

    fn sak_use(&self) -> Option<SakUse> {
        let latest = self.latest.as_ref()?;
        let ku = |s: &SakState, pn: u64| KeyUse { server_mi: s.server, kn: s.kn, lowest_pn: (pn & 0xffff_ffff) as u32 };
        let old = self.old.as_ref();
        Some(SakUse {
            latest_an: latest.an.get(),
            latest_tx: latest.tx_enabled,
            latest_rx: true,
            old_an: old.map_or(0, |o| o.an.get()),
            old_tx: old.is_some_and(|o| o.tx_enabled) && !latest.tx_enabled,
            old_rx: old.is_some(),
            plain_tx: false,
            plain_rx: false,
            delay_protect: false,
            keys: Some((ku(latest, self.tx_next_pn.max(1)), old.map_or(KeyUse::default(), |o| ku(o, 1)))),
        })
    }

    fn distributed_sak(&self, we_serve: bool) -> Option<DistributedSak> {
        let l = self.latest.as_ref().filter(|l| we_serve && l.server == self.mi)?;
        if self.peers.iter().filter(|p| p.live).all(|p| p.receiving_latest) {
            return None;
        }
        let suite = self.cfg.cipher_suite;
        Some(DistributedSak {
            an: l.an.get(),
            confidentiality_offset: 0,
            kn: l.kn,
            // IEEE 802.1X-2020 11.11.1: GCM-AES-128 is the default and goes without its id.
            cipher_suite: (suite != CipherSuite::GcmAes128).then(|| suite.id()),
            wrapped: key_wrap::wrap(&self.kek, &l.sak),
        })
    }
}

/// The CKN of an MKPDU, to route it to the participant of that CAK (before any ICV check).
pub fn peek_ckn(frame: &[u8]) -> Option<Ckn> {
    Mkpdu::parse(frame).ok().map(|p| p.mkpdu.basic.ckn)
}

#[cfg(test)]
#[path = "participant_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "hostile_tests.rs"]
mod hostile_tests;

#[cfg(test)]
#[path = "announcement_tests.rs"]
mod announcement_tests;
