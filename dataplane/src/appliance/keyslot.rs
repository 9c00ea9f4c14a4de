//! Key slots: the SA table of one SecY, published by the service lcore and read by every worker
//! without a lock (RCU in the quiescent-state style of DPDK's `rte_rcu_qsbr`).
//!
//! The service lcore builds a new immutable [`SaTable`] and publishes it; workers compare one
//! version number per burst and load the new table only when it changed, so a frame costs no
//! lock and no atomic read-modify-write. After each burst a worker reports the version it uses
//! (its quiescent point). A replaced table is kept in the publisher's retired list until every
//! worker reported a newer version: the last `Arc` then drops on the service lcore, never on a
//! worker, and the SAKs' key schedules go with it.
//!
//! Make-before-break rekey (802.1X-2020 9.8, 802.1AE-2018 10.7): install the new Rx SA (a table
//! with both the old and the new Rx SA), then switch the Tx SA, then retire the old Rx SA. No
//! frame in flight ever meets a table without its SA.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;

use crate::gcm::Engine;
use crate::secy::sa::SaCrypto;
use crate::secy::{An, Pn, Sci};

/// A transmit SA shared by all workers of a SecY.
pub struct TxSaKey {
    pub an: An,
    pub crypto: SaCrypto,
    /// The SA's first PN, and how many PNs were handed out since: workers reserve a block per
    /// burst with one `fetch_add` on `used`, which (unlike a PN counter near 2^64 with XPN)
    /// cannot wrap: it grows by at most a burst per refused call.
    first_pn: u64,
    used: AtomicU64,
    max_pn: u64,
    /// Distinguishes SAs installed on the same AN (counters, replay state).
    pub id: u64,
}

impl TxSaKey {
    pub fn new(an: An, crypto: SaCrypto, next_pn: Pn, max_pn: u64, id: u64) -> Self {
        TxSaKey { an, crypto, first_pn: next_pn.0, used: AtomicU64::new(0), max_pn, id }
    }

    /// Reserves `n` consecutive PNs; `None` (and nothing reserved that could be sent) when the
    /// SA's PN space does not hold them all (802.1AE-2018 10.5.2: a PN is never reused).
    pub fn reserve(&self, n: u64) -> Option<Pn> {
        // Relaxed: the counter orders nothing else; uniqueness comes from the RMW itself.
        let offset = self.used.fetch_add(n, Ordering::Relaxed);
        let first = self.first_pn.checked_add(offset)?;
        (first.checked_add(n.checked_sub(1)?)? <= self.max_pn).then_some(Pn(first))
    }

    /// The next PN that will be used (for status and the rekey threshold).
    pub fn next_pn(&self) -> Pn {
        let next = self.first_pn.saturating_add(self.used.load(Ordering::Relaxed));
        Pn(next.min(self.max_pn.saturating_add(1)))
    }

    pub fn max_pn(&self) -> u64 {
        self.max_pn
    }
}

/// A receive SA shared by all workers of a SecY. Its replay state lives in the ordered stage.
pub struct RxSaKey {
    pub an: An,
    pub crypto: SaCrypto,
    /// The lowest acceptable PN given at installation.
    pub lowest_pn: Pn,
    pub id: u64,
}

/// The receive SAs of one peer SCI, indexed by AN.
#[derive(Clone)]
pub struct RxChannelKeys {
    pub sci: Sci,
    pub sas: [Option<Arc<RxSaKey>>; 4],
}

/// Everything a worker needs to protect and validate for one SecY.
#[derive(Clone, Default)]
pub struct SaTable {
    pub tx: Option<Arc<TxSaKey>>,
    pub rx: Vec<RxChannelKeys>,
}

impl SaTable {
    pub fn rx_sa(&self, sci: Sci, an: An) -> Option<&Arc<RxSaKey>> {
        self.rx.iter().find(|c| c.sci == sci)?.sas[an.index()].as_ref()
    }

    /// The receive channel index of `sci`.
    pub fn rx_channel(&self, sci: Sci) -> Option<usize> {
        self.rx.iter().position(|c| c.sci == sci)
    }

    /// The own engine the receive SAs' keys run on, if their backend is it (one backend per
    /// SecY: the first key found tells).
    pub fn engine(&self) -> Option<Engine> {
        let sa = self.rx.iter().flat_map(|c| c.sas.iter().flatten()).next()?;
        sa.crypto.key().engine().map(|(engine, _)| engine)
    }

    /// Whether any SA is installed (policy: `should_encrypt` stops passing clear frames).
    pub fn has_any_sa(&self) -> bool {
        self.tx.is_some() || self.rx.iter().any(|c| c.sas.iter().any(Option::is_some))
    }
}

/// The slot workers read. One per SecY.
pub struct KeySlot {
    table: ArcSwap<SaTable>,
    version: CachePadded<AtomicU64>,
    /// Per worker: the version it last used, stored after each burst.
    reported: Box<[CachePadded<AtomicU64>]>,
}

impl KeySlot {
    pub fn new(workers: usize) -> Arc<Self> {
        Arc::new(KeySlot {
            table: ArcSwap::from_pointee(SaTable::default()),
            version: CachePadded::new(AtomicU64::new(1)),
            reported: (0..workers).map(|_| CachePadded::new(AtomicU64::new(0))).collect(),
        })
    }

    /// The current table (service lcore and tests).
    pub fn current(&self) -> Arc<SaTable> {
        self.table.load_full()
    }

    pub fn workers(&self) -> usize {
        self.reported.len()
    }
}

/// A worker's view of a slot: one load per burst, a table reload only when it changed.
pub struct KeyReader {
    slot: Arc<KeySlot>,
    worker: usize,
    seen: u64,
    table: Arc<SaTable>,
}

impl KeyReader {
    pub fn new(slot: Arc<KeySlot>, worker: usize) -> Self {
        let table = slot.current();
        KeyReader { slot, worker, seen: 0, table }
    }

    /// Call at the start of a burst. Acquire pairs with the publisher's Release on `version`,
    /// so the table stored before the version bump is the one loaded.
    pub fn refresh(&mut self) -> &SaTable {
        let v = self.slot.version.load(Ordering::Acquire);
        if v != self.seen {
            self.table = self.slot.table.load_full();
            self.seen = v;
        }
        &self.table
    }

    pub fn table(&self) -> &SaTable {
        &self.table
    }

    /// Call after the burst: this worker holds no table older than `seen` any more. Release so
    /// the publisher that sees the report also sees that the old table is no longer read.
    pub fn quiescent(&self) {
        if let Some(r) = self.slot.reported.get(self.worker) {
            r.store(self.seen, Ordering::Release);
        }
    }

    /// A worker that stops reports "done with everything" so retirement never waits for it.
    pub fn offline(&self) {
        if let Some(r) = self.slot.reported.get(self.worker) {
            r.store(u64::MAX, Ordering::Release);
        }
    }
}

/// The service lcore's side: publishes tables and frees replaced ones once no worker reads them.
pub struct KeyPublisher {
    slot: Arc<KeySlot>,
    retired: Vec<(u64, Arc<SaTable>)>,
}

impl KeyPublisher {
    pub fn new(slot: Arc<KeySlot>) -> Self {
        KeyPublisher { slot, retired: Vec::new() }
    }

    pub fn slot(&self) -> &Arc<KeySlot> {
        &self.slot
    }

    /// Publishes `table`; the previous one is retired until every worker moved past it.
    pub fn publish(&mut self, table: SaTable) {
        let old = self.slot.table.swap(Arc::new(table));
        // Release: a worker that sees the new version sees the new table.
        let v = self.slot.version.fetch_add(1, Ordering::Release) + 1;
        self.retired.push((v, old));
        self.reclaim();
    }

    /// Drops retired tables that no worker can still hold. Returns how many remain.
    pub fn reclaim(&mut self) -> usize {
        let min = self.slot.reported.iter().map(|r| r.load(Ordering::Acquire)).min().unwrap_or(u64::MAX);
        // A table replaced when the version became `v` is unused once every worker reported v.
        self.retired.retain(|(replaced_at, _)| *replaced_at > min);
        self.retired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secy::{CipherSuite, RingBackend, SaParams, Sak};

    fn tx_key(an: u8, pn: u64) -> Arc<TxSaKey> {
        tx_key_id(an, pn, 1)
    }

    fn tx_key_id(an: u8, pn: u64, id: u64) -> Arc<TxSaKey> {
        let an = An::new(an).unwrap();
        let p = SaParams { an, pn: Pn(pn), ssci: None, salt: None };
        let crypto =
            SaCrypto::new(&RingBackend, CipherSuite::GcmAes128, &Sak::from_slice(&[1; 16]).unwrap(), &p).unwrap();
        Arc::new(TxSaKey::new(an, crypto, Pn(pn), u64::from(u32::MAX), id))
    }

    #[test]
    fn pn_blocks_are_disjoint_and_stop_at_the_end() {
        let k = tx_key(0, 1);
        assert_eq!(k.reserve(32), Some(Pn(1)));
        assert_eq!(k.reserve(32), Some(Pn(33)));
        assert_eq!(k.next_pn(), Pn(65));
        let end = tx_key(0, u64::from(u32::MAX) - 1);
        assert_eq!(end.reserve(2), Some(Pn(u64::from(u32::MAX) - 1)));
        assert_eq!(end.reserve(1), None);
    }

    #[test]
    fn retired_tables_wait_for_every_worker() {
        let slot = KeySlot::new(2);
        let mut publisher = KeyPublisher::new(slot.clone());
        let mut w0 = KeyReader::new(slot.clone(), 0);
        let mut w1 = KeyReader::new(slot.clone(), 1);
        w0.refresh();
        w1.refresh();
        w0.quiescent();
        w1.quiescent();
        let first = tx_key(0, 1);
        publisher.publish(SaTable { tx: Some(first.clone()), rx: vec![] });
        assert!(w0.refresh().tx.is_some());
        w0.quiescent();
        // w1 has not moved on: the old (empty) table stays retired, alive.
        assert_eq!(publisher.reclaim(), 1);
        assert!(w1.refresh().tx.is_some());
        w1.quiescent();
        assert_eq!(publisher.reclaim(), 0);
        // Replace again: the first SA is freed only after both workers passed a quiescent state.
        publisher.publish(SaTable { tx: Some(tx_key(1, 1)), rx: vec![] });
        assert_eq!(Arc::strong_count(&first), 2); // ours and the one retired table w1 still reads
        w0.refresh();
        w0.quiescent();
        w1.offline();
        assert_eq!(publisher.reclaim(), 0);
        drop((w0, w1));
        assert_eq!(Arc::strong_count(&first), 1);
    }

    #[test]
    fn readers_on_other_threads_never_see_a_torn_table() {
        let slot = KeySlot::new(1);
        let mut publisher = KeyPublisher::new(slot.clone());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (slot, stop) = (slot.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut r = KeyReader::new(slot, 0);
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(tx) = &r.refresh().tx {
                        assert!(tx.id >= last, "tables arrive in publication order");
                        last = tx.id;
                    }
                    r.quiescent();
                }
                r.offline();
            })
        };
        for i in 0..2000u64 {
            publisher.publish(SaTable { tx: Some(tx_key_id((i % 4) as u8, 1, i)), rx: vec![] });
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        assert_eq!(publisher.reclaim(), 0);
    }
}
