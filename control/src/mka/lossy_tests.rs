//! Two participants over a wire that loses, reorders and duplicates MKPDUs (deterministically:
//! every 3rd dropped, pairs swapped, some sent twice), with a fake clock. MKA must still reach
//! secured, rekey, keep both sides' SAs consistent, and never have a side transmit with a key the
//! other cannot receive.

use std::time::{Duration, Instant};

use macsec_dataplane::secy::{CipherSuite, Sci};
use rand::rngs::StdRng;

use super::participant::tests::node;
use super::participant::{DpCommand, Participant, RekeyReason, State};

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);

/// One side's dataplane: Rx SAs by (peer, AN), Tx SAs by AN, the encoding AN.
#[derive(Default, Debug)]
struct Dp {
    rx: Vec<(Sci, u8, Vec<u8>)>,
    tx: Vec<(u8, Vec<u8>)>,
    enabled: Option<u8>,
}

impl Dp {
    fn apply(&mut self, p: &mut Participant<StdRng>) {
        while let Some(c) = p.poll_dataplane_command() {
            match c {
                DpCommand::InstallRxSa { peer, an, sak, .. } => {
                    self.rx.retain(|r| !(r.0 == peer && r.1 == an.get()));
                    self.rx.push((peer, an.get(), sak.expose().to_vec()));
                }
                DpCommand::InstallTxSa { an, sak, .. } => {
                    self.tx.retain(|t| t.0 != an.get());
                    self.tx.push((an.get(), sak.expose().to_vec()));
                }
                DpCommand::EnableTxSa { an } => self.enabled = Some(an.get()),
                DpCommand::DeleteRxSa { peer, an } => self.rx.retain(|r| !(r.0 == peer && r.1 == an.get())),
                DpCommand::DeleteTxSa { an } => self.tx.retain(|t| t.0 != an.get()),
                DpCommand::ClearSas => *self = Dp::default(),
            }
        }
    }

    fn tx_key(&self) -> Option<(u8, &[u8])> {
        let an = self.enabled?;
        self.tx.iter().find(|t| t.0 == an).map(|t| (an, &t.1[..]))
    }

    fn rx_key(&self, peer: Sci, an: u8) -> Option<&[u8]> {
        self.rx.iter().find(|r| r.0 == peer && r.1 == an).map(|r| &r.2[..])
    }
}

/// The wire: MKPDU number n (counting from 1, both directions) is dropped when n % 3 == 0,
/// held back and delivered after the next one when n % 4 == 1, and delivered twice when
/// n % 5 == 2.
#[derive(Default)]
struct Lossy {
    n: u64,
    held: Option<(usize, Vec<u8>)>,
    dropped: u64,
    swapped: u64,
    duplicated: u64,
    /// Drop everything (a burst of loss).
    cut: bool,
    /// Only the burst, no periodic loss, reordering or duplicates.
    clean: bool,
}

impl Lossy {
    /// What arrives of `sent` (sender index, frame), in arrival order.
    fn pass(&mut self, sent: Vec<(usize, Vec<u8>)>) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for (from, f) in sent {
            self.n += 1;
            if self.cut || (!self.clean && self.n % 3 == 0) {
                self.dropped += 1;
                continue;
            }
            if !self.clean && self.n % 4 == 1 && self.held.is_none() {
                self.held = Some((from, f));
                continue;
            }
            if !self.clean && self.n % 5 == 2 {
                self.duplicated += 1;
                out.push((from, f.clone()));
            }
            out.push((from, f));
            if let Some(h) = self.held.take() {
                self.swapped += 1;
                out.push(h);
            }
        }
        out
    }
}

struct Sim {
    p: [Participant<StdRng>; 2],
    dp: [Dp; 2],
    wire: Lossy,
    now: Instant,
}

const SCIS: [Sci; 2] = [SCI_A, SCI_B];

impl Sim {
    fn new(suite: CipherSuite) -> Sim {
        let now = Instant::now();
        let p = [node(SCI_A, 16, suite, 11, now), node(SCI_B, 16, suite, 12, now)];
        Sim { p, dp: [Dp::default(), Dp::default()], wire: Lossy::default(), now }
    }

    /// Whatever a side transmits with, the other side has an Rx SA for with the same key.
    fn check_hitless(&self) {
        for (i, sci) in SCIS.into_iter().enumerate() {
            let Some((an, key)) = self.dp[i].tx_key() else { continue };
            let rx = self.dp[1 - i].rx_key(sci, an);
            assert_eq!(rx, Some(key), "{sci:?} sends on AN {an} without a matching Rx SA on the peer");
        }
    }

    fn exchange(&mut self) {
        for _ in 0..20 {
            let mut sent = Vec::new();
            for (i, p) in self.p.iter_mut().enumerate() {
                while let Some(f) = p.poll_transmit() {
                    sent.push((i, f));
                }
            }
            if sent.is_empty() {
                break;
            }
            for (from, f) in self.wire.pass(sent) {
                // Stale (reordered or duplicated) MKPDUs are refused by the MN check: that's fine.
                let _ = self.p[1 - from].handle_mkpdu(self.now, &f);
            }
            for i in 0..2 {
                self.dp[i].apply(&mut self.p[i]);
            }
            self.check_hitless();
        }
    }

    fn run(&mut self, secs: u64) {
        self.run_ticks(secs * 10);
    }

    fn run_ticks(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.now += Duration::from_millis(100);
            for i in 0..2 {
                if self.p[i].poll_timeout() <= self.now {
                    self.p[i].handle_timeout(self.now);
                }
                self.dp[i].apply(&mut self.p[i]);
            }
            self.exchange();
        }
    }

    /// Both secured; each sends with a key the other receives with; at most two keys per peer.
    fn assert_secured(&self, what: &str) {
        for (i, sci) in SCIS.into_iter().enumerate() {
            assert_eq!(self.p[i].state(), State::Secured, "{what}: {:?}", self.p[i].status());
            let (an, key) = self.dp[i].tx_key().unwrap_or_else(|| panic!("{what}: {sci:?} sends nothing"));
            assert_eq!(self.dp[1 - i].rx_key(sci, an), Some(key), "{what}");
            assert!(self.dp[1 - i].rx.len() <= 2, "{what}: old Rx SAs retired");
        }
        assert_eq!(self.dp[0].tx_key().map(|k| k.1), self.dp[1].tx_key().map(|k| k.1), "{what}: one SAK");
    }
}

#[test]
fn secures_and_rekeys_over_a_lossy_reordering_wire() {
    for suite in [CipherSuite::GcmAesXpn256, CipherSuite::GcmAes128] {
        let mut s = Sim::new(suite);
        s.run(15);
        s.assert_secured(&format!("{suite}: established"));
        let mut last = s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec()));
        for round in 1..=4 {
            s.p[0].request_rekey(RekeyReason::Operator);
            s.run(10);
            s.assert_secured(&format!("{suite}: rekey {round}"));
            let now = s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec()));
            assert_ne!(now, last, "{suite}: rekey {round} put a new SAK in use");
            last = now;
        }
        assert_eq!(s.p[0].status().stats.rekeys[4], 4, "{suite}");
        let w = &s.wire;
        let stats = (w.n, w.dropped, w.swapped, w.duplicated);
        assert!(w.dropped >= 20 && w.swapped >= 10 && w.duplicated >= 5, "{suite}: the wire did its job: {stats:?}");
        assert!(s.p.iter().all(|p| p.status().stats.bad_peer > 0), "{suite}: stale MKPDUs were refused");
    }
}

#[test]
fn a_burst_of_loss_shorter_than_the_life_time_keeps_the_session() {
    // 3 s without MKPDUs: with a hello every 2 s, a peer was last heard at most 5 s ago, less
    // than the 6 s MKA life time.
    let mut s = Sim::new(CipherSuite::GcmAesXpn256);
    s.wire.clean = true;
    s.run(15);
    s.assert_secured("established");
    let key = s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec()));
    let established = s.p[0].status().stats.rekeys;
    s.wire.cut = true;
    s.run(3);
    s.wire.cut = false;
    s.run(6);
    s.assert_secured("after 3 s without MKPDUs");
    assert_eq!(s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec())), key, "no peer change, no new SAK");
    assert_eq!(s.p[0].status().stats.rekeys, established);
    // 8 s without MKPDUs: the peers expire, the SAs go, and the session comes back with a new SAK.
    s.wire.cut = true;
    s.run(8);
    assert!(s.dp.iter().all(|d| d.tx_key().is_none() && d.rx.is_empty()), "SAs removed after the life time");
    s.wire.cut = false;
    s.run(6);
    s.assert_secured("after the peers expired");
    assert_ne!(s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec())), key);
}

#[test]
fn a_rekey_requested_while_mkpdus_are_cut_completes_when_they_flow_again() {
    let mut s = Sim::new(CipherSuite::GcmAesXpn128);
    s.run(15);
    let key = s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec()));
    s.wire.cut = true;
    s.p[0].request_rekey(RekeyReason::Operator);
    s.run(3);
    // The new SAK went nowhere: still the old key on the wire (the peer cannot receive a new one).
    assert_eq!(s.dp[1].tx_key().map(|(an, k)| (an, k.to_vec())), key);
    s.wire.cut = false;
    s.run(10);
    s.assert_secured("after the cut");
    assert_ne!(s.dp[0].tx_key().map(|(an, k)| (an, k.to_vec())), key);
}

#[test]
fn a_two_second_cut_at_any_point_of_a_rekey_leaves_both_sides_on_one_key() {
    for offset in 0..60u64 {
        let mut s = Sim::new(CipherSuite::GcmAes256);
        s.wire.clean = true;
        s.run(15);
        s.assert_secured("established");
        s.p[0].request_rekey(RekeyReason::PnThreshold);
        s.run_ticks(offset);
        s.wire.cut = true;
        s.run(2);
        s.wire.cut = false;
        s.run(12);
        s.assert_secured(&format!("cut {} ms after the rekey request", offset * 100));
    }
}
