//! The ordered stage of a lane: several worker lcores share one Rx queue and one Tx queue, take
//! turns to receive and to transmit in the same ticket order, and do the crypto in between in
//! parallel. Frames therefore leave in the order they arrived, and a Tx SA's PNs (reserved in the
//! receive turn) go out strictly increasing (ARCHITECTURE.md, "PN order on the wire").
//!
//! Tasks never block: a task whose turn it is not goes on polling its other lanes, so any number
//! of tasks can share any number of lcores (even one).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Turn-based exclusive access to the receive-side state `R` and the transmit-side state `T` of
/// one lane.
pub struct Sequencer<R, T> {
    rx_turn: CachePadded<AtomicU64>,
    tx_turn: CachePadded<AtomicU64>,
    rx: UnsafeCell<R>,
    tx: UnsafeCell<T>,
    tickets: u64,
}

// SAFETY: `rx` and `tx` are only reached through `try_rx` / `try_tx`, which give access to exactly
// one ticket holder at a time (the one whose number equals the turn counter); the turn counter is
// advanced with Release after the access and read with Acquire before it, so each holder sees the
// previous holder's writes. R and T move between lcores, hence `Send`.
unsafe impl<R: Send, T: Send> Sync for Sequencer<R, T> {}

/// A task's place in the turn order. Not `Clone`: two tasks holding the same number would break
/// the exclusivity the sequencer relies on, so tickets only come from [`Sequencer::tickets`].
#[derive(Debug)]
pub struct Ticket {
    seq: u64,
    stride: u64,
    received: bool,
}

impl Ticket {
    /// Whether this task received a burst and owes a transmit turn.
    pub fn in_flight(&self) -> bool {
        self.received
    }
}

impl<R, T> Sequencer<R, T> {
    pub fn new(rx: R, tx: T) -> Self {
        Sequencer {
            rx_turn: CachePadded::new(AtomicU64::new(0)),
            tx_turn: CachePadded::new(AtomicU64::new(0)),
            rx: UnsafeCell::new(rx),
            tx: UnsafeCell::new(tx),
            tickets: 0,
        }
    }

    /// The `n` tickets of this lane (tasks 0..n take turns round robin). Callable once: needs
    /// `&mut self`, before the sequencer is shared.
    pub fn tickets(&mut self, n: u64) -> Vec<Ticket> {
        assert!(self.tickets == 0 && n > 0, "tickets are handed out once, at least one");
        self.tickets = n;
        (0..n).map(|i| Ticket { seq: i, stride: n, received: false }).collect()
    }

    /// Runs `f` with the receive side if it is `t`'s turn to receive.
    pub fn try_rx<X>(&self, t: &mut Ticket, f: impl FnOnce(&mut R) -> X) -> Option<X> {
        // Acquire: pairs with the Release below of the previous receive turn.
        if t.received || self.rx_turn.load(Ordering::Acquire) != t.seq {
            return None;
        }
        // SAFETY: only the ticket whose number equals rx_turn gets here, and tickets are unique
        // (see `tickets`); the turn moves on only after `f` returned.
        let x = f(unsafe { &mut *self.rx.get() });
        t.received = true;
        // Release: publishes our use of the receive side to the next ticket.
        self.rx_turn.store(t.seq + 1, Ordering::Release);
        Some(x)
    }

    /// Runs `f` with the transmit side if `t` received and it is its turn to transmit.
    pub fn try_tx<X>(&self, t: &mut Ticket, f: impl FnOnce(&mut T) -> X) -> Option<X> {
        // Acquire: pairs with the Release of the previous transmit turn.
        if !t.received || self.tx_turn.load(Ordering::Acquire) != t.seq {
            return None;
        }
        // SAFETY: as in `try_rx`, for the transmit side and the tx_turn counter.
        let x = f(unsafe { &mut *self.tx.get() });
        t.received = false;
        self.tx_turn.store(t.seq + 1, Ordering::Release);
        t.seq += t.stride;
        Some(x)
    }

    /// Exclusive access once no task runs any more (after the workers were joined).
    pub fn get_mut(&mut self) -> (&mut R, &mut T) {
        (self.rx.get_mut(), self.tx.get_mut())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Four tasks on two threads push numbers received in order; the transmit side sees them in
    /// the same order although the "work" between the turns takes varying time.
    #[test]
    fn order_is_kept_across_threads() {
        let mut s = Sequencer::new(0u64, Vec::new());
        let tickets = s.tickets(4);
        let s = Arc::new(s);
        let mut per_thread: Vec<Vec<Ticket>> = vec![Vec::new(), Vec::new()];
        for (i, t) in tickets.into_iter().enumerate() {
            per_thread[i % 2].push(t);
        }
        let handles: Vec<_> = per_thread
            .into_iter()
            .map(|mut ts| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut held = [0u64; 4];
                    let mut done = 0;
                    while done < 2000 {
                        for (k, t) in ts.iter_mut().enumerate() {
                            if let Some(v) = s.try_rx(t, |next| {
                                *next += 1;
                                *next
                            }) {
                                held[k] = v;
                                std::hint::spin_loop();
                            }
                            if s.try_tx(t, |out: &mut Vec<u64>| out.push(held[k])).is_some() {
                                done += 1;
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut s = Arc::try_unwrap(s).ok().unwrap();
        let (_, out) = s.get_mut();
        assert_eq!(out.len(), 4000);
        assert!(out.windows(2).all(|w| w[1] == w[0] + 1), "out of order");
    }
}
