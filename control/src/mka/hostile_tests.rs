//! Hostile MKPDUs against a secured participant, one test per case (issue 8 part 2). Each
//! asserts the exact change of every [`MkaStats`] counter and that peers, keys, queued commands
//! and timers are unchanged (or changed exactly as the case requires). Authentic hostile
//! MKPDUs are forged the way a CAK holder (or a replay) would: built from a participant's own
//! state, changed, and signed with its ICK.
//!
//! A child of `participant` (like `participant_tests`) so it can see the peer table and keys.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use macsec_dataplane::secy::{CipherSuite, Sci};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::mka::icv;
use crate::mka::mkpdu::set_type;

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);
const SUITE: CipherSuite = CipherSuite::GcmAesXpn256;

type Node = Participant<StdRng>;

fn cak() -> Cak {
    Cak::from_hex(&"ab".repeat(32)).unwrap()
}

fn ckn() -> Ckn {
    Ckn::from_hex(&"cd".repeat(32)).unwrap()
}

fn node(sci: Sci, priority: u8, suite: CipherSuite, seed: u64, now: Instant) -> Node {
    let cfg = MkaConfig {
        sci,
        mac: sci.mac(),
        priority,
        cipher_suite: suite,
        rekey_interval: None,
        pn_threshold: 0xc000_0000,
    };
    Participant::new(cfg, ckn(), cak(), StdRng::seed_from_u64(seed), now)
}

/// Delivers every pending MKPDU both ways (through `filter`, which may drop or change a frame
/// from node 0 or 1) until both are quiet; dataplane commands are dropped.
fn exchange(a: &mut Node, b: &mut Node, now: Instant, filter: &mut dyn FnMut(usize, Vec<u8>) -> Option<Vec<u8>>) {
    for _ in 0..20 {
        let mut frames = Vec::new();
        while let Some(f) = a.poll_transmit() {
            frames.push((0, f));
        }
        while let Some(f) = b.poll_transmit() {
            frames.push((1, f));
        }
        if frames.is_empty() {
            break;
        }
        for (from, f) in frames {
            let Some(f) = filter(from, f) else { continue };
            let _ = if from == 0 { b.handle_mkpdu(now, &f) } else { a.handle_mkpdu(now, &f) };
        }
    }
}

fn run(a: &mut Node, b: &mut Node, start: Instant, secs: u64) -> Instant {
    run_filtered(a, b, start, secs, &mut |_, f| Some(f))
}

fn run_filtered(
    a: &mut Node,
    b: &mut Node,
    start: Instant,
    secs: u64,
    filter: &mut dyn FnMut(usize, Vec<u8>) -> Option<Vec<u8>>,
) -> Instant {
    let mut now = start;
    for _ in 0..secs * 10 {
        now += Duration::from_millis(100);
        for p in [&mut *a, &mut *b] {
            if p.poll_timeout() <= now {
                p.handle_timeout(now);
            }
        }
        exchange(a, b, now, filter);
        while a.poll_dataplane_command().is_some() {}
        while b.poll_dataplane_command().is_some() {}
    }
    now
}

/// A (key server: lower SCI) and B, secured, with every queue drained.
fn secured() -> (Node, Node, Instant) {
    let t0 = Instant::now();
    let (mut a, mut b) = (node(SCI_A, 16, SUITE, 1, t0), node(SCI_B, 16, SUITE, 2, t0));
    let now = run(&mut a, &mut b, t0, 5);
    assert!(a.is_secured() && b.is_secured());
    (a, b, now)
}

/// `p`'s next MKPDU as it would build it, changed by `change` and signed with its ICK: what a
/// CAK holder can send in `p`'s name.
fn forge(p: &Node, change: impl FnOnce(&mut Mkpdu)) -> Vec<u8> {
    let mut m = p.build();
    m.basic.mn = p.mn + 1;
    change(&mut m);
    m.emit(p.cfg.mac, &p.ick)
}

/// Sets the EAPOL body length for `f` (no ICV yet) and appends the ICV under `ick`.
fn sign(mut f: Vec<u8>, ick: &Ick) -> Vec<u8> {
    let len = u16::try_from(f.len() - 18 + icv::ICV_LEN).unwrap();
    f[16..18].copy_from_slice(&len.to_be_bytes());
    let icv = icv::compute(ick, &f);
    f.extend_from_slice(&icv);
    f
}

/// Peers, keys, queued commands and frames, MN and timers: everything an MKPDU could change.
/// No key bytes.
fn state(p: &Node) -> String {
    let peers: Vec<_> = p
        .peers
        .iter()
        .map(|q| (q.mi, q.mn, q.sci, q.priority, q.live, q.last_seen, q.receiving_latest, q.transmitting_latest))
        .collect();
    let key = |k: &Option<SakState>| k.as_ref().map(|k| (k.server, k.kn, k.an, k.tx_enabled, k.rx_for.clone()));
    format!(
        "{:?}",
        (
            peers,
            key(&p.latest),
            key(&p.old),
            p.commands.len(),
            p.transmit.len(),
            p.mn,
            p.next_hello,
            p.pending_rekey,
            p.retire_at,
            p.rekey_at,
            p.mn_history.len()
        )
    )
}

fn counters(s: &MkaStats) -> BTreeMap<String, u64> {
    let serde_json::Value::Object(m) = serde_json::to_value(s).unwrap() else { unreachable!() };
    let mut out = BTreeMap::new();
    for (k, v) in m {
        match v {
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    out.insert(format!("{k}[{i}]"), x.as_u64().unwrap());
                }
            }
            x => {
                out.insert(k, x.as_u64().unwrap());
            }
        }
    }
    out
}

/// Hands `frame` to `p` at `now`; asserts the counters that change (by how much) and, unless
/// `state_may_change`, that nothing else changes. Returns the result.
fn deliver(
    p: &mut Node,
    now: Instant,
    frame: &[u8],
    expect: &[(&str, u64)],
    state_may_change: bool,
) -> Result<(), MkaError> {
    let (before, st) = (counters(&p.stats), state(p));
    let r = p.handle_mkpdu(now, frame);
    let after = counters(&p.stats);
    let changed: BTreeMap<String, u64> =
        after.iter().filter(|(k, v)| before[*k] != **v).map(|(k, v)| (k.clone(), v - before[k])).collect();
    let want: BTreeMap<String, u64> = expect.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(changed, want, "{r:?}");
    if !state_may_change {
        assert_eq!(state(p), st, "state changed: {r:?}");
    }
    r
}

/// A hostile MKPDU that must be refused with `err`, count `expect`, and change nothing.
fn refused(p: &mut Node, now: Instant, frame: &[u8], err: MkaError, expect: &[(&str, u64)]) {
    assert_eq!(deliver(p, now, frame, expect, false), Err(err));
    assert!(p.is_secured());
}

/// The parameter sets of a frame: (offset in the frame, type, body length), Basic first.
fn sets(f: &[u8]) -> Vec<(usize, u8, usize)> {
    let end = 18 + usize::from(u16::from_be_bytes([f[16], f[17]])) - icv::ICV_LEN;
    let mut at = 18;
    let mut out = Vec::new();
    while at < end {
        let len = (usize::from(f[at + 2] & 0x0f) << 8) | usize::from(f[at + 3]);
        out.push((at, if at == 18 { 0 } else { f[at] }, len));
        at += 4 + ((len + 3) & !3);
    }
    out
}

fn strip_icv(f: &[u8]) -> Vec<u8> {
    f[..f.len() - icv::ICV_LEN].to_vec()
}

// ---------------------------------------------------------------------------------------------
// ICV (IEEE 802.1X-2020 9.4.1, 11.11.2).

#[test]
fn bad_icv_is_counted_and_changes_nothing() {
    let (mut a, b, now) = secured();
    let good = forge(&b, |_| {});
    let n = good.len();
    // ICV, MI, MN (a changed CKN would route the MKPDU elsewhere: OtherCkn).
    for at in [n - 1, n - icv::ICV_LEN, 30, 40, 44] {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        refused(&mut a, now, &bad, MkaError::IcvMismatch, &[("icv_failures", 1)]);
    }
    // Signed under another CAK with the same CKN.
    let other = kdf::derive_ick(&Cak::from_hex(&"ac".repeat(32)).unwrap(), &ckn());
    let forged = sign(strip_icv(&good), &other);
    refused(&mut a, now, &forged, MkaError::IcvMismatch, &[("icv_failures", 1)]);
    // The genuine one is still fresh.
    assert_eq!(deliver(&mut a, now, &good, &[("mkpdu_rx", 1)], true), Ok(()));
}

#[test]
fn icv_indicator_present_or_absent_is_accepted() {
    let (mut a, b, now) = secured();
    let plain = forge(&b, |_| {});
    // The same MKPDU with an ICV Indicator (type 255, length 16) in front of the ICV; its header
    // is covered by the ICV.
    let mut f = strip_icv(&plain);
    f.extend_from_slice(&[set_type::ICV_INDICATOR, 0, 0, 16]);
    let with = sign(f, &b.ick);
    assert_eq!(deliver(&mut a, now, &with, &[("mkpdu_rx", 1)], true), Ok(()));
    assert_eq!(a.peers[0].mn, b.mn + 1);
    // Without: the next MN.
    let without = forge(&b, |m| m.basic.mn = b.mn + 2);
    assert_eq!(deliver(&mut a, now, &without, &[("mkpdu_rx", 1)], true), Ok(()));
    assert_eq!(a.peers[0].mn, b.mn + 2);
    assert!(a.is_secured());
}

#[test]
fn icv_indicator_with_trailing_octets_is_malformed() {
    let (mut a, b, now) = secured();
    let mut f = strip_icv(&forge(&b, |_| {}));
    f.extend_from_slice(&[set_type::ICV_INDICATOR, 0, 0, 16]);
    let mut f = sign(f, &b.ick);
    f.extend_from_slice(&[0; 4]);
    let len = u16::from_be_bytes([f[16], f[17]]) + 4;
    f[16..18].copy_from_slice(&len.to_be_bytes());
    let err = MkaError::Invalid(mkpdu::MkpduError::TrailingAfterIcv);
    refused(&mut a, now, &f, err, &[("validation_errors", 1)]);
}

// ---------------------------------------------------------------------------------------------
// Malformed MKPDUs (IEEE 802.1X-2020 11.11): refused before any ICV work, counted.

#[test]
fn ckn_longer_than_32_octets_is_malformed() {
    let (mut a, b, now) = secured();
    let f = strip_icv(&forge(&b, |_| {}));
    let (at, _, len) = sets(&f)[0];
    assert_eq!(len, 28 + 32);
    for extra in [1usize, 4, 100] {
        // More CKN octets after the 32, the Basic Parameter Set length grown to match.
        let mut g = f[..at + 4 + len].to_vec();
        g.extend((0..extra).map(|i| i as u8));
        g.resize(at + 4 + ((len + extra + 3) & !3), 0);
        g.extend_from_slice(&f[at + 4 + len..]);
        let new_len = len + extra;
        g[at + 2] = (g[at + 2] & 0xf0) | (new_len >> 8) as u8;
        g[at + 3] = new_len as u8;
        let g = sign(g, &b.ick);
        let err = MkaError::Invalid(mkpdu::MkpduError::CknLength(32 + extra));
        refused(&mut a, now, &g, err, &[("validation_errors", 1)]);
    }
}

#[test]
fn empty_ckn_is_malformed() {
    let (mut a, b, now) = secured();
    let f = strip_icv(&forge(&b, |_| {}));
    let (at, _, len) = sets(&f)[0];
    let mut g = f[..at + 4 + 28].to_vec();
    g.extend_from_slice(&f[at + 4 + len..]);
    g[at + 2] &= 0xf0;
    g[at + 3] = 28;
    let g = sign(g, &b.ick);
    let err = MkaError::Invalid(mkpdu::MkpduError::SetLength { set_type: 0, len: 28 });
    refused(&mut a, now, &g, err, &[("validation_errors", 1)]);
}

#[test]
fn body_length_not_a_multiple_of_4_is_malformed() {
    let (mut a, b, now) = secured();
    let good = forge(&b, |_| {});
    let declared = usize::from(u16::from_be_bytes([good[16], good[17]]));
    for (delta, pad) in [(-1i32, 0usize), (-2, 0), (-3, 0), (1, 1), (2, 2), (3, 3)] {
        let mut f = good.clone();
        f.resize(f.len() + pad, 0);
        let len = (declared as i32 + delta) as u16;
        f[16..18].copy_from_slice(&len.to_be_bytes());
        let err = MkaError::Invalid(mkpdu::MkpduError::NotMultipleOf4 { len: usize::from(len) });
        refused(&mut a, now, &f, err, &[("validation_errors", 1)]);
    }
}

#[test]
fn truncated_mkpdus_are_malformed() {
    // Every prefix of a valid MKPDU: refused as malformed, counted once, no panic.
    let (mut a, b, now) = secured();
    let good = forge(&b, |_| {});
    for len in 0..good.len() {
        let r = deliver(&mut a, now, &good[..len], &[("validation_errors", 1)], false);
        assert!(matches!(r, Err(MkaError::Invalid(_))), "{len}: {r:?}");
    }
}

#[test]
fn parameter_set_running_past_the_body_is_malformed() {
    let (mut a, b, now) = secured();
    let f = strip_icv(&forge(&b, |_| {}));
    for (at, kind, len) in sets(&f).into_iter().skip(1) {
        // Into the next set, one octet more than is left before the ICV, and the most 12 bits hold.
        for claim in [len + 4, f.len() - (at + 4) + 1, 0xfff] {
            let mut g = f.clone();
            g[at + 2] = (g[at + 2] & 0xf0) | (claim >> 8) as u8;
            g[at + 3] = claim as u8;
            let g = sign(g, &b.ick);
            let r = deliver(&mut a, now, &g, &[("validation_errors", 1)], false);
            assert!(
                matches!(
                    r,
                    Err(MkaError::Invalid(
                        mkpdu::MkpduError::SetOverrun { .. }
                            | mkpdu::MkpduError::SetLength { .. }
                            // The Announcement's TLVs then run past its (longer) body.
                            | mkpdu::MkpduError::AnnouncementTlvOverrun { .. }
                    ))
                ),
                "set {kind} claiming {claim}: {r:?}"
            );
        }
    }
}

#[test]
fn parameter_set_of_the_wrong_length_for_its_type_is_malformed() {
    let (mut a, b, now) = secured();
    let f = strip_icv(&forge(&b, |_| {}));
    let all = sets(&f);
    for kind in [set_type::LIVE_PEER_LIST, set_type::SAK_USE, set_type::XPN] {
        let &(at, _, len) = all.iter().find(|s| s.1 == kind).unwrap();
        // Four octets shorter: the set's content is cut, the rest of the MKPDU follows.
        let cut = len - 4;
        let mut g = f[..at + 4 + cut].to_vec();
        g.extend_from_slice(&f[at + 4 + len..]);
        g[at + 2] = (g[at + 2] & 0xf0) | (cut >> 8) as u8;
        g[at + 3] = cut as u8;
        let g = sign(g, &b.ick);
        let err = MkaError::Invalid(mkpdu::MkpduError::SetLength { set_type: kind, len: cut });
        refused(&mut a, now, &g, err, &[("validation_errors", 1)]);
    }
}

#[test]
fn duplicate_parameter_set_is_malformed() {
    let (mut a, b, now) = secured();
    let f = strip_icv(&forge(&b, |_| {}));
    let &(at, _, len) = sets(&f).iter().find(|s| s.1 == set_type::SAK_USE).unwrap();
    let mut g = f.clone();
    g.extend_from_slice(&f[at..at + 4 + len]);
    let g = sign(g, &b.ick);
    let err = MkaError::Invalid(mkpdu::MkpduError::Duplicate { set_type: set_type::SAK_USE });
    refused(&mut a, now, &g, err, &[("validation_errors", 1)]);
}

#[test]
fn mka_version_zero_is_malformed() {
    let (mut a, b, now) = secured();
    let mut f = strip_icv(&forge(&b, |_| {}));
    f[18] = 0;
    let f = sign(f, &b.ick);
    refused(&mut a, now, &f, MkaError::Invalid(mkpdu::MkpduError::MkaVersion(0)), &[("validation_errors", 1)]);
}

#[test]
fn other_algorithm_agility_is_refused() {
    let (mut a, b, now) = secured();
    let f = forge(&b, |m| m.basic.algorithm_agility = 0x0080_c202);
    let expect = [("mkpdu_rx", 1), ("validation_errors", 1)];
    refused(&mut a, now, &f, MkaError::Agility(0x0080_c202), &expect);
}

#[test]
fn unknown_parameter_sets_are_skipped() {
    // IEEE 802.1X-2020 11.11: a parameter set of a type we do not know is skipped; the rest of
    // the MKPDU is used as if it were not there.
    let (mut a, b, now) = secured();
    let mut mn = b.mn;
    for (kind, body) in [(9u8, vec![]), (0x42, vec![1, 2, 3, 4, 5]), (0xfe, vec![0xaa; 200]), (0, vec![7; 16])] {
        mn += 1;
        let mut f = strip_icv(&forge(&b, |m| m.basic.mn = mn));
        let len = body.len();
        f.extend_from_slice(&[kind, 0x5a, (len >> 8) as u8, len as u8]);
        f.extend_from_slice(&body);
        f.resize(f.len() + ((4 - len % 4) % 4), 0);
        let f = sign(f, &b.ick);
        assert_eq!(mkpdu::Mkpdu::parse(&f).unwrap().mkpdu.unknown_sets, [kind]);
        assert_eq!(deliver(&mut a, now, &f, &[("mkpdu_rx", 1)], true), Ok(()), "type {kind}");
        assert_eq!(a.peers[0].mn, mn);
        assert!(a.is_secured() && a.commands.is_empty());
    }
}

#[test]
fn unknown_parameter_set_running_past_the_body_is_malformed() {
    let (mut a, b, now) = secured();
    let mut f = strip_icv(&forge(&b, |_| {}));
    f.extend_from_slice(&[0x42, 0, 0x0f, 0xff, 1, 2, 3, 4]);
    let f = sign(f, &b.ick);
    let err = MkaError::Invalid(mkpdu::MkpduError::SetOverrun { set_type: 0x42 });
    refused(&mut a, now, &f, err, &[("validation_errors", 1)]);
}

// ---------------------------------------------------------------------------------------------
// Replays and reflections (IEEE 802.1X-2020 9.4.2, 9.4.3).

#[test]
fn repeated_or_older_mn_is_stale() {
    let (mut a, b, now) = secured();
    let last = a.peers[0].mn;
    for mn in [last, last - 1, 1, 0] {
        let f = forge(&b, |m| m.basic.mn = mn);
        // Later: a replay must not refresh the peer's liveness either (state includes last_seen).
        refused(&mut a, now + Duration::from_secs(1), &f, MkaError::StaleMn, &[("mkpdu_rx", 1), ("bad_peer", 1)]);
    }
}

#[test]
fn replay_of_a_peer_mkpdu_from_before_its_restart_keeps_the_session() {
    // B's old MKPDUs (old MI) are still authentic under the CAK. Replayed after B restarted, one
    // must not push B's live new MI out of the peer table (which tore the session down).
    for b_serves in [false, true] {
        let t0 = Instant::now();
        let prio_b = if b_serves { 1 } else { 16 };
        let (mut a, mut b) = (node(SCI_A, 16, SUITE, 1, t0), node(SCI_B, prio_b, SUITE, 2, t0));
        let mut recorded = Vec::new();
        let now = run_filtered(&mut a, &mut b, t0, 5, &mut |from, f| {
            if from == 1 {
                recorded.push(f.clone());
            }
            Some(f)
        });
        assert!(a.is_secured());
        b.reinstall(now);
        let now = run(&mut a, &mut b, now, 5);
        assert!(a.is_secured() && b.is_secured());
        assert_eq!(a.peers.len(), 1, "the old MI is gone once the new one is live");
        let tx_key = a.latest.as_ref().map(|l| (l.server, l.kn));
        for f in &recorded {
            let r = a.handle_mkpdu(now, f);
            assert!(matches!(r, Ok(()) | Err(MkaError::StaleMn | MkaError::RateLimited)), "{r:?}");
            assert!(a.is_secured(), "b_serves {b_serves}");
            assert!(a.commands.is_empty(), "no SA change from a replay: {:?}", a.poll_dataplane_command());
            assert_eq!(a.latest.as_ref().map(|l| (l.server, l.kn)), tx_key);
        }
        assert_eq!(a.peers.iter().filter(|p| p.live).count(), 1);
        assert_eq!(a.peers.iter().find(|p| p.live).map(|p| p.mi), Some(b.mi));
    }
}

#[test]
fn restarted_peer_gets_a_fresh_sak() {
    // B restarts inside the life time: when its new MI is live, the key server distributes a new
    // SAK (B must never be handed the SAK it already used from PN 1).
    let (mut a, mut b, now) = secured();
    let before = a.latest.as_ref().map(|l| l.kn);
    b.reinstall(now);
    run(&mut a, &mut b, now, 3);
    assert!(a.is_secured() && b.is_secured());
    assert_ne!(a.latest.as_ref().map(|l| l.kn), before);
    assert_eq!(a.stats.rekeys[1], 1, "peer_change");
}

#[test]
fn stale_mn_in_a_peer_list_is_not_liveness() {
    // B heard A once, long ago: its MKPDUs list A with an MN older than the MKA Life Time, which
    // must not make B live for A.
    let t0 = Instant::now();
    let (mut a, mut b) = (node(SCI_A, 16, SUITE, 1, t0), node(SCI_B, 16, SUITE, 2, t0));
    a.handle_timeout(t0);
    let first = a.poll_transmit().unwrap();
    b.handle_mkpdu(t0, &first).unwrap();
    let mut now = t0;
    for _ in 0..20 {
        now += Duration::from_secs(1);
        a.handle_timeout(now);
        while a.poll_transmit().is_some() {}
        b.handle_timeout(now);
        while b.poll_transmit().is_some() {}
    }
    // B forgot A by now; replay its view from when it still listed A at MN 1.
    let f = forge(&b, |m| m.potential_peers = Some(PeerList { octet2: 0, peers: vec![PeerEntry { mi: a.mi, mn: 1 }] }));
    assert_eq!(deliver(&mut a, now, &f, &[("mkpdu_rx", 1)], true), Ok(()));
    assert!(!a.peers[0].live && a.state() == State::Pending);
}

#[test]
fn own_mkpdu_reflected_is_refused() {
    let (mut a, _, now) = secured();
    a.handle_timeout(now + HELLO_TIME);
    let own = a.poll_transmit().unwrap();
    refused(&mut a, now + HELLO_TIME, &own, MkaError::OwnMi, &[("mkpdu_rx", 1), ("bad_peer", 1)]);
}

#[test]
fn own_sci_with_another_mi_is_refused() {
    // Our SCI under another MI: a loop, or our own MKPDU from before a restart.
    let (mut a, _, now) = secured();
    let f = forge(&a, |m| m.basic.mi = Mi([0x77; 12]));
    refused(&mut a, now, &f, MkaError::OwnSci, &[("mkpdu_rx", 1), ("bad_peer", 1)]);
}

// ---------------------------------------------------------------------------------------------
// Distributed SAKs (IEEE 802.1X-2020 9.8, 11.11.1).

/// A (key server) and B live, A has distributed a SAK that B never got (its frames dropped).
fn sak_pending() -> (Node, Node, Instant) {
    let t0 = Instant::now();
    let (mut a, mut b) = (node(SCI_A, 16, SUITE, 1, t0), node(SCI_B, 16, SUITE, 2, t0));
    let now = run_filtered(&mut a, &mut b, t0, 4, &mut |from, f| {
        let has_sak = mkpdu::Mkpdu::parse(&f).map(|p| p.mkpdu.distributed_sak.is_some()).unwrap_or(false);
        (from == 1 || !has_sak).then_some(f)
    });
    assert!(a.latest.is_some() && b.latest.is_none(), "{:?} {:?}", a.status(), b.status());
    assert!(b.peers.iter().any(|p| p.live && p.sci == SCI_A));
    (a, b, now)
}

fn with_sak(a: &Node, change: impl FnOnce(&mut DistributedSak)) -> Vec<u8> {
    forge(a, |m| change(m.distributed_sak.as_mut().unwrap()))
}

/// `f` is authentic and from the key server, but its SAK is refused: `counter` +1, no key.
fn sak_refused(b: &mut Node, now: Instant, f: &[u8], counter: &str) {
    assert_eq!(deliver(b, now, f, &[("mkpdu_rx", 1), (counter, 1)], true), Ok(()));
    assert!(b.latest.is_none() && b.old.is_none());
    assert!(b.commands.is_empty(), "{:?}", b.poll_dataplane_command());
}

#[test]
fn distributed_sak_that_does_not_unwrap_is_refused() {
    let (a, mut b, now) = sak_pending();
    sak_refused(&mut b, now, &with_sak(&a, |d| d.wrapped[5] ^= 1), "sak_unwrap_errors");
    // Wrapped under another KEK: RFC 3394's integrity check fails the same way.
    let other = kdf::derive_kek(&Cak::from_hex(&"ac".repeat(32)).unwrap(), &ckn());
    let sak = Sak::from_slice(&[9; 32]).unwrap();
    let f = forge(&a, |m| {
        m.basic.mn = a.mn + 2;
        m.distributed_sak.as_mut().unwrap().wrapped = key_wrap::wrap(&other, &sak);
    });
    sak_refused(&mut b, now, &f, "sak_unwrap_errors");
    // The genuine distribution still works afterwards.
    let f = forge(&a, |m| m.basic.mn = a.mn + 3);
    // B installs it, answers, and (its first key) enables its Tx SA: two MKPDUs out.
    assert_eq!(deliver(&mut b, now, &f, &[("mkpdu_rx", 1), ("mkpdu_tx", 2)], true), Ok(()));
    assert!(b.latest.is_some());
    assert!(matches!(b.poll_dataplane_command(), Some(DpCommand::InstallRxSa { .. })));
}

#[test]
fn distributed_sak_of_the_wrong_length_is_refused() {
    // A 16-octet SAK (wrapped in 24) for GCM-AES-XPN-256, which needs 32.
    let (a, mut b, now) = sak_pending();
    let f = with_sak(&a, |d| d.wrapped = key_wrap::wrap(&a.kek, &Sak::from_slice(&[3; 16]).unwrap()));
    sak_refused(&mut b, now, &f, "sak_unwrap_errors");
}

#[test]
fn distributed_sak_for_an_unsupported_cipher_suite_is_refused() {
    let (a, mut b, now) = sak_pending();
    let suites = [Some(0x0080_c200_0100_0005), Some(0xffff_ffff_ffff_ffff), Some(CipherSuite::GcmAes256.id()), None];
    for (mn, cs) in (a.mn + 1..).zip(suites) {
        let f = forge(&a, |m| {
            m.basic.mn = mn;
            let d = m.distributed_sak.as_mut().unwrap();
            d.cipher_suite = cs;
            if cs.is_none() {
                // The default-suite form carries a 16-octet SAK (a 28-octet body).
                d.wrapped = key_wrap::wrap(&a.kek, &Sak::from_slice(&[3; 16]).unwrap());
            }
        });
        sak_refused(&mut b, now, &f, "sak_cipher_mismatch");
    }
}

#[test]
fn distributed_sak_from_a_peer_that_is_not_key_server_is_ignored() {
    // B is not the key server (A's SCI is lower): a SAK in its name changes nothing.
    let (mut a, b, now) = secured();
    let f = forge(&b, |m| {
        m.basic.key_server = true;
        m.distributed_sak = Some(DistributedSak {
            an: 2,
            confidentiality_offset: 0,
            kn: Kn(77),
            cipher_suite: Some(SUITE.id()),
            wrapped: key_wrap::wrap(&b.kek, &Sak::from_slice(&[1; 32]).unwrap()),
        });
    });
    let kn = a.latest.as_ref().map(|l| l.kn);
    assert_eq!(deliver(&mut a, now, &f, &[("mkpdu_rx", 1)], true), Ok(()));
    assert_eq!(a.latest.as_ref().map(|l| l.kn), kn);
    assert!(a.commands.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Floods: rate bounded, counted, no memory growth.

#[test]
fn flood_from_the_live_peer_is_rate_bounded() {
    let (mut a, b, now) = secured();
    let (mn0, now) = (b.mn, now + Duration::from_secs(1));
    // 10,000 authentic MKPDUs with fresh MNs within one second.
    let mut accepted = 0u64;
    for i in 0..10_000u32 {
        let t = now + Duration::from_micros(u64::from(i) * 100);
        let f = forge(&b, |m| m.basic.mn = mn0 + 1 + i);
        match a.handle_mkpdu(t, &f) {
            Ok(()) => accepted += 1,
            Err(e) => assert_eq!(e, MkaError::RateLimited),
        }
    }
    // The burst, then one per PEER_EVERY over the 0.9999 s.
    assert_eq!(accepted, u64::from(PEER_BURST) + 9);
    assert_eq!(a.stats.rate_limited, 10_000 - accepted);
    assert!(a.is_secured() && a.peers.len() == 1 && a.mn_history.len() < 8);
    // A second later the peer is heard again.
    let f = forge(&b, |m| m.basic.mn = mn0 + 20_000);
    assert_eq!(a.handle_mkpdu(now + Duration::from_secs(3), &f), Ok(()));
}

#[test]
fn flood_of_new_mis_keeps_the_peer_table_bounded() {
    // Thousands of authentic MKPDUs, each from a new MI, half of them listing A (so they would
    // become live), over 100 s while the real peer keeps talking: the table stays within its
    // bounds, every MKPDU is counted, the session stays up.
    let (mut a, mut b, mut now) = secured();
    let mut rng = StdRng::seed_from_u64(99);
    let (mut ok, mut limited, mut full) = (0u64, 0u64, 0u64);
    for i in 0..5_000u64 {
        now += Duration::from_millis(20);
        let mut mi = [0u8; 12];
        rng.fill_bytes(&mut mi);
        let sci = Sci(0x0200_0000_1000_0001 + (i << 16));
        let lists_a = i % 2 == 0;
        let f = forge(&b, |m| {
            m.basic.mi = Mi(mi);
            m.basic.sci = sci;
            m.basic.mn = 1;
            m.basic.key_server_priority = 0xff;
            m.distributed_sak = None;
            if lists_a {
                m.live_peers = Some(PeerList { octet2: 0, peers: vec![PeerEntry { mi: a.mi, mn: a.mn }] });
            }
        });
        match a.handle_mkpdu(now, &f) {
            Ok(()) => ok += 1,
            Err(MkaError::RateLimited) => limited += 1,
            Err(MkaError::PeerTableFull) => full += 1,
            Err(e) => panic!("{e:?}"),
        }
        assert!(a.peers.len() <= MAX_PEERS && a.peers.iter().filter(|p| !p.live).count() <= MAX_POTENTIAL_PEERS);
        if i % 25 == 0 {
            // Every half second: timers and the real exchange (forged peers never answer).
            for p in [&mut a, &mut b] {
                if p.poll_timeout() <= now {
                    p.handle_timeout(now);
                }
            }
            exchange(&mut a, &mut b, now, &mut |_, f| Some(f));
            while a.poll_dataplane_command().is_some() {}
            while b.poll_dataplane_command().is_some() {}
        }
        assert!(a.mn_history.len() < 128 && a.transmit.len() < 64 && a.commands.len() < 4096);
    }
    assert_eq!((a.stats.rate_limited, a.stats.peer_table_full), (limited, full));
    assert_eq!(ok + limited + full, 5_000);
    assert!(limited > 0 && full > 0 && ok <= u64::from(NEWCOMER_BURST) + 100 * 4);
    // Forged live peers make A rekey for them (a CAK holder can), but the real peer stays.
    assert!(a.peers.iter().any(|p| p.live && p.sci == SCI_B));
    assert!(b.peers.iter().any(|p| p.live && p.sci == SCI_A));
}

#[test]
fn flood_of_bad_icv_frames_does_not_starve_the_peer() {
    // Unauthenticated frames cost one AES-CMAC each and are not rate limited, so an outsider
    // cannot use the limit to shut the real peer out.
    let (mut a, b, now) = secured();
    let mut bad = forge(&b, |m| m.basic.mn = b.mn + 1);
    let n = bad.len();
    bad[n - 1] ^= 1;
    for _ in 0..10_000 {
        assert_eq!(a.handle_mkpdu(now, &bad), Err(MkaError::IcvMismatch));
    }
    let good = forge(&b, |_| {});
    assert_eq!(a.handle_mkpdu(now, &good), Ok(()));
    assert_eq!((a.stats.icv_failures, a.stats.rate_limited), (10_000, 0));
}

#[test]
fn a_participant_alone_for_an_hour_keeps_its_memory_flat() {
    let t0 = Instant::now();
    let mut a = node(SCI_A, 16, SUITE, 1, t0);
    let mut now = t0;
    while now < t0 + Duration::from_secs(3600) {
        now = a.poll_timeout().max(now + Duration::from_millis(1));
        a.handle_timeout(now);
        while a.poll_transmit().is_some() {}
    }
    assert!(a.stats.mkpdu_tx > 1000);
    assert!(a.mn_history.len() <= 5, "{} MNs remembered", a.mn_history.len());
}
