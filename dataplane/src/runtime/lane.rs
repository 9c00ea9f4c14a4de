//! A lane is one direction of one SecY: an Rx queue, the SecY stage, a Tx queue. Its tasks (one
//! per worker lcore given to the direction) take turns through a [`Sequencer`]: receive and plan
//! in ticket order, protect or verify in parallel, finish (replay check) and transmit in ticket
//! order. The fast path allocates nothing, takes no lock and makes no syscall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::appliance::lag::{self, LagState};
use crate::appliance::pipeline::{Disposition, Pending, ProtectPlan, ReplayState, SecyWorker};
use crate::dpdk::{MbufBurst, Port, Ring, Sequencer, Ticket, BURST};

/// Which way a lane moves frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Host port → protect → wire port (plus MKPDUs injected by the service lcore).
    Protect,
    /// Wire port → validate → host port (EAPOL punted to the service lcore).
    Validate,
}

/// The receive side of a lane, used in the receive turn: one or more Rx queues of a port, polled
/// in turn (a LAG's host port has one queue pair per member; a PMD that spreads flows over its
/// queues, like af_packet's fanout, keeps each flow on one of them).
pub struct RxSide {
    pub port: Port,
    queues: u16,
    next: u16,
}

impl RxSide {
    pub fn new(port: Port, queues: u16) -> Self {
        RxSide { port, queues: queues.max(1), next: 0 }
    }

    /// Receives from the next queue that has frames.
    fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        for _ in 0..self.queues {
            let q = self.next;
            self.next = (self.next + 1) % self.queues;
            let n = self.port.rx_burst(q, burst);
            if n > 0 {
                return n;
            }
        }
        0
    }
}

/// The transmit side of a lane (one per LAG member on a LAG's protect lane), used in the
/// transmit turn.
pub struct TxSide {
    pub port: Port,
    pub queue: u16,
    /// Validate lanes: the replay windows, updated in arrival order.
    pub replay: ReplayState,
    /// Validate lanes: EAPOL frames for the service lcore. Protect lanes: MKPDUs to send.
    pub ring: Arc<Ring>,
}

/// Counters of a lane that no single worker owns.
#[derive(Default)]
pub struct LaneCounters {
    /// Frames the Tx queue did not take after retries (freed).
    pub tx_dropped: AtomicU64,
    /// Frames the punt ring had no room for (freed).
    pub punt_dropped: AtomicU64,
    /// MKPDUs sent from the inject ring.
    pub injected: AtomicU64,
}

pub struct Lane {
    pub direction: Direction,
    /// The transmit sides: one, or one per member on a LAG's protect lane.
    pub seq: Sequencer<RxSide, Vec<TxSide>>,
    /// One per transmit side.
    pub counters: Box<[LaneCounters]>,
    /// A LAG's protect lane: which members may carry the host's flows.
    pub lag: Option<Arc<LagState>>,
}

impl Lane {
    pub fn new(direction: Direction, rx: RxSide, tx: Vec<TxSide>, lag: Option<Arc<LagState>>) -> Self {
        let counters = tx.iter().map(|_| LaneCounters::default()).collect();
        Lane { direction, seq: Sequencer::new(rx, tx), counters, lag }
    }

    /// The counters of transmit side `member` (zeros past the end).
    pub fn counters(&self, member: usize) -> &LaneCounters {
        static NONE: LaneCounters = LaneCounters {
            tx_dropped: AtomicU64::new(0),
            punt_dropped: AtomicU64::new(0),
            injected: AtomicU64::new(0),
        };
        self.counters.get(member).unwrap_or(&NONE)
    }
}

/// How often a full Tx queue is retried before the rest of a burst is dropped.
const TX_RETRIES: u32 = 64;

/// One worker's share of a lane.
pub struct Task {
    pub lane: Arc<Lane>,
    ticket: Ticket,
    /// One SecY worker per transmit side of the lane (per LAG member).
    workers: Box<[SecyWorker]>,
    /// Per transmit side: the frames of this burst, their dispositions and the protect plan.
    bursts: Box<[MbufBurst]>,
    disps: Box<[[Disposition; BURST]]>,
    plans: Box<[Option<ProtectPlan>]>,
    /// A LAG's protect lane receives here, then hashes each frame onto a member's burst.
    incoming: MbufBurst,
    pending: [Pending; BURST],
    export_due: bool,
}

impl Task {
    /// `workers` holds one SecY worker per transmit side of `lane`, in member order.
    pub fn new(lane: Arc<Lane>, ticket: Ticket, workers: Vec<SecyWorker>) -> Self {
        let n = workers.len();
        Task {
            lane,
            ticket,
            workers: workers.into_boxed_slice(),
            bursts: (0..n).map(|_| MbufBurst::new()).collect(),
            disps: (0..n).map(|_| [Disposition::Drop; BURST]).collect(),
            plans: (0..n).map(|_| None).collect(),
            incoming: MbufBurst::new(),
            pending: [Pending::Done(Disposition::Drop); BURST],
            export_due: false,
        }
    }

    /// Asks the task to publish its counters at its next transmit turn.
    pub fn request_export(&mut self) {
        self.export_due = true;
    }

    /// Whether a received burst still waits for its transmit turn.
    pub fn in_flight(&self) -> bool {
        self.ticket.in_flight()
    }

    /// Only the transmit turn (used while stopping: finish what was received).
    pub fn flush(&mut self) {
        if self.ticket.in_flight() {
            self.transmit();
        }
    }

    /// Protect workers own no replay state: they publish on the drain tick directly.
    pub fn export_if_protect(&mut self) {
        if self.lane.direction == Direction::Protect {
            self.export_due = false;
            self.workers.iter().for_each(SecyWorker::export);
        }
    }

    /// A quiescent state of every RCU reader of this task (between bursts).
    pub fn quiescent(&self) {
        self.workers.iter().for_each(SecyWorker::quiescent);
    }

    /// Polls the lane once without blocking; returns how many frames it moved.
    pub fn poll(&mut self) -> usize {
        let mut moved = 0;
        if !self.ticket.in_flight() {
            self.receive();
        }
        if self.ticket.in_flight() {
            moved = self.transmit().unwrap_or(0);
        }
        moved
    }

    fn receive(&mut self) {
        let lane = &*self.lane;
        let (bursts, workers, disps, plans, incoming) =
            (&mut self.bursts, &mut self.workers, &mut self.disps, &mut self.plans, &mut self.incoming);
        let got = lane.seq.try_rx(&mut self.ticket, |rx| {
            let n = match &lane.lag {
                Some(lag) if bursts.len() > 1 => {
                    let n = rx.rx_burst(incoming);
                    // Once per burst: the usable members, then one hash per frame.
                    let (members, usable) = (lag.members(), lag.usable());
                    let lost = incoming.distribute(bursts, |m| lag::pick(lag::flow_hash(m.data()), members, usable));
                    debug_assert_eq!(lost, 0, "each member's burst holds a whole burst");
                    n
                }
                _ => bursts.first_mut().map_or(0, |b| rx.rx_burst(b)),
            };
            if lane.direction == Direction::Protect && n > 0 {
                // PNs are reserved here, in ticket order, so they leave in increasing order.
                for (((b, w), d), p) in
                    bursts.iter_mut().zip(workers.iter_mut()).zip(disps.iter_mut()).zip(plans.iter_mut())
                {
                    let k = b.len();
                    *p = (k > 0).then(|| w.plan_protect(b.as_mut_slice(), &mut d[..k]));
                }
            }
            n
        });
        if got.filter(|&n| n > 0).is_none() {
            return;
        }
        // The parallel phase: crypto outside any turn.
        let parts =
            self.bursts.iter_mut().zip(self.workers.iter_mut()).zip(self.disps.iter_mut()).zip(self.plans.iter_mut());
        for (((b, w), d), p) in parts {
            let k = b.len();
            match lane.direction {
                Direction::Protect => {
                    if let Some(plan) = p.take() {
                        w.apply_protect(&plan, b.as_mut_slice(), &mut d[..k]);
                    }
                }
                Direction::Validate => w.prepare_burst(b.as_mut_slice(), &mut self.pending[..k]),
            }
        }
    }

    fn transmit(&mut self) -> Option<usize> {
        let (bursts, workers, disps, pending) = (&mut self.bursts, &mut self.workers, &mut self.disps, &self.pending);
        let lane = &*self.lane;
        let export = std::mem::take(&mut self.export_due);
        lane.seq.try_tx(&mut self.ticket, |txs| {
            let mut kept = 0;
            for (m, (((tx, burst), worker), disp)) in
                txs.iter_mut().zip(bursts.iter_mut()).zip(workers.iter_mut()).zip(disps.iter_mut()).enumerate()
            {
                let (n, c) = (burst.len(), lane.counters(m));
                if lane.direction == Direction::Validate {
                    worker.finish_burst(burst.as_mut_slice(), &pending[..n], &mut disp[..n], &mut tx.replay);
                    punt(burst, &mut disp[..n], tx, c);
                } else {
                    inject(tx, c);
                }
                if export {
                    worker.export_with(&tx.replay);
                }
                kept += keep_forwarded(burst, &disp[..n]);
                send_all(tx, burst, c);
            }
            kept
        })
    }

    /// The lcore stops: free what is held, publish final counters, leave the RCU readers.
    pub fn stop(&mut self) {
        self.incoming.free_all();
        self.bursts.iter_mut().for_each(|b| {
            b.free_all();
        });
        self.workers.iter().for_each(SecyWorker::offline);
    }
}

/// Moves punted frames (EAPOL) onto the ring, in order; `disp` is compacted to match the burst.
fn punt(burst: &mut MbufBurst, disp: &mut [Disposition], tx: &TxSide, c: &LaneCounters) {
    if !disp.contains(&Disposition::Punt) {
        return;
    }
    let mut punted = MbufBurst::new();
    let mut all = [Disposition::Drop; BURST];
    all[..disp.len()].copy_from_slice(disp);
    burst.split_off_where(|i| all[i] != Disposition::Punt, Some(&mut punted));
    let mut k = 0;
    for d in all.iter().take(disp.len()).filter(|d| **d != Disposition::Punt) {
        disp[k] = *d;
        k += 1;
    }
    for d in disp.iter_mut().skip(k) {
        *d = Disposition::Drop;
    }
    tx.ring.enqueue_burst(&mut punted);
    let lost = punted.free_all();
    c.punt_dropped.fetch_add(lost as u64, Ordering::Relaxed);
}

/// Sends MKPDUs queued by the service lcore (protect lanes: the wire port).
fn inject(tx: &mut TxSide, c: &LaneCounters) {
    if tx.ring.count() == 0 {
        return;
    }
    let mut frames = MbufBurst::new();
    tx.ring.dequeue_burst(&mut frames);
    let n = frames.len() as u64;
    send_all(tx, &mut frames, c);
    c.injected.fetch_add(n, Ordering::Relaxed);
}

/// Frees the frames not marked Forward (already counted); returns how many stay.
fn keep_forwarded(burst: &mut MbufBurst, disp: &[Disposition]) -> usize {
    burst.split_off_where(|i| disp.get(i) == Some(&Disposition::Forward), None);
    burst.len()
}

/// Transmits the whole burst, retrying a full queue a bounded number of times.
fn send_all(tx: &TxSide, burst: &mut MbufBurst, c: &LaneCounters) {
    let mut tries = 0;
    while !burst.is_empty() && tries < TX_RETRIES {
        if tx.port.tx_burst(tx.queue, burst) == 0 {
            tries += 1;
        }
    }
    let lost = burst.free_all();
    if lost > 0 {
        c.tx_dropped.fetch_add(lost as u64, Ordering::Relaxed);
    }
}
