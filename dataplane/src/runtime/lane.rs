//! A lane is one direction of one SecY: an Rx queue, the SecY stage, a Tx queue. Its tasks (one
//! per worker lcore given to the direction) take turns through a [`Sequencer`]: receive and plan
//! in ticket order, protect or verify in parallel, finish (replay check) and transmit in ticket
//! order. The fast path allocates nothing, takes no lock and makes no syscall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The receive side of a lane, used in the receive turn.
pub struct RxSide {
    pub port: Port,
    pub queue: u16,
}

/// The transmit side of a lane, used in the transmit turn.
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
    pub seq: Sequencer<RxSide, TxSide>,
    pub counters: LaneCounters,
}

/// How often a full Tx queue is retried before the rest of a burst is dropped.
const TX_RETRIES: u32 = 64;

/// One worker's share of a lane.
pub struct Task {
    pub lane: Arc<Lane>,
    ticket: Ticket,
    pub worker: SecyWorker,
    burst: MbufBurst,
    disp: [Disposition; BURST],
    pending: [Pending; BURST],
    plan: Option<ProtectPlan>,
    export_due: bool,
}

impl Task {
    pub fn new(lane: Arc<Lane>, ticket: Ticket, worker: SecyWorker) -> Self {
        Task {
            lane,
            ticket,
            worker,
            burst: MbufBurst::new(),
            disp: [Disposition::Drop; BURST],
            pending: [Pending::Done(Disposition::Drop); BURST],
            plan: None,
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
            self.worker.export();
        }
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
        let (burst, worker, disp, plan) = (&mut self.burst, &mut self.worker, &mut self.disp, &mut self.plan);
        let direction = self.lane.direction;
        let got = self.lane.seq.try_rx(&mut self.ticket, |rx| {
            let n = rx.port.rx_burst(rx.queue, burst);
            if direction == Direction::Protect && n > 0 {
                // PNs are reserved here, in ticket order, so they leave in increasing order.
                *plan = Some(worker.plan_protect(burst.as_mut_slice(), &mut disp[..n]));
            }
            n
        });
        let Some(n) = got.filter(|&n| n > 0) else { return };
        // The parallel phase: crypto outside any turn.
        match direction {
            Direction::Protect => {
                if let Some(p) = self.plan.take() {
                    self.worker.apply_protect(&p, self.burst.as_mut_slice(), &mut self.disp[..n]);
                }
            }
            Direction::Validate => self.worker.prepare_burst(self.burst.as_mut_slice(), &mut self.pending[..n]),
        }
    }

    fn transmit(&mut self) -> Option<usize> {
        let (burst, worker, disp, pending) = (&mut self.burst, &mut self.worker, &mut self.disp, &self.pending);
        let lane = &*self.lane;
        let export = std::mem::take(&mut self.export_due);
        lane.seq.try_tx(&mut self.ticket, |tx| {
            let n = burst.len();
            if lane.direction == Direction::Validate {
                worker.finish_burst(burst.as_mut_slice(), &pending[..n], &mut disp[..n], &mut tx.replay);
                punt(burst, &mut disp[..n], tx, &lane.counters);
            } else {
                inject(tx, &lane.counters);
            }
            if export {
                worker.export_with(&tx.replay);
            }
            let kept = keep_forwarded(burst, &disp[..n]);
            send_all(tx, burst, &lane.counters);
            kept
        })
    }

    /// The lcore stops: free what is held, publish final counters, leave the RCU readers.
    pub fn stop(&mut self) {
        self.burst.free_all();
        self.worker.offline();
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
