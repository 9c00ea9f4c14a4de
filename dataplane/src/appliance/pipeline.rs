//! The per-burst work of a SecY in the running appliance, over any [`FrameBuf`] (mbufs in the
//! DPDK runtime, `Vec<u8>` in tests): policy, protect with PNs reserved per burst, validate
//! with the replay check in arrival order, and the worker-owned counters.
//!
//! No allocation, lock or syscall here: everything is sized at start. Keys come from the RCU
//! [`KeySlot`]; a worker looks at the slot's version once per burst.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use arrayvec::ArrayVec;
use crossbeam_utils::CachePadded;

use super::config::EncryptionMode;
use super::keyslot::{KeyReader, KeySlot, RxSaKey, SaTable, TxSaKey};
use super::policy::{self, HostAction, WireAction};
use crate::gcm::{Engine, GcmKeySchedule, OpenJob, SealJob};
use crate::secy::protect::{self, TxDrop, TxVerdict, MAC_ADDRS_LEN};
use crate::secy::replay::ReplayWindow;
use crate::secy::sectag::{SecTagRepr, ETHERTYPE_MACSEC, SECTAG_LEN_SCI};
use crate::secy::validate::{self, Classified, InOrderRun, PeerTag, RxState, RxVerdict};
use crate::secy::{
    batch, xpn, FrameBuf, Iv, OpenItem, Pn, RxSaStats, RxScStats, Sci, SealItem, SecyConfig, SecyStats, TxSaStats,
    TxScStats, ValidateFrames, ICV_LEN,
};

/// Receive SCs (peer SCIs) per SecY. MACsec on a point-to-point link has one peer.
pub const MAX_RX_SC: usize = 4;

/// What to do with a frame after its stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Send it out of the other port.
    Forward,
    /// Free it (already counted).
    Drop,
    /// Hand it to the control process (EAPOL).
    Punt,
}

/// The shared, start-time state of one SecY.
pub struct SecyContext {
    pub cfg: SecyConfig,
    pub sci: Sci,
    mode: AtomicU8,
    pub slot: Arc<KeySlot>,
    pub pn_threshold: u64,
    /// Set by a worker when the Tx SA's next PN passed the threshold; the service lcore tells
    /// control and clears it.
    pub threshold_reached: AtomicBool,
    /// Per worker export slots of the counters.
    exports: Box<[CounterExport]>,
    hints: LowestHints,
}

impl SecyContext {
    pub fn new(cfg: SecyConfig, sci: Sci, mode: EncryptionMode, workers: usize, pn_threshold: u64) -> Arc<Self> {
        Arc::new(SecyContext {
            cfg,
            sci,
            mode: AtomicU8::new(mode_code(mode)),
            slot: KeySlot::new(workers),
            pn_threshold,
            threshold_reached: AtomicBool::new(false),
            exports: (0..workers).map(|_| CounterExport::default()).collect(),
            hints: LowestHints::default(),
        })
    }

    /// The lowest acceptable PN of an Rx SA as the ordered stage last left it. Relaxed: a stale
    /// value is still within the 2^30 tolerance of XPN recovery.
    fn lowest_hint(&self, ch: usize, an: usize, sa_id: u64) -> Option<Pn> {
        let (id, lowest) = self.hints.0.get(ch)?.get(an)?;
        (id.load(Ordering::Relaxed) == sa_id).then(|| Pn(lowest.load(Ordering::Relaxed)))
    }

    fn set_lowest_hint(&self, ch: usize, an: usize, sa_id: u64, lowest: Pn) {
        if let Some((id, l)) = self.hints.0.get(ch).and_then(|r| r.get(an)) {
            l.store(lowest.0, Ordering::Relaxed);
            id.store(sa_id, Ordering::Relaxed);
        }
    }

    pub fn mode(&self) -> EncryptionMode {
        match self.mode.load(Ordering::Relaxed) {
            0 => EncryptionMode::MustEncrypt,
            1 => EncryptionMode::ShouldEncrypt,
            _ => EncryptionMode::NoEncrypt,
        }
    }

    /// Relaxed: a mode change takes effect at the next burst of each worker; nothing else is
    /// ordered by it.
    pub fn set_mode(&self, mode: EncryptionMode) {
        self.mode.store(mode_code(mode), Ordering::Relaxed);
    }

    /// The counters of all workers, added up.
    pub fn counters(&self) -> SecyCounters {
        let mut total = SecyCounters::default();
        for e in self.exports.iter() {
            total.merge(&e.load());
        }
        total
    }

    pub fn export(&self, worker: usize) -> Option<&CounterExport> {
        self.exports.get(worker)
    }
}

fn mode_code(mode: EncryptionMode) -> u8 {
    match mode {
        EncryptionMode::MustEncrypt => 0,
        EncryptionMode::ShouldEncrypt => 1,
        _ => 2,
    }
}

/// Counters a worker owns for one SecY: plain `u64`s, no atomics on the fast path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecyCounters {
    pub secy: SecyStats,
    pub tx_sc: TxScStats,
    pub tx_sa: [TxSaStats; 4],
    pub rx_sc: [RxScStats; MAX_RX_SC],
    pub rx_sa: [[RxSaStats; 4]; MAX_RX_SC],
    pub policy_drops_tx: u64,
    pub policy_drops_rx: u64,
    pub protect_drops: u64,
    pub eapol_rx: u64,
    pub eapol_tx: u64,
    pub forwarded_tx: u64,
    pub forwarded_rx: u64,
}

/// How many `u64`s a [`SecyCounters`] flattens to.
const FLAT_LEN: usize = SecyStats::LEN
    + TxScStats::LEN
    + 4 * TxSaStats::LEN
    + MAX_RX_SC * RxScStats::LEN
    + MAX_RX_SC * 4 * RxSaStats::LEN
    + 7;

impl SecyCounters {
    fn flatten(&self, out: &mut [u64; FLAT_LEN]) {
        let extra = [
            self.policy_drops_tx,
            self.policy_drops_rx,
            self.protect_drops,
            self.eapol_rx,
            self.eapol_tx,
            self.forwarded_tx,
            self.forwarded_rx,
        ];
        let values = self
            .secy
            .values()
            .map(|(_, v)| v)
            .chain(self.tx_sc.values().map(|(_, v)| v))
            .chain(self.tx_sa.iter().flat_map(|s| s.values().map(|(_, v)| v)))
            .chain(self.rx_sc.iter().flat_map(|s| s.values().map(|(_, v)| v)))
            .chain(self.rx_sa.iter().flatten().flat_map(|s| s.values().map(|(_, v)| v)))
            .chain(extra);
        for (o, v) in out.iter_mut().zip(values) {
            *o = v;
        }
    }

    fn unflatten(flat: &[u64; FLAT_LEN]) -> Self {
        let mut c = SecyCounters::default();
        let mut it = flat.iter().copied();
        c.secy.set_from(&mut it);
        c.tx_sc.set_from(&mut it);
        c.tx_sa.iter_mut().for_each(|s| s.set_from(&mut it));
        c.rx_sc.iter_mut().for_each(|s| s.set_from(&mut it));
        c.rx_sa.iter_mut().flatten().for_each(|s| s.set_from(&mut it));
        for f in [
            &mut c.policy_drops_tx,
            &mut c.policy_drops_rx,
            &mut c.protect_drops,
            &mut c.eapol_rx,
            &mut c.eapol_tx,
            &mut c.forwarded_tx,
            &mut c.forwarded_rx,
        ] {
            *f = it.next().unwrap_or(0);
        }
        c
    }

    pub fn merge(&mut self, o: &Self) {
        self.secy.merge(&o.secy);
        self.tx_sc.merge(&o.tx_sc);
        self.tx_sa.iter_mut().zip(&o.tx_sa).for_each(|(a, b)| a.merge(b));
        self.rx_sc.iter_mut().zip(&o.rx_sc).for_each(|(a, b)| a.merge(b));
        self.rx_sa.iter_mut().flatten().zip(o.rx_sa.iter().flatten()).for_each(|(a, b)| a.merge(b));
        self.policy_drops_tx += o.policy_drops_tx;
        self.policy_drops_rx += o.policy_drops_rx;
        self.protect_drops += o.protect_drops;
        self.eapol_rx += o.eapol_rx;
        self.eapol_tx += o.eapol_tx;
        self.forwarded_tx += o.forwarded_tx;
        self.forwarded_rx += o.forwarded_rx;
    }
}

/// One worker's published copy of its counters, plus the replay state it owns.
pub struct CounterExport {
    values: CachePadded<[AtomicU64; FLAT_LEN]>,
    /// nextPN and lowestPN per Rx SC slot and AN, from the stage that runs the replay check.
    rx_pns: [[(AtomicU64, AtomicU64); 4]; MAX_RX_SC],
}

impl Default for CounterExport {
    fn default() -> Self {
        CounterExport {
            values: CachePadded::new(std::array::from_fn(|_| AtomicU64::new(0))),
            rx_pns: std::array::from_fn(|_| std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0)))),
        }
    }
}

impl CounterExport {
    /// Worker side, on the drain tick. Relaxed: each value is read on its own; a snapshot a
    /// few frames stale is fine.
    pub fn store(&self, c: &SecyCounters, replay: &ReplayState) {
        let mut flat = [0u64; FLAT_LEN];
        c.flatten(&mut flat);
        for (a, v) in self.values.iter().zip(flat) {
            a.store(v, Ordering::Relaxed);
        }
        for (ch, row) in replay.windows.iter().enumerate() {
            for (an, w) in row.iter().enumerate() {
                if let Some((_, w)) = w {
                    self.rx_pns[ch][an].0.store(w.next_pn().0, Ordering::Relaxed);
                    self.rx_pns[ch][an].1.store(w.lowest_pn().0, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn load(&self) -> SecyCounters {
        let mut flat = [0u64; FLAT_LEN];
        for (v, a) in flat.iter_mut().zip(self.values.iter()) {
            *v = a.load(Ordering::Relaxed);
        }
        SecyCounters::unflatten(&flat)
    }

    /// (nextPN, lowestPN) of an Rx SA slot as last exported.
    pub fn rx_pn(&self, channel: usize, an: usize) -> Option<(u64, u64)> {
        let (n, l) = self.rx_pns.get(channel)?.get(an)?;
        Some((n.load(Ordering::Relaxed), l.load(Ordering::Relaxed)))
    }
}

/// Replay windows per Rx SC slot and AN, each tagged with the id of the SA it belongs to; a
/// new SA on the same AN starts a fresh window at its lowest acceptable PN.
#[derive(Default)]
pub struct ReplayState {
    windows: [[Option<(u64, ReplayWindow)>; 4]; MAX_RX_SC],
}

impl ReplayState {
    fn window(&mut self, channel: usize, an: usize, sa_id: u64, lowest: Pn) -> Option<&mut ReplayWindow> {
        let slot = self.windows.get_mut(channel)?.get_mut(an)?;
        if !matches!(slot, Some((id, _)) if *id == sa_id) {
            *slot = Some((sa_id, ReplayWindow::new(lowest)));
        }
        slot.as_mut().map(|(_, w)| w)
    }
}

/// Per Rx SC slot and AN: the SA id and lowest acceptable PN last seen by the ordered stage, so
/// that the parallel stage can recover XPN PNs without touching the replay windows.
struct LowestHints([[(AtomicU64, AtomicU64); 4]; MAX_RX_SC]);

impl Default for LowestHints {
    fn default() -> Self {
        LowestHints(std::array::from_fn(|_| std::array::from_fn(|_| (AtomicU64::new(u64::MAX), AtomicU64::new(0)))))
    }
}

/// What the parallel stage of validation found out about a frame.
#[derive(Clone, Copy, Debug)]
pub enum Pending {
    /// Decided (and counted) without the replay stage.
    Done(Disposition),
    /// Needs the replay check, in arrival order.
    Check { c: Classified, sa_id: u64, lowest: Pn, valid: Option<bool> },
}

/// Protect work of one burst, from the in-order stage (policy, PN reservation) to the parallel one
/// of the same worker. It names the transmit SA by id instead of holding its `Arc`: the worker's
/// table does not change between the two stages, and the reference count's two atomic
/// operations per burst each waited for the burst's encrypted stores to drain (perf).
pub struct ProtectPlan {
    /// The SA's id and the burst's first reserved PN.
    tx: Option<(u64, u64)>,
    protect: bool,
}

/// Frames per batched AES-GCM call: one DPDK burst. A longer slice goes in chunks, so the
/// per-chunk arrays below stay the size of a burst.
pub const MAX_BATCH: usize = 32;

/// The AES-GCM check one received frame needs: its SA (Rx SC slot and AN in the burst's key
/// table, so no `Arc` is cloned per frame), IV and AAD length.
#[derive(Clone, Copy)]
struct Open {
    ch: u8,
    an: u8,
    iv: Iv,
    aad_len: usize,
}

/// The key of Rx SC slot `ch`, AN `an` in `table`.
fn rx_key(table: &SaTable, ch: u8, an: u8) -> Option<&RxSaKey> {
    table.rx.get(usize::from(ch)).and_then(|c| c.sas[usize::from(an) & 3].as_deref())
}

/// Sets the AES-GCM result of a frame.
fn set_valid(pending: &mut Pending, ok: bool) {
    if let Pending::Check { valid, .. } = pending {
        *valid = Some(ok);
    }
}

/// One `open_batch` per run of consecutive frames of the same SA (usually the whole burst).
fn open_runs<B: FrameBuf>(table: &SaTable, frames: &mut [B], pending: &mut [Pending], opens: &[Option<Open>]) {
    let n = frames.len().min(pending.len()).min(opens.len());
    let (frames, pending, opens) = (&mut frames[..n], &mut pending[..n], &opens[..n]);
    let mut start = 0;
    while let Some(first) = opens[start..].iter().position(Option::is_some).map(|i| start + i) {
        let Some(sa) = opens[first].map(|o| (o.ch, o.an)) else { break };
        let end = opens[first..].iter().position(|o| o.is_some_and(|o| (o.ch, o.an) != sa)).map_or(n, |i| first + i);
        // Classified against this table, so the SA is there; if not, `valid` stays false.
        if let Some(key) = rx_key(table, sa.0, sa.1) {
            open_run(key, &mut frames[first..end], &mut pending[first..end], &opens[first..end]);
        }
        start = end;
    }
}

/// One `open_batch` over the frames of one SA.
fn open_run<B: FrameBuf>(sa: &RxSaKey, frames: &mut [B], pending: &mut [Pending], opens: &[Option<Open>]) {
    let mut items: ArrayVec<OpenItem<'_>, MAX_BATCH> = ArrayVec::new();
    let mut which: ArrayVec<u8, MAX_BATCH> = ArrayVec::new();
    for (i, (f, o)) in frames.iter_mut().zip(opens).enumerate().take(MAX_BATCH) {
        let Some(o) = o else { continue };
        if let Some((aad, data_and_icv)) = f.bytes_mut().split_at_mut_checked(o.aad_len) {
            items.push(OpenItem { iv: o.iv, aad, data_and_icv, ok: false });
            which.push(i as u8); // i < MAX_BATCH
        }
    }
    sa.crypto.key().open_batch(&mut items);
    for (item, &i) in items.iter().zip(&which) {
        if let Some(p) = pending.get_mut(usize::from(i)) {
            set_valid(p, item.ok);
        }
    }
}

/// The parallel stage of validation for one burst: what it reads once per burst (key table,
/// mode) and the counters it adds to. Split from [`SecyWorker`] so that the burst's engine jobs
/// can borrow the key table while the counters change.
struct RxStage<'w> {
    ctx: &'w SecyContext,
    table: &'w SaTable,
    counters: &'w mut SecyCounters,
    mode: EncryptionMode,
    secured: bool,
    /// The last lowest-PN hint read: (Rx SC slot, AN, SA id, lowest PN).
    hint: Option<(usize, usize, u64, Pn)>,
    /// The usual SecTAG of Rx SC slot 0's frames, when MACsec frames are validated.
    peer: Option<PeerTag>,
}

impl<'w> RxStage<'w> {
    fn new(ctx: &'w SecyContext, table: &'w SaTable, counters: &'w mut SecyCounters) -> Self {
        let (mode, secured) = (ctx.mode(), table.has_any_sa());
        let validates = policy::wire_action(mode, ETHERTYPE_MACSEC, secured) == WireAction::Validate;
        let peer = table.rx.first().filter(|_| validates).map(|c| PeerTag::new(c.sci));
        RxStage { ctx, table, counters, mode, secured, hint: None, peer }
    }

    /// Up to [`MAX_BATCH`] frames on the own engine: each frame that needs AES-GCM becomes an
    /// engine job as it is classified, and the chunk is one `open_batch`, whatever SAs its
    /// frames use. A key of another backend (never mixed in practice) gets its frame opened
    /// alone.
    fn open_jobs<B: FrameBuf>(&mut self, engine: Engine, frames: &mut [B], pending: &mut [Pending]) {
        let mut jobs: ArrayVec<OpenJob<'_>, MAX_BATCH> = ArrayVec::new();
        let mut which: ArrayVec<u8, MAX_BATCH> = ArrayVec::new();
        // The last SA and its key schedule: a burst is usually one SA.
        let mut last: Option<(&RxSaKey, &GcmKeySchedule)> = None;
        for (i, (f, p)) in frames.iter_mut().zip(pending.iter_mut()).enumerate().take(MAX_BATCH) {
            let Some((sa, o)) = self.prepare_one(f, p) else { continue };
            let key = match last {
                Some((s, key)) if std::ptr::eq(s, sa) => key,
                _ => {
                    let Some((_, key)) = sa.crypto.key().engine() else {
                        let ok = f
                            .bytes_mut()
                            .split_at_mut_checked(o.aad_len)
                            .is_some_and(|(aad, rest)| sa.crypto.key().open(&o.iv, aad, rest).is_ok());
                        set_valid(p, ok);
                        continue;
                    };
                    last = Some((sa, key));
                    key
                }
            };
            let Some((aad, rest)) = f.bytes_mut().split_at_mut_checked(o.aad_len) else { continue };
            let Some((data, icv)) = rest.split_last_chunk_mut::<ICV_LEN>() else { continue };
            jobs.push(OpenJob { key, iv: o.iv.0, aad, data, tag: icv, ok: false });
            which.push(i as u8); // i < MAX_BATCH: at most MAX_BATCH jobs
        }
        engine.open_batch(&mut jobs);
        for (job, &i) in jobs.iter().zip(&which) {
            if let Some(p) = pending.get_mut(usize::from(i)) {
                set_valid(p, job.ok);
            }
        }
    }

    /// Up to [`MAX_BATCH`] frames on another backend: classified first, then one
    /// [`GcmKey::open_batch`](crate::secy::GcmKey::open_batch) per run of frames of one SA.
    fn open_runs<B: FrameBuf>(&mut self, frames: &mut [B], pending: &mut [Pending]) {
        let mut opens: [Option<Open>; MAX_BATCH] = [None; MAX_BATCH];
        for ((f, p), open) in frames.iter_mut().zip(pending.iter_mut()).zip(opens.iter_mut()) {
            *open = self.prepare_one(f, p).map(|(_, o)| o);
        }
        open_runs(self.table, frames, pending, &opens);
    }

    /// The lowest acceptable PN to recover XPN PNs against: the ordered stage's hint, read
    /// once per burst and SA (a burst-old value is well within the 2^30 tolerance).
    fn lowest(&mut self, ch: usize, an: usize, sa: &RxSaKey) -> Pn {
        match self.hint {
            Some((c, a, id, pn)) if (c, a, id) == (ch, an, sa.id) => pn,
            _ => {
                let pn = self.ctx.lowest_hint(ch, an, sa.id).unwrap_or(sa.lowest_pn);
                self.hint = Some((ch, an, sa.id, pn));
                pn
            }
        }
    }

    /// Sets the frame's `pending` (written in place: it is copied once, not returned through
    /// `Result`s) and returns its SA and AES-GCM check when it needs one.
    #[inline(always)]
    fn prepare_one<B: FrameBuf>(&mut self, frame: &mut B, pending: &mut Pending) -> Option<(&'w RxSaKey, Open)> {
        // The usual frame: a MACsec frame (validated, see `new`) of Rx SC slot 0 with C set.
        let xpn = self.ctx.cfg.cipher_suite.is_xpn();
        if let Some((tag, secure_data_len)) = self.peer.and_then(|p| p.parse(frame.bytes(), xpn)) {
            return match self.classify_sa(frame, pending, 0, &tag, SECTAG_LEN_SCI, secure_data_len, true) {
                Ok(open) => open,
                Err(v) => {
                    *pending = Pending::Done(self.counters.delivered(v));
                    None
                }
            };
        }
        let ethertype = policy::ethertype(frame.bytes()).unwrap_or(0);
        let counters = &mut *self.counters;
        *pending = match policy::wire_action(self.mode, ethertype, self.secured) {
            WireAction::Punt => {
                counters.eapol_rx += 1;
                Pending::Done(Disposition::Punt)
            }
            WireAction::PassClear => {
                counters.forwarded_rx += 1;
                counters.secy.in_pkts_untagged += 1;
                Pending::Done(Disposition::Forward)
            }
            WireAction::DropClear => {
                counters.policy_drops_rx += 1;
                counters.secy.in_pkts_no_tag += 1;
                Pending::Done(Disposition::Drop)
            }
            WireAction::Validate => match self.classify(frame, pending) {
                Ok(open) => return open,
                Err(v) => Pending::Done(self.counters.delivered(v)),
            },
        };
        None
    }

    /// The 802.1AE receive path up to the crypto, against the burst's key table: the frame's
    /// `pending`, and its SA and AES-GCM check unless validation is skipped.
    #[inline(always)]
    fn classify<B: FrameBuf>(
        &mut self,
        frame: &mut B,
        pending: &mut Pending,
    ) -> Result<Option<(&'w RxSaKey, Open)>, RxVerdict> {
        let (cfg, table) = (&self.ctx.cfg, self.table);
        let strict = cfg.validate_frames == ValidateFrames::Strict;
        let Some((tag, tag_len, secure_data_len)) = validate::parse_tag(frame.bytes(), cfg.cipher_suite.is_xpn())
        else {
            self.counters.secy.in_pkts_bad_tag += 1;
            return Err(RxVerdict::BadTag);
        };
        let sci = validate::explicit_sci(&tag, frame.bytes()).or(match table.rx.as_slice() {
            [only] => Some(only.sci),
            _ => None,
        });
        let discard = strict || tag.tci.c();
        let Some(ch) = sci.and_then(|s| table.rx_channel(s)).filter(|&c| c < MAX_RX_SC) else {
            return Err(self.no_sc(discard, frame, tag_len));
        };
        self.classify_sa(frame, pending, ch, &tag, tag_len, secure_data_len, discard)
    }

    /// [`classify`](Self::classify) from the frame's Rx SC slot `ch` on: the SA and the
    /// AES-GCM check.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn classify_sa<B: FrameBuf>(
        &mut self,
        frame: &mut B,
        pending: &mut Pending,
        ch: usize,
        tag: &SecTagRepr,
        tag_len: usize,
        secure_data_len: usize,
        discard: bool,
    ) -> Result<Option<(&'w RxSaKey, Open)>, RxVerdict> {
        let (cfg, table) = (&self.ctx.cfg, self.table);
        let Some(channel) = table.rx.get(ch) else { return Err(self.no_sc(discard, frame, tag_len)) };
        let an = tag.an.index();
        // Borrowed from the burst's table: no reference count touched per frame.
        let Some(sa) = channel.sas[an].as_deref() else {
            return Err(self.no_sa(discard, ch, an, frame, tag_len));
        };
        // IEEE 802.1AE-2018 10.6.2: with XPN, the 64-bit PN is recovered from the 32 bits on the
        // wire and the lowest acceptable PN.
        let pn = if cfg.cipher_suite.is_xpn() {
            xpn::recover(tag.pn, self.lowest(ch, an, sa))
        } else {
            Pn(u64::from(tag.pn))
        };
        let c = Classified::new(channel.sci, ch, pn, tag, tag_len, secure_data_len);
        // Same check as validate::verify_with, batched by the caller: `valid` is set then.
        // Written out, not as closures: one the compiler did not inline returned its result
        // through memory, and the load after the call waited on a failed store forward (perf).
        let Some(aad_len) = batch::open_aad_len(cfg, &c) else {
            *pending = Pending::Check { c, sa_id: sa.id, lowest: sa.lowest_pn, valid: None };
            return Ok(None);
        };
        *pending = Pending::Check { c, sa_id: sa.id, lowest: sa.lowest_pn, valid: Some(false) };
        // ch < MAX_RX_SC and an < 4: both fit a u8.
        Ok(Some((sa, Open { ch: ch as u8, an: an as u8, iv: sa.crypto.iv(c.sci, c.pn), aad_len })))
    }

    fn no_sc<B: FrameBuf>(&mut self, discard: bool, frame: &mut B, tag_len: usize) -> RxVerdict {
        if discard {
            self.counters.secy.in_pkts_no_sci += 1;
            return RxVerdict::NoSci;
        }
        self.counters.secy.in_pkts_unknown_sci += 1;
        validate::strip(frame, tag_len);
        RxVerdict::UnknownSci
    }

    fn no_sa<B: FrameBuf>(&mut self, discard: bool, ch: usize, an: usize, frame: &mut B, tag_len: usize) -> RxVerdict {
        if discard {
            self.counters.rx_sa[ch][an].in_pkts_not_using_sa += 1;
            return RxVerdict::NotUsingSa;
        }
        self.counters.rx_sa[ch][an].in_pkts_unused_sa += 1;
        validate::strip(frame, tag_len);
        RxVerdict::UnusedSa
    }
}

/// One worker's state for one SecY: its key reader, counters and, when one worker runs a whole
/// direction, the replay windows (with several workers they live in the ordered stage).
pub struct SecyWorker {
    pub ctx: Arc<SecyContext>,
    pub worker: usize,
    keys: KeyReader,
    pub counters: SecyCounters,
    replay: Option<Box<ReplayState>>,
}

impl SecyWorker {
    pub fn new(ctx: Arc<SecyContext>, worker: usize) -> Self {
        let keys = KeyReader::new(ctx.slot.clone(), worker);
        SecyWorker { ctx, worker, keys, counters: SecyCounters::default(), replay: Some(Box::default()) }
    }

    /// Publishes counters and the given replay state's PNs (call on the drain tick).
    pub fn export_with(&self, replay: &ReplayState) {
        if let Some(e) = self.ctx.export(self.worker) {
            e.store(&self.counters, replay);
        }
    }

    /// Publishes counters and PN state of a worker that owns its replay windows.
    pub fn export(&self) {
        let empty = ReplayState::default();
        self.export_with(self.replay.as_deref().unwrap_or(&empty));
    }

    /// The end of a burst: this worker holds no older key table.
    pub fn quiescent(&self) {
        self.keys.quiescent();
    }

    /// The worker stops: retirement must not wait for it.
    pub fn offline(&self) {
        self.export();
        self.keys.offline();
    }

    /// Host → wire for a burst on one worker: [`Self::plan_protect`] then [`Self::apply_protect`].
    pub fn protect_burst<B: FrameBuf>(&mut self, frames: &mut [B], out: &mut [Disposition]) {
        let plan = self.plan_protect(frames, out);
        self.apply_protect(&plan, frames, out);
    }

    /// The in-order part of protect: policy per frame and the burst's PNs reserved by one atomic
    /// add (ARCHITECTURE.md, PN order). Run it in arrival order across workers.
    pub fn plan_protect<B: FrameBuf>(&mut self, frames: &[B], out: &mut [Disposition]) -> ProtectPlan {
        let table = self.keys.refresh();
        let mode = self.ctx.mode();
        let secured = table.has_any_sa();
        let tx = table.tx.as_deref();
        let protect = policy::host_action(mode, true, secured) == HostAction::Protect;
        // The same for every frame of the burst: decided once.
        let action = policy::host_action(mode, tx.is_some(), secured);
        let counters = &mut self.counters;
        let mut to_protect = 0u64;
        for (f, d) in frames.iter().zip(out.iter_mut()) {
            // The SecTAG goes in front of DA and SA, maybe into a cache line of the headroom
            // that nothing has touched: both start loading while the rest of the burst is planned.
            f.prefetch(SECTAG_LEN_SCI);
            *d = match action {
                HostAction::Protect => match protect::check_len(&self.ctx.cfg, f.len()) {
                    Ok(_) => {
                        to_protect += 1;
                        Disposition::Forward
                    }
                    Err(e) => {
                        counters.count_tx_drop(Some(e));
                        Disposition::Drop
                    }
                },
                HostAction::PassClear => {
                    counters.forwarded_tx += 1;
                    Disposition::Forward
                }
                HostAction::Drop => {
                    counters.policy_drops_tx += 1;
                    Disposition::Drop
                }
            };
        }
        let Some(tx) = tx.filter(|_| to_protect > 0) else { return ProtectPlan { tx: None, protect } };
        let Some(first) = tx.reserve(to_protect) else {
            counters.drop_all_protect(out);
            return ProtectPlan { tx: None, protect };
        };
        if first.0.saturating_add(to_protect) > self.ctx.pn_threshold {
            self.ctx.threshold_reached.store(true, Ordering::Relaxed);
        }
        ProtectPlan { tx: Some((tx.id, first.0)), protect }
    }

    /// The parallel part of protect: SecTAGs and IVs with the reserved PNs, then one batched
    /// AES-GCM call for the burst. Runs on the worker that made `plan`, against the same table.
    pub fn apply_protect<B: FrameBuf>(&mut self, plan: &ProtectPlan, frames: &mut [B], out: &mut [Disposition]) {
        let Some((id, first)) = plan.tx.filter(|_| plan.protect) else { return };
        let Some(tx) = self.keys.table().tx.as_deref().filter(|tx| tx.id == id) else {
            // Only if the table changed between the stages: the PNs were reserved on an SA
            // that is gone, so the frames cannot be sent.
            self.counters.drop_all_protect(out);
            return;
        };
        let mut pn = first;
        for (frames, out) in frames.chunks_mut(MAX_BATCH).zip(out.chunks_mut(MAX_BATCH)) {
            pn = protect_chunk(&self.ctx, &mut self.counters, tx, pn, frames, out);
        }
    }
}

/// Up to [`MAX_BATCH`] frames of [`SecyWorker::apply_protect`]; returns the next PN. On the own
/// engine each frame becomes an engine job as its SecTAG is written, and the chunk is one
/// `seal_batch`; on another backend, one [`GcmKey::seal_batch`](crate::secy::GcmKey::seal_batch).
fn protect_chunk<B: FrameBuf>(
    ctx: &SecyContext,
    counters: &mut SecyCounters,
    tx: &TxSaKey,
    pn: u64,
    frames: &mut [B],
    out: &mut [Disposition],
) -> u64 {
    let header = batch::TxHeader::new(&ctx.cfg, ctx.sci, tx.an);
    let (crypto, sci) = (&tx.crypto, ctx.sci);
    let an = tx.an.index();
    match crypto.key().engine() {
        Some((engine, key)) => {
            let mut jobs: ArrayVec<SealJob<'_>, MAX_BATCH> = ArrayVec::new();
            let next = write_headers(&header, counters, an, pn, frames, out, |(aad, data, tag), pn| {
                // At most MAX_BATCH frames come: the push cannot fail.
                let _ = jobs.try_push(SealJob { key, iv: crypto.iv(sci, pn).0, aad, data, tag });
            });
            // The engine writes each ICV into its frame.
            engine.seal_batch(&mut jobs);
            next
        }
        None => {
            let mut items: [SealItem<'_>; MAX_BATCH] = std::array::from_fn(|_| SealItem::empty());
            let mut n = 0;
            let next = write_headers(&header, counters, an, pn, frames, out, |(aad, data, icv), pn| {
                if let Some(item) = items.get_mut(n) {
                    *item = SealItem { iv: crypto.iv(sci, pn), aad, data, icv };
                    n += 1;
                }
            });
            crypto.key().seal_batch(&mut items[..n]);
            next
        }
    }
}

/// Phase 1 of protect, frame by frame (802.1AE-2018 10.5): the SecTAG with the frame's PN,
/// then `ready(parts, pn)` for its AES-GCM. Returns the next PN. The verdict follows
/// the configuration, so it is the same for every frame: counted once per chunk.
fn write_headers<'a, B: FrameBuf>(
    header: &batch::TxHeader,
    counters: &mut SecyCounters,
    an: usize,
    mut pn: u64,
    frames: &'a mut [B],
    out: &mut [Disposition],
    mut ready: impl FnMut(batch::SealParts<'a>, Pn),
) -> u64 {
    let (mut sent, mut octets) = (0u64, 0u64);
    for (f, d) in frames.iter_mut().zip(out.iter_mut()) {
        if *d != Disposition::Forward {
            continue;
        }
        let len = f.len();
        match header.write_parts(Pn(pn), f) {
            Ok(parts) => {
                // write checked that the frame holds DA and SA.
                (sent, octets) = (sent + 1, octets + (len - MAC_ADDRS_LEN) as u64);
                ready(parts, Pn(pn));
            }
            Err(e) => {
                counters.count_tx_drop(Some(e));
                *d = Disposition::Drop;
            }
        }
        // The reservation covered every PN of the burst; past the burst's last frame at PN
        // 2^64-1 (XPN) the next value is never used, so wrapping there is harmless.
        pn = pn.wrapping_add(1);
    }
    if sent > 0 {
        counters.count_protected(header.verdict, an, sent, octets);
    }
    pn
}

impl SecyCounters {
    /// Counts a frame the SecY delivers to the host port.
    fn delivered(&mut self, v: RxVerdict) -> Disposition {
        if v.delivered() {
            self.forwarded_rx += 1;
            Disposition::Forward
        } else {
            Disposition::Drop
        }
    }

    fn drop_all_protect(&mut self, out: &mut [Disposition]) {
        for d in out.iter_mut().filter(|d| **d == Disposition::Forward) {
            *d = Disposition::Drop;
            self.protect_drops += 1;
        }
    }

    /// Counts `frames` frames of `user_octets` User Data in all, protected with verdict `v`.
    fn count_protected(&mut self, v: TxVerdict, an: usize, frames: u64, user_octets: u64) {
        self.forwarded_tx += frames;
        if v == TxVerdict::Encrypted {
            self.tx_sa[an].out_pkts_encrypted += frames;
            self.tx_sc.out_pkts_encrypted += frames;
            self.tx_sc.out_octets_encrypted += user_octets;
        } else {
            self.tx_sa[an].out_pkts_protected += frames;
            self.tx_sc.out_pkts_protected += frames;
            self.tx_sc.out_octets_protected += user_octets;
        }
    }

    fn count_tx_drop(&mut self, e: Option<TxDrop>) {
        match e {
            Some(TxDrop::TooLong) => self.secy.out_pkts_too_long += 1,
            _ => self.protect_drops += 1,
        }
    }
}

impl SecyWorker {
    /// Wire → host for a burst on the one worker of this direction.
    pub fn validate_burst<B: FrameBuf>(&mut self, frames: &mut [B], out: &mut [Disposition]) {
        let mut pending = [Pending::Done(Disposition::Drop); MAX_BATCH];
        let Some(mut replay) = self.replay.take() else { return };
        let n = frames.len().min(out.len());
        for (frames, out) in frames[..n].chunks_mut(MAX_BATCH).zip(out[..n].chunks_mut(MAX_BATCH)) {
            let k = frames.len();
            self.prepare_burst(frames, &mut pending[..k]);
            self.finish_burst(frames, &pending[..k], out, &mut replay);
        }
        self.replay = Some(replay);
    }

    /// The parallel part of validation: policy, SecTAG checks (9.12), SC and SA lookup, XPN PN
    /// recovery, then AES-GCM in one batched call per run of frames of one SA. No replay state
    /// is touched.
    pub fn prepare_burst<B: FrameBuf>(&mut self, frames: &mut [B], pending: &mut [Pending]) {
        // The first cache line of every frame starts loading before the first is parsed.
        frames.iter().for_each(|f| f.prefetch(0));
        let table = self.keys.refresh();
        let engine = table.engine();
        let mut rx = RxStage::new(&self.ctx, table, &mut self.counters);
        for (frames, pending) in frames.chunks_mut(MAX_BATCH).zip(pending.chunks_mut(MAX_BATCH)) {
            match engine {
                Some(engine) => rx.open_jobs(engine, frames, pending),
                None => rx.open_runs(frames, pending),
            }
        }
    }

    /// The ordered part: the replay check and window update in arrival order (10.6.5), counters,
    /// SecTAG and ICV removal. `replay` is owned by whoever runs this stage. The lowest-PN
    /// hints for the parallel stage are published once per burst, not per frame.
    pub fn finish_burst<B: FrameBuf>(
        &mut self,
        frames: &mut [B],
        pending: &[Pending],
        out: &mut [Disposition],
        replay: &mut ReplayState,
    ) {
        let n = frames.len().min(pending.len()).min(out.len());
        let (frames, pending, out) = (&mut frames[..n], &pending[..n], &mut out[..n]);
        let mut touched = 0u16; // bit 4 * Rx SC slot + AN
        let mut i = 0;
        while i < n {
            out[i] = match pending[i] {
                Pending::Done(d) => d,
                Pending::Check { c, sa_id, lowest, valid } => {
                    touched |= 1 << ((c.sc_index * 4 + c.an.index()) & 15);
                    let run = self.finish_run(&mut frames[i..], &pending[i..], &mut out[i..], replay);
                    if run > 0 {
                        i += run;
                        continue;
                    }
                    self.finish_one(&mut frames[i], &c, sa_id, lowest, valid, replay)
                }
            };
            i += 1;
        }
        self.publish_hints(touched, replay);
    }

    /// The usual case of the ordered stage: the frames from the first on that are valid, of
    /// the first's SA and in order, recorded in its window and counters once. Returns how many
    /// there were (none if the first is not such a frame).
    fn finish_run<B: FrameBuf>(
        &mut self,
        frames: &mut [B],
        pending: &[Pending],
        out: &mut [Disposition],
        replay: &mut ReplayState,
    ) -> usize {
        let Some(&Pending::Check { c: first, sa_id, lowest, valid: Some(true) }) = pending.first() else { return 0 };
        let (ch, an) = (first.sc_index, first.an.index());
        let Some(window) = replay.window(ch, an, sa_id, lowest) else { return 0 };
        let counters = &mut self.counters;
        let state = RxState { replay: window, sa: &mut counters.rx_sa[ch][an], sc: &mut counters.rx_sc[ch] };
        let mut run = InOrderRun::new(state);
        for ((f, p), d) in frames.iter_mut().zip(pending).zip(out.iter_mut()) {
            let Pending::Check { c, sa_id: id, valid, .. } = p else { break };
            if *id != sa_id || (c.sc_index, c.an) != (ch, first.an) || !run.push(c, *valid) {
                break;
            }
            validate::strip(f, c.tag_len());
            *d = Disposition::Forward;
        }
        let frames = run.finish(&self.ctx.cfg);
        counters.forwarded_rx += frames;
        frames as usize // at most a burst
    }

    /// Tells the parallel stage the lowest acceptable PN of every window the burst touched.
    fn publish_hints(&self, mut touched: u16, replay: &ReplayState) {
        while touched != 0 {
            let bit = touched.trailing_zeros() as usize;
            touched &= touched - 1;
            let (ch, an) = (bit / 4, bit % 4);
            if let Some(Some((id, w))) = replay.windows.get(ch).map(|row| &row[an]) {
                self.ctx.set_lowest_hint(ch, an, *id, w.lowest_pn());
            }
        }
    }

    fn finish_one<B: FrameBuf>(
        &mut self,
        frame: &mut B,
        c: &Classified,
        sa_id: u64,
        lowest: Pn,
        valid: Option<bool>,
        replay: &mut ReplayState,
    ) -> Disposition {
        let (ch, an) = (c.sc_index, c.an.index());
        let Some(window) = replay.window(ch, an, sa_id, lowest) else {
            self.counters.rx_sa[ch][an].in_pkts_not_using_sa += 1;
            return Disposition::Drop;
        };
        let state = RxState { replay: window, sa: &mut self.counters.rx_sa[ch][an], sc: &mut self.counters.rx_sc[ch] };
        let verdict = validate::decide(&self.ctx.cfg, c, valid, state);
        if verdict.delivered() {
            validate::strip(frame, c.tag_len());
        }
        self.counters.delivered(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appliance::sa_manager::SaManager;
    use crate::gcm::{Engine, EngineBackend};
    use crate::secy::{An, CipherSuite, GcmBackend, RingBackend, SaParams, Sak, Salt, Ssci};

    const A: Sci = Sci(0x0200_0000_000a_0001);
    const B: Sci = Sci(0x0200_0000_000b_0001);

    struct Side {
        ctx: Arc<SecyContext>,
        worker: SecyWorker,
        keys: SaManager,
    }

    fn side(sci: Sci, mode: EncryptionMode, threshold: u64) -> Side {
        side_on(sci, mode, threshold, Arc::new(RingBackend))
    }

    fn side_on(sci: Sci, mode: EncryptionMode, threshold: u64, backend: Arc<dyn GcmBackend>) -> Side {
        let suite = CipherSuite::GcmAesXpn256;
        let ctx = SecyContext::new(SecyConfig::new(suite), sci, mode, 1, threshold);
        let keys = SaManager::new(ctx.slot.clone(), backend, suite);
        Side { worker: SecyWorker::new(ctx.clone(), 0), ctx, keys }
    }

    fn params(an: u8, ssci: u32) -> SaParams {
        SaParams { an: An::new(an).unwrap(), pn: Pn(1), ssci: Some(Ssci(ssci)), salt: Some(Salt([5; 12])) }
    }

    /// A sends to B with SAK `k` on AN `an` (Rx first, then Tx: make before break).
    fn key(a: &mut Side, b: &mut Side, an: u8, k: u8) {
        let sak = Sak::from_slice(&[k; 32]).unwrap();
        b.keys.install_rx_sa(A, &sak, &params(an, 1)).unwrap();
        a.keys.install_tx_sa(&sak, &params(an, 1)).unwrap();
        a.keys.enable_tx_sa(An::new(an).unwrap()).unwrap();
    }

    fn frames(n: usize, ethertype: u16) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a];
                f.extend(ethertype.to_be_bytes());
                f.extend((0..46 + i % 1400).map(|b| (b + i) as u8));
                f
            })
            .collect()
    }

    /// Runs a burst through A's protect and B's validate; returns what B delivered.
    fn send(a: &mut Side, b: &mut Side, burst: &[Vec<u8>]) -> (Vec<Disposition>, Vec<Vec<u8>>) {
        let mut wire = burst.to_vec();
        let mut d = vec![Disposition::Drop; wire.len()];
        a.worker.protect_burst(&mut wire, &mut d);
        let mut sent: Vec<Vec<u8>> =
            wire.into_iter().zip(&d).filter(|(_, d)| **d == Disposition::Forward).map(|(f, _)| f).collect();
        let mut rd = vec![Disposition::Drop; sent.len()];
        b.worker.validate_burst(&mut sent, &mut rd);
        a.worker.quiescent();
        b.worker.quiescent();
        let delivered =
            sent.into_iter().zip(&rd).filter(|(_, d)| **d == Disposition::Forward).map(|(f, _)| f).collect();
        (d, delivered)
    }

    #[test]
    fn protect_and_validate_bursts() {
        let (mut a, mut b) =
            (side(A, EncryptionMode::MustEncrypt, u64::MAX), side(B, EncryptionMode::MustEncrypt, u64::MAX));
        key(&mut a, &mut b, 0, 1);
        let all = frames(100, 0x0800);
        for burst in all.chunks(32) {
            let (_, got) = send(&mut a, &mut b, burst);
            assert_eq!(got, burst);
        }
        assert_eq!(a.worker.counters.tx_sc.out_pkts_encrypted, 100);
        assert_eq!(b.worker.counters.rx_sa[0][0].in_pkts_ok, 100);
        assert_eq!(a.keys.tx_next_pn(), Some(Pn(101)));
        b.worker.export();
        assert_eq!(b.ctx.counters().rx_sa[0][0].in_pkts_ok, 100);
        assert_eq!(b.ctx.export(0).unwrap().rx_pn(0, 0), Some((101, 101)));
    }

    /// The batched path on every engine path, against ring on the other side in both directions,
    /// with one forged frame per burst rejected alone.
    #[test]
    fn bursts_on_every_engine_path_interoperate_with_ring() {
        for path in Engine::available() {
            let engine = || -> Arc<dyn GcmBackend> { Arc::new(EngineBackend::new(Engine::with_path(path).unwrap())) };
            let ring = || -> Arc<dyn GcmBackend> { Arc::new(RingBackend) };
            for (ba, bb) in [(engine(), ring()), (ring(), engine()), (engine(), engine())] {
                let mut a = side_on(A, EncryptionMode::MustEncrypt, u64::MAX, ba);
                let mut b = side_on(B, EncryptionMode::MustEncrypt, u64::MAX, bb);
                key(&mut a, &mut b, 0, 1);
                let all = frames(96, 0x0800);
                for burst in all.chunks(32) {
                    let (_, got) = send(&mut a, &mut b, burst);
                    assert_eq!(got, burst, "{path:?}");
                }
                assert_eq!(b.worker.counters.rx_sa[0][0].in_pkts_ok, 96, "{path:?}");
                // A forged ICV in the middle of a burst fails that frame only.
                let mut wire = all[..32].to_vec();
                let mut d = vec![Disposition::Drop; 32];
                a.worker.protect_burst(&mut wire, &mut d);
                let last = wire[7].len() - 1;
                wire[7][last] ^= 1;
                let mut rd = vec![Disposition::Drop; 32];
                b.worker.validate_burst(&mut wire, &mut rd);
                assert_eq!(rd.iter().filter(|d| **d == Disposition::Forward).count(), 31, "{path:?}");
                assert_eq!(rd[7], Disposition::Drop, "{path:?}");
                assert_eq!(b.worker.counters.rx_sa[0][0].in_pkts_not_valid, 1, "{path:?}");
            }
        }
    }

    /// One received burst whose frames alternate between two SAs (AN 0 and AN 1, other keys),
    /// as around a rekey: on the engine they go in one call of mixed keys, each frame checked
    /// with its own SA's key; a forged frame of either SA fails alone.
    #[test]
    fn a_burst_of_two_interleaved_sas_opens_with_each_key() {
        for path in Engine::available() {
            let engine = || -> Arc<dyn GcmBackend> { Arc::new(EngineBackend::new(Engine::with_path(path).unwrap())) };
            let mut a = side_on(A, EncryptionMode::MustEncrypt, u64::MAX, engine());
            let mut b = side_on(B, EncryptionMode::MustEncrypt, u64::MAX, engine());
            let all = frames(32, 0x0800);
            let mut old = all[..16].to_vec();
            let mut new = all[16..].to_vec();
            let mut d = vec![Disposition::Drop; 16];
            key(&mut a, &mut b, 0, 1);
            a.worker.protect_burst(&mut old, &mut d);
            key(&mut a, &mut b, 1, 2);
            a.worker.protect_burst(&mut new, &mut d);
            let mut wire: Vec<Vec<u8>> = old.into_iter().zip(new).flat_map(|(o, n)| [o, n]).collect();
            let want: Vec<Vec<u8>> =
                all[..16].iter().zip(&all[16..]).flat_map(|(o, n)| [o.clone(), n.clone()]).collect();
            for forged in [4, 9] {
                let last = wire[forged].len() - 1;
                wire[forged][last] ^= 1;
            }
            let mut rd = vec![Disposition::Drop; 32];
            b.worker.validate_burst(&mut wire, &mut rd);
            for (i, (d, (got, want))) in rd.iter().zip(wire.iter().zip(&want)).enumerate() {
                if i == 4 || i == 9 {
                    assert_eq!(*d, Disposition::Drop, "{path:?} frame {i}");
                } else {
                    assert_eq!((*d, got), (Disposition::Forward, want), "{path:?} frame {i}");
                }
            }
            let c = &b.worker.counters.rx_sa[0];
            assert_eq!((c[0].in_pkts_ok, c[1].in_pkts_ok), (15, 15), "{path:?}");
            assert_eq!((c[0].in_pkts_not_valid, c[1].in_pkts_not_valid), (1, 1), "{path:?}");
        }
    }

    #[test]
    fn rekey_loses_no_frame() {
        let (mut a, mut b) =
            (side(A, EncryptionMode::MustEncrypt, u64::MAX), side(B, EncryptionMode::MustEncrypt, u64::MAX));
        key(&mut a, &mut b, 0, 1);
        let all = frames(64, 0x0800);
        // Frames protected with AN 0 are still in flight when the keys change.
        let mut in_flight = all[..32].to_vec();
        let mut d = vec![Disposition::Drop; 32];
        a.worker.protect_burst(&mut in_flight, &mut d);
        key(&mut a, &mut b, 1, 2);
        let (_, got) = send(&mut a, &mut b, &all[32..]);
        assert_eq!(got.len(), 32);
        let mut rd = vec![Disposition::Drop; 32];
        b.worker.validate_burst(&mut in_flight, &mut rd);
        assert!(rd.iter().all(|d| *d == Disposition::Forward));
        assert_eq!(in_flight, &all[..32]);
        b.keys.delete_rx_sa(A, An::new(0).unwrap());
        let c = &b.worker.counters;
        assert_eq!(c.rx_sa[0][0].in_pkts_ok + c.rx_sa[0][1].in_pkts_ok, 64);
        assert_eq!(c.rx_sc[0].in_pkts_late + c.rx_sa[0][0].in_pkts_not_valid, 0);
    }

    #[test]
    fn must_encrypt_without_sa_drops_both_ways() {
        let (mut a, mut b) =
            (side(A, EncryptionMode::MustEncrypt, u64::MAX), side(B, EncryptionMode::MustEncrypt, u64::MAX));
        let (d, got) = send(&mut a, &mut b, &frames(5, 0x0800));
        assert!(d.iter().all(|d| *d == Disposition::Drop) && got.is_empty());
        assert_eq!(a.worker.counters.policy_drops_tx, 5);
        let mut clear = frames(3, 0x0800);
        let mut rd = vec![Disposition::Forward; 3];
        b.worker.validate_burst(&mut clear, &mut rd);
        assert!(rd.iter().all(|d| *d == Disposition::Drop));
        assert_eq!(b.worker.counters.secy.in_pkts_no_tag, 3);
        let mut eapol = frames(1, policy::ETHERTYPE_EAPOL);
        b.worker.validate_burst(&mut eapol, &mut rd[..1]);
        assert_eq!(rd[0], Disposition::Punt);
    }

    #[test]
    fn should_encrypt_passes_clear_until_keyed() {
        let (mut a, mut b) =
            (side(A, EncryptionMode::ShouldEncrypt, u64::MAX), side(B, EncryptionMode::ShouldEncrypt, u64::MAX));
        let burst = frames(4, 0x0800);
        let (_, got) = send(&mut a, &mut b, &burst);
        assert_eq!(got, burst, "clear both ways before any SA");
        key(&mut a, &mut b, 0, 3);
        let (_, got) = send(&mut a, &mut b, &burst);
        assert_eq!(got, burst);
        assert_eq!(b.worker.counters.rx_sa[0][0].in_pkts_ok, 4);
        let mut clear = burst.clone();
        let mut rd = vec![Disposition::Forward; 4];
        b.worker.validate_burst(&mut clear, &mut rd);
        assert!(rd.iter().all(|d| *d == Disposition::Drop), "clear frames stop once secured");
    }

    #[test]
    fn pn_threshold_is_flagged() {
        let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt, 40), side(B, EncryptionMode::MustEncrypt, u64::MAX));
        key(&mut a, &mut b, 0, 1);
        send(&mut a, &mut b, &frames(32, 0x0800));
        assert!(!a.ctx.threshold_reached.load(Ordering::Relaxed));
        send(&mut a, &mut b, &frames(32, 0x0800));
        assert!(a.ctx.threshold_reached.load(Ordering::Relaxed));
    }
}
