//! Replay protection of a receive SA (IEEE 802.1AE-2018 10.6.2, 10.6.5).
//!
//! The standard accepts any PN at or above the lowest acceptable PN (nextPN − replayWindow).
//! On top of that we remember which of the last [`HISTORY`] PNs below nextPN were already
//! accepted, so a replayed frame inside the window is dropped as late, like IPsec does; a
//! frame that arrives out of order inside the window is accepted exactly once.

use super::Pn;

/// How many PNs below nextPN are remembered for duplicate detection.
pub const HISTORY: u64 = 1024;
const WORDS: usize = (HISTORY / 64) as usize;

/// The replay state of one receive SA.
#[derive(Clone, Debug)]
pub struct ReplayWindow {
    next_pn: u64,
    lowest_pn: u64,
    /// Bit `pn % HISTORY` is set when `pn` in `[next_pn - HISTORY, next_pn)` was accepted.
    seen: [u64; WORDS],
    /// The last XPN PN, 2^64 - 1, was accepted. nextPN would be 2^64 and saturates at 2^64 - 1,
    /// so that PN is not below nextPN like every other accepted PN: this remembers it.
    last_pn_seen: bool,
}

/// The frame's PN is below the window or was already accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Late;

impl ReplayWindow {
    /// A SA whose lowest acceptable PN is `lowest` (MKA's "lowest acceptable PN"; a new SA
    /// starts at 1).
    pub fn new(lowest: Pn) -> Self {
        let lowest = lowest.0.max(1);
        ReplayWindow { next_pn: lowest, lowest_pn: lowest, seen: [0; WORDS], last_pn_seen: false }
    }

    pub fn next_pn(&self) -> Pn {
        Pn(self.next_pn)
    }

    /// IEEE 802.1AE-2018 10.6.2: the lowest acceptable PN.
    pub fn lowest_pn(&self) -> Pn {
        Pn(self.lowest_pn)
    }

    /// Is `pn` below the lowest acceptable PN (10.6.2)?
    pub fn is_below(&self, pn: Pn) -> bool {
        pn.0 < self.lowest_pn
    }

    /// Is `pn` nextPN, the PN an in-order frame carries? Such a PN is never below the window
    /// nor already accepted (2^64 - 1 has no nextPN after it, so it is never "next").
    #[inline]
    pub fn is_next(&self, pn: Pn) -> bool {
        self.is_next_after(pn, 0)
    }

    /// Is `pn` the PN an in-order frame carries after `before` more in-order frames, i.e.
    /// nextPN + `before`? [`is_next`](Self::is_next) for a frame of a run not yet recorded.
    #[inline]
    pub fn is_next_after(&self, pn: Pn, before: u64) -> bool {
        // The run's earlier PNs were each below 2^64 - 1, so nextPN + before does not overflow.
        pn.0 == self.next_pn.wrapping_add(before) && pn.0 != u64::MAX
    }

    /// Records `count` in-order PNs from nextPN on, each found with
    /// [`is_next_after`](Self::is_next_after): the same as [`accept`](Self::accept) on each in
    /// turn, with the window moved once (10.6.5).
    #[inline]
    pub fn accept_next(&mut self, count: u64, window: u32) {
        let end = self.next_pn + count;
        self.mark_range(self.next_pn, end);
        self.next_pn = end;
        self.lowest_pn = self.lowest_pn.max(end.saturating_sub(u64::from(window)));
    }

    /// The replay check: below the window, or a PN already accepted.
    #[inline]
    pub fn check(&self, pn: Pn) -> Result<(), Late> {
        if self.is_below(pn) || self.was_seen(pn.0) {
            return Err(Late);
        }
        Ok(())
    }

    /// Records a validated frame's PN (10.6.5: nextPN = PN + 1 when PN ≥ nextPN, and the
    /// lowest acceptable PN follows nextPN − replayWindow, the SecY's current window).
    #[inline]
    pub fn accept(&mut self, pn: Pn, window: u32) {
        let pn = pn.0;
        if pn == self.next_pn && pn != u64::MAX {
            // In order, the usual case: the PN's bit stood for pn - HISTORY, which slides out.
            self.mark(pn);
            self.next_pn = pn + 1;
            self.lowest_pn = self.lowest_pn.max(self.next_pn.saturating_sub(u64::from(window)));
            return;
        }
        if pn >= self.next_pn {
            self.forget_up_to(pn);
            self.next_pn = pn.saturating_add(1);
            let floor = self.next_pn.saturating_sub(u64::from(window));
            self.lowest_pn = self.lowest_pn.max(floor);
        }
        if self.next_pn - pn <= HISTORY {
            self.mark(pn);
        }
        self.last_pn_seen |= pn == u64::MAX;
    }

    fn was_seen(&self, pn: u64) -> bool {
        // IEEE 802.1AE-2018 10.6.2: a PN is accepted once; 2^64 - 1 has no nextPN above it.
        if pn == u64::MAX && self.last_pn_seen {
            return true;
        }
        if pn >= self.next_pn || self.next_pn - pn > HISTORY {
            return false;
        }
        let bit = pn % HISTORY;
        self.seen[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    fn mark(&mut self, pn: u64) {
        let bit = pn % HISTORY;
        self.seen[(bit / 64) as usize] |= 1 << (bit % 64);
    }

    /// Sets the bits of PNs in `[from, end)`, a word at a time: bit by bit, each OR waited for
    /// the one before in the same word (perf: 8% of the SecY's validate loop at 64 B).
    fn mark_range(&mut self, from: u64, end: u64) {
        let mut pn = from;
        while pn < end {
            let bit = pn % HISTORY;
            let (word, shift) = ((bit / 64) as usize, bit % 64);
            let n = (64 - shift).min(end - pn);
            let ones = if n == 64 { u64::MAX } else { (1 << n) - 1 };
            self.seen[word] |= ones << shift;
            pn += n;
        }
    }

    /// Clears the bits of PNs in `[next_pn, pn]`: they slide into the history unseen.
    fn forget_up_to(&mut self, pn: u64) {
        if pn - self.next_pn >= HISTORY {
            self.seen = [0; WORDS];
            return;
        }
        for p in self.next_pn..=pn {
            let bit = p % HISTORY;
            self.seen[(bit / 64) as usize] &= !(1 << (bit % 64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(pns: &[u64], window: u32) -> Vec<bool> {
        let mut w = ReplayWindow::new(Pn(1));
        pns.iter()
            .map(|&pn| {
                let ok = w.check(Pn(pn)).is_ok();
                if ok {
                    w.accept(Pn(pn), window);
                }
                ok
            })
            .collect()
    }

    #[test]
    fn window_zero_is_strict_order() {
        assert_eq!(run(&[1, 2, 2, 5, 4, 6], 0), [true, true, false, true, false, true]);
    }

    #[test]
    fn out_of_order_inside_the_window_is_accepted_once() {
        assert_eq!(run(&[10, 5, 5, 11, 5], 8), [true, true, false, true, false]);
        assert_eq!(run(&[100, 92, 93], 8), [true, false, true]); // nextPN 101 - 8 = 93 is the lowest
    }

    proptest! {
        /// Against a model that remembers every accepted PN: mostly in order (the fast path of
        /// `accept`), with steps back and jumps past HISTORY.
        #[test]
        fn matches_a_model_that_remembers_everything(
            steps in proptest::collection::vec(prop_oneof![8 => Just(1i64), 2 => -40i64..0, 1 => 2i64..1500], 1..600),
            window in prop_oneof![Just(0u32), 1u32..64, Just(1024), Just(u32::MAX)],
        ) {
            let mut w = ReplayWindow::new(Pn(1));
            let (mut next, mut lowest) = (1u64, 1u64);
            let mut accepted = std::collections::HashSet::new();
            let mut pn = 1i64;
            for step in steps {
                pn = (pn + step).max(1);
                let p = pn as u64;
                let late = p < lowest || (p < next && next - p <= HISTORY && accepted.contains(&p));
                prop_assert_eq!(w.check(Pn(p)).is_err(), late, "pn {}", p);
                if !late {
                    w.accept(Pn(p), window);
                    accepted.insert(p);
                    if p >= next {
                        next = p + 1;
                        lowest = lowest.max(next.saturating_sub(u64::from(window)));
                    }
                }
                prop_assert_eq!((w.next_pn(), w.lowest_pn()), (Pn(next), Pn(lowest)));
            }
        }

        /// A run recorded at once leaves the window as accepting its PNs one by one does.
        #[test]
        fn accept_next_is_accept_in_turn(
            start in prop_oneof![1u64..3000, Just(u64::MAX - 40)],
            gaps in proptest::collection::vec(prop_oneof![1u64..40, Just(0)], 0..8),
            run in prop_oneof![0u64..40, 40u64..1200],
            window in prop_oneof![Just(0u32), 1u32..64, Just(u32::MAX)],
        ) {
            let (mut at_once, mut in_turn) = (ReplayWindow::new(Pn(start)), ReplayWindow::new(Pn(start)));
            // Some history first, with holes, so the bits that slide out matter.
            for g in gaps {
                let pn = Pn(at_once.next_pn().0.saturating_add(g));
                at_once.accept(pn, window);
                in_turn.accept(pn, window);
            }
            let run = (0..run).take_while(|&k| at_once.is_next_after(Pn(at_once.next_pn().0.wrapping_add(k)), k)).count() as u64;
            for k in 0..run {
                prop_assert!(in_turn.is_next(in_turn.next_pn()), "k {}", k);
                in_turn.accept(in_turn.next_pn(), window);
            }
            at_once.accept_next(run, window);
            prop_assert_eq!((at_once.next_pn(), at_once.lowest_pn()), (in_turn.next_pn(), in_turn.lowest_pn()));
            let next = at_once.next_pn().0;
            for pn in next.saturating_sub(HISTORY + 50)..next.saturating_add(5) {
                prop_assert_eq!(at_once.check(Pn(pn)), in_turn.check(Pn(pn)), "pn {}", pn);
            }
            prop_assert_eq!(at_once.last_pn_seen, in_turn.last_pn_seen);
        }

        /// With window w, an accepted PN is always above (highest accepted − w), and no PN is
        /// accepted twice.
        #[test]
        fn accepted_pns_respect_the_window(
            pns in proptest::collection::vec(1u64..3000, 1..400),
            window in 0u32..1024,
        ) {
            let mut w = ReplayWindow::new(Pn(1));
            let mut highest: Option<u64> = None;
            let mut accepted = std::collections::HashSet::new();
            for pn in pns {
                if w.check(Pn(pn)).is_ok() {
                    w.accept(Pn(pn), window);
                    if let Some(h) = highest {
                        prop_assert!(pn + u64::from(window) > h || pn > h, "pn {} highest {} window {}", pn, h, window);
                    }
                    prop_assert!(accepted.insert(pn), "pn {} accepted twice", pn);
                    highest = Some(highest.map_or(pn, |h| h.max(pn)));
                }
            }
        }
    }
}
