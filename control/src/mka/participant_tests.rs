//! Two (and three) participants wired together with a fake clock: election, SAK distribution,
//! install order, enable, rekey triggers, retire, peer loss and restart, hostile MKPDUs.

use std::time::{Duration, Instant};

use macsec_dataplane::secy::{An, CipherSuite, Sci};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);
const SCI_C: Sci = Sci(0x0200_0000_000c_0001);

/// A participant of the tests (the same CAK/CKN for every one): also used by the lossy and
/// announcement tests.
pub(crate) fn node(sci: Sci, priority: u8, suite: CipherSuite, seed: u64, now: Instant) -> Participant<StdRng> {
    let cfg = MkaConfig {
        sci,
        mac: sci.mac(),
        priority,
        cipher_suite: suite,
        rekey_interval: None,
        pn_threshold: 0xc000_0000,
    };
    let cak = Cak::from_hex(&"ab".repeat(32)).unwrap();
    let ckn = Ckn::from_hex(&"cd".repeat(32)).unwrap();
    Participant::new(cfg, ckn, cak, StdRng::seed_from_u64(seed), now)
}

/// What a fake dataplane holds after applying the commands.
#[derive(Default, Debug)]
struct Dp {
    rx: Vec<(Sci, u8, Vec<u8>, Option<u32>)>,
    tx: Vec<(u8, Vec<u8>, Option<u32>)>,
    enabled: Option<u8>,
    order: Vec<&'static str>,
}

impl Dp {
    fn apply<R: RngCore + CryptoRng>(&mut self, p: &mut Participant<R>) {
        while let Some(c) = p.poll_dataplane_command() {
            match c {
                DpCommand::InstallRxSa { peer, an, sak, ssci, .. } => {
                    self.rx.retain(|r| !(r.0 == peer && r.1 == an.get()));
                    self.rx.push((peer, an.get(), sak.expose().to_vec(), ssci.map(|s| s.0)));
                    self.order.push("rx");
                }
                DpCommand::InstallTxSa { an, sak, ssci, .. } => {
                    self.tx.retain(|t| t.0 != an.get());
                    self.tx.push((an.get(), sak.expose().to_vec(), ssci.map(|s| s.0)));
                    self.order.push("tx");
                }
                DpCommand::EnableTxSa { an } => {
                    self.enabled = Some(an.get());
                    self.order.push("enable");
                }
                DpCommand::DeleteRxSa { peer, an } => self.rx.retain(|r| !(r.0 == peer && r.1 == an.get())),
                DpCommand::DeleteTxSa { an } => self.tx.retain(|t| t.0 != an.get()),
                DpCommand::ClearSas => *self = Dp::default(),
            }
        }
    }

    fn tx_key(&self) -> Option<&Vec<u8>> {
        let an = self.enabled?;
        self.tx.iter().find(|t| t.0 == an).map(|t| &t.1)
    }
}

/// Delivers every pending MKPDU between the nodes (a shared LAN) and applies the commands.
fn exchange(nodes: &mut [(&mut Participant<StdRng>, &mut Dp)], now: Instant) {
    for _ in 0..20 {
        let mut frames = Vec::new();
        for (i, (p, _)) in nodes.iter_mut().enumerate() {
            while let Some(f) = p.poll_transmit() {
                frames.push((i, f));
            }
        }
        if frames.is_empty() {
            break;
        }
        for (from, f) in frames {
            for (i, (p, _)) in nodes.iter_mut().enumerate() {
                if i != from {
                    let _ = p.handle_mkpdu(now, &f);
                }
            }
        }
        for (p, dp) in nodes.iter_mut() {
            dp.apply(p);
        }
    }
}

fn run(nodes: &mut [(&mut Participant<StdRng>, &mut Dp)], start: Instant, secs: u64) -> Instant {
    let mut now = start;
    for _ in 0..secs * 10 {
        now += Duration::from_millis(100);
        for (p, _) in nodes.iter_mut() {
            if p.poll_timeout() <= now {
                p.handle_timeout(now);
            }
        }
        exchange(nodes, now);
    }
    now
}

/// A (key server: the lower SCI at equal priority) and B after 5 s: secured.
fn secured_pair(suite: CipherSuite) -> (Participant<StdRng>, Participant<StdRng>, Dp, Dp, Instant) {
    let t0 = Instant::now();
    let (mut a, mut b) = (node(SCI_A, 16, suite, 1, t0), node(SCI_B, 16, suite, 2, t0));
    let (mut da, mut db) = (Dp::default(), Dp::default());
    let now = run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
    (a, b, da, db, now)
}

#[test]
fn two_participants_elect_distribute_and_secure() {
    for suite in CipherSuite::ALL {
        let t0 = Instant::now();
        let (mut a, mut b) = (node(SCI_A, 16, suite, 1, t0), node(SCI_B, 16, suite, 2, t0));
        let (mut da, mut db) = (Dp::default(), Dp::default());
        run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
        assert!(a.is_secured() && b.is_secured(), "{suite}: {:?} {:?}", a.status(), b.status());
        // Lowest SCI wins at equal priority.
        assert!(a.status().key_server && !b.status().key_server);
        // Each side sends with the key the other receives with, Rx installed before Tx enabled.
        let rx_b = db.rx.iter().find(|r| r.0 == SCI_A).unwrap();
        assert_eq!(da.tx_key(), Some(&rx_b.2), "{suite}");
        assert_eq!(da.tx_key().unwrap().len(), suite.key_len());
        assert_eq!(&da.order[..2], &["rx", "tx"]);
        assert_eq!(da.order.iter().filter(|o| **o == "enable").count(), 1);
        if suite.is_xpn() {
            // SSCIs by descending SCI: B (higher) gets 1, A gets 2, on both sides alike.
            assert_eq!(da.tx[0].2, Some(2));
            assert_eq!(db.rx[0].3, Some(2));
            assert_eq!(db.tx[0].2, Some(1));
        }
        assert_eq!(a.status().stats.rekeys[0], 1);
    }
}

#[test]
fn priority_decides_before_sci() {
    let t0 = Instant::now();
    let (mut a, mut b) =
        (node(SCI_A, 32, CipherSuite::GcmAesXpn256, 1, t0), node(SCI_B, 1, CipherSuite::GcmAesXpn256, 2, t0));
    let (mut da, mut db) = (Dp::default(), Dp::default());
    run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
    assert!(b.status().key_server && a.is_secured() && b.is_secured());
}

#[test]
fn rekey_on_request_keeps_old_rx_until_retire() {
    let (mut a, mut b, mut da, mut db, now) = secured_pair(CipherSuite::GcmAesXpn256);
    let first = da.tx_key().cloned().unwrap();
    a.handle_dataplane(now, DpEvent::PnThreshold { an: An::new(0).unwrap(), next_pn: 1 << 62 });
    exchange(&mut [(&mut a, &mut da), (&mut b, &mut db)], now);
    // Make before break: B holds both keys for A until the retire time passed.
    assert_eq!(db.rx.iter().filter(|r| r.0 == SCI_A).count(), 2);
    let now = run(&mut [(&mut a, &mut da), (&mut b, &mut db)], now, 5);
    assert_ne!(da.tx_key().unwrap(), &first);
    assert_eq!(db.rx.iter().filter(|r| r.0 == SCI_A).count(), 1, "old Rx SA retired");
    assert_eq!(da.tx_key(), Some(&db.rx.iter().find(|r| r.0 == SCI_A).unwrap().2));
    assert_eq!(da.enabled, Some(1));
    assert_eq!(a.status().stats.rekeys[3], 1);
    let _ = now;
}

#[test]
fn only_the_latest_keys_tx_pn_counts_toward_the_threshold() {
    let (mut a, mut b, mut da, mut db, now) = secured_pair(CipherSuite::GcmAes256);
    let an0 = An::new(da.enabled.unwrap()).unwrap();
    a.handle_dataplane(now, DpEvent::PnThreshold { an: an0, next_pn: 0xc000_0001 });
    exchange(&mut [(&mut a, &mut da), (&mut b, &mut db)], now);
    let an1 = b.status().latest_an.map(|a| An::new(a).unwrap()).unwrap();
    assert_ne!(an0, an1);
    // A status of B's dataplane read before the new SAK's install: the old SA's PN, past the
    // threshold. Reported as the latest key's, A would rekey again.
    b.handle_dataplane(now, DpEvent::TxNextPn { an: an0, next_pn: 0xc000_1000 });
    let now = run(&mut [(&mut a, &mut da), (&mut b, &mut db)], now, 10);
    assert_eq!(a.status().stats.rekeys[3], 1, "{:?}", a.status().stats.rekeys);
    // The latest key's own PN past the threshold does.
    b.handle_dataplane(now, DpEvent::TxNextPn { an: an1, next_pn: 0xc000_1000 });
    run(&mut [(&mut a, &mut da), (&mut b, &mut db)], now, 10);
    assert_eq!(a.status().stats.rekeys[3], 2, "{:?}", a.status().stats.rekeys);
}

#[test]
fn rekey_on_interval() {
    let t0 = Instant::now();
    let suite = CipherSuite::GcmAes256;
    let mut a = node(SCI_A, 16, suite, 1, t0);
    a.cfg.rekey_interval = Some(Duration::from_secs(10));
    let mut b = node(SCI_B, 16, suite, 2, t0);
    let (mut da, mut db) = (Dp::default(), Dp::default());
    run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 35);
    assert!(a.status().stats.rekeys[2] >= 2, "{:?}", a.status().stats);
    assert!(a.is_secured() && b.is_secured());
}

#[test]
fn peer_loss_clears_sas_and_restart_resecures() {
    let (mut a, _, mut da, _, now) = secured_pair(CipherSuite::GcmAesXpn256);
    // B goes silent: after the life time A has no peer and no SA.
    let now = run(&mut [(&mut a, &mut da)], now, 8);
    assert!(!a.is_secured());
    assert!(da.tx.is_empty() && da.rx.is_empty());
    // B restarts (new MI): secured again with a new key.
    let mut b2 = node(SCI_B, 16, CipherSuite::GcmAesXpn256, 3, now);
    let mut db2 = Dp::default();
    run(&mut [(&mut a, &mut da), (&mut b2, &mut db2)], now, 5);
    assert!(a.is_secured() && b2.is_secured());
}

#[test]
fn a_peer_that_let_us_expire_gets_a_new_sak() {
    for (a_serves, what) in [(true, "A key server"), (false, "B key server")] {
        let t0 = Instant::now();
        let suite = CipherSuite::GcmAes256;
        let (pa, pb) = if a_serves { (16, 32) } else { (32, 16) };
        let (mut a, mut b) = (node(SCI_A, pa, suite, 1, t0), node(SCI_B, pb, suite, 2, t0));
        let (mut da, mut db) = (Dp::default(), Dp::default());
        let mut now = run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
        let first = da.tx_key().cloned().unwrap();
        // 8 s in which A's MKPDUs do not reach B, but B's reach A: B lets A expire and clears its
        // SAs; A still hears B, so B stays live to A.
        for _ in 0..80 {
            now += Duration::from_millis(100);
            for p in [&mut a, &mut b] {
                if p.poll_timeout() <= now {
                    p.handle_timeout(now);
                }
            }
            while a.poll_transmit().is_some() {}
            while let Some(f) = b.poll_transmit() {
                let _ = a.handle_mkpdu(now, &f);
            }
            da.apply(&mut a);
            db.apply(&mut b);
        }
        assert!(db.tx_key().is_none() && db.rx.is_empty(), "{what}: B cleared its SAs");
        // Both ways again: one new SAK on both sides, not A's old one.
        run(&mut [(&mut a, &mut da), (&mut b, &mut db)], now, 6);
        assert!(a.is_secured() && b.is_secured(), "{what}: {:?} {:?}", a.status(), b.status());
        let key = da.tx_key().cloned().unwrap();
        assert_ne!(key, first, "{what}: a new SAK");
        assert_eq!(db.tx_key(), Some(&key), "{what}");
        assert_eq!(db.rx.iter().find(|r| r.0 == SCI_A).map(|r| &r.2), Some(&key), "{what}");
        assert_eq!(da.rx.iter().find(|r| r.0 == SCI_B).map(|r| &r.2), Some(&key), "{what}");
    }
}

#[test]
fn third_participant_joins_and_gets_a_new_key() {
    let t0 = Instant::now();
    let suite = CipherSuite::GcmAesXpn128;
    let (mut a, mut b, mut c) =
        (node(SCI_A, 16, suite, 1, t0), node(SCI_B, 16, suite, 2, t0), node(SCI_C, 16, suite, 3, t0));
    let (mut da, mut db, mut dc) = (Dp::default(), Dp::default(), Dp::default());
    let now = run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
    run(&mut [(&mut a, &mut da), (&mut b, &mut db), (&mut c, &mut dc)], now, 6);
    assert!(a.is_secured() && b.is_secured() && c.is_secured());
    assert!(a.status().stats.rekeys[1] >= 1);
    let k = da.tx_key().unwrap();
    assert_eq!(&dc.rx.iter().find(|r| r.0 == SCI_A).unwrap().2, k);
}

#[test]
fn hostile_mkpdus_are_counted_and_change_nothing() {
    let (mut a, mut b, mut da, _, now) = secured_pair(CipherSuite::GcmAesXpn256);
    b.handle_timeout(now + Duration::from_secs(2));
    let f = b.poll_transmit().unwrap();
    // Bad ICV.
    let mut bad = f.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(a.handle_mkpdu(now, &bad), Err(MkaError::IcvMismatch));
    // Replay of an accepted MKPDU (stale MN).
    assert!(a.handle_mkpdu(now, &f).is_ok());
    assert_eq!(a.handle_mkpdu(now, &f), Err(MkaError::StaleMn));
    // Our own MKPDU reflected back.
    a.handle_timeout(now + Duration::from_secs(2));
    let own = a.poll_transmit().unwrap();
    assert_eq!(a.handle_mkpdu(now, &own), Err(MkaError::OwnMi));
    // Truncated.
    assert!(matches!(a.handle_mkpdu(now, &f[..30]), Err(MkaError::Invalid(_))));
    let s = a.status().stats;
    assert_eq!((s.icv_failures, s.bad_peer), (1, 2));
    assert!(a.is_secured());
    da.apply(&mut a);
    assert!(da.tx_key().is_some());
}

#[test]
fn sak_for_another_cipher_suite_is_refused() {
    let t0 = Instant::now();
    let (mut a, mut b) =
        (node(SCI_A, 16, CipherSuite::GcmAes256, 1, t0), node(SCI_B, 16, CipherSuite::GcmAes128, 2, t0));
    let (mut da, mut db) = (Dp::default(), Dp::default());
    run(&mut [(&mut a, &mut da), (&mut b, &mut db)], t0, 5);
    assert!(!b.is_secured());
    assert!(b.status().stats.sak_cipher_mismatch > 0);
    assert!(db.tx.is_empty());
}
