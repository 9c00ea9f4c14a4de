//! A token bucket on the `now` the caller passes in (sans-IO: no clock inside), to bound how many
//! MKPDUs a participant acts on per peer and how fast it admits new peers.

use std::time::{Duration, Instant};

/// Up to `capacity` events at once, then one per `every`.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    tokens: u32,
    capacity: u32,
    every: Duration,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(capacity: u32, every: Duration, now: Instant) -> Self {
        TokenBucket { tokens: capacity, capacity, every, last: now }
    }

    /// Takes a token if there is one. Time that goes backwards earns nothing.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        let earned = elapsed.as_nanos() / self.every.as_nanos().max(1);
        let room = self.capacity - self.tokens;
        if earned >= u128::from(room) {
            self.tokens = self.capacity;
            self.last = now;
        } else if earned > 0 {
            // earned < room ≤ u32::MAX: the casts are exact.
            self.tokens += earned as u32;
            self.last += self.every * earned as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, Duration::from_millis(100), t0);
        assert_eq!((0..5).filter(|_| b.take(t0)).count(), 3);
        assert!(!b.take(t0 + Duration::from_millis(99)));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(150)));
        // 250 ms more: two tokens earned, the remainder kept for the next one.
        let t = t0 + Duration::from_millis(350);
        assert_eq!((0..5).filter(|_| b.take(t)).count(), 2);
        assert!(b.take(t0 + Duration::from_millis(400)));
        // A long pause refills to the capacity, not beyond.
        let t = t0 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| b.take(t)).count(), 3);
        // Time going backwards earns nothing and does not panic.
        assert!(!b.take(t0));
    }

    #[test]
    fn a_million_events_a_second_get_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(16, Duration::from_millis(100), t0);
        let ok = (0..1_000_000u64).filter(|i| b.take(t0 + Duration::from_micros(*i))).count();
        assert_eq!(ok, 16 + 9); // the burst, then one per 100 ms over 0.999999 s
    }
}
