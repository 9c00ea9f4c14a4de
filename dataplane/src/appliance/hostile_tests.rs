//! Hostile frames through the appliance pipeline (policy, then the SecY receive path of the
//! workers): a clear frame on the wire port under each encryption mode, and the hostile MACsec
//! frames of `secy/hostile_tests.rs` again, because the workers classify with their own code.
//! Each test asserts the exact change of every worker counter.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::EncryptionMode;
use super::pipeline::{Disposition, SecyContext, SecyCounters, SecyWorker};
use super::policy::ETHERTYPE_EAPOL;
use super::sa_manager::SaManager;
use crate::secy::{An, CipherSuite, Pn, RingBackend, SaParams, Sak, Salt, Sci, SecyConfig, Ssci};

const A: Sci = Sci(0x0200_0000_000a_0001);
const B: Sci = Sci(0x0200_0000_000b_0001);
const SUITE: CipherSuite = CipherSuite::GcmAesXpn256;

struct Side {
    worker: SecyWorker,
    keys: SaManager,
}

fn side(sci: Sci, mode: EncryptionMode) -> Side {
    let ctx = SecyContext::new(SecyConfig::new(SUITE), sci, mode, 1, u64::MAX);
    let keys = SaManager::new(ctx.slot.clone(), Arc::new(RingBackend), SUITE);
    Side { worker: SecyWorker::new(ctx, 0), keys }
}

fn params(an: u8, pn: u64) -> SaParams {
    SaParams { an: An::new(an).unwrap(), pn: Pn(pn), ssci: Some(Ssci(1)), salt: Some(Salt([5; 12])) }
}

fn sak() -> Sak {
    Sak::from_slice(&[0x11; 32]).unwrap()
}

/// `tx` sends to `rx` on AN `an` from PN `pn` (Rx SA first, then Tx).
fn key(tx: &mut Side, rx: &mut Side, an: u8, pn: u64) {
    rx.keys.install_rx_sa(A, &sak(), &params(an, pn)).unwrap();
    tx.keys.install_tx_sa(&sak(), &params(an, pn)).unwrap();
    tx.keys.enable_tx_sa(An::new(an).unwrap()).unwrap();
}

fn frame(len: usize, ethertype: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a];
    f.extend(ethertype.to_be_bytes());
    f.extend((f.len()..len).map(|i| (i as u8) ^ 0x5a));
    f
}

/// `plain` protected by `tx`'s pipeline.
fn protect(tx: &mut Side, plain: &[u8]) -> Vec<u8> {
    let mut burst = [plain.to_vec()];
    let mut d = [Disposition::Drop];
    tx.worker.protect_burst(&mut burst, &mut d);
    tx.worker.quiescent();
    assert_eq!(d[0], Disposition::Forward);
    let [f] = burst;
    f
}

type Snapshot = BTreeMap<String, u64>;

fn put(m: &mut Snapshot, k: String, v: u64) {
    m.insert(k, v);
}

fn snapshot(c: &SecyCounters) -> Snapshot {
    let mut m = Snapshot::new();
    c.secy.values().for_each(|(i, v)| put(&mut m, format!("secy.{}", i.mib), v));
    c.tx_sc.values().for_each(|(i, v)| put(&mut m, format!("tx_sc.{}", i.mib), v));
    for (an, s) in c.tx_sa.iter().enumerate() {
        s.values().for_each(|(i, v)| put(&mut m, format!("tx_sa[{an}].{}", i.mib), v));
    }
    for (ch, s) in c.rx_sc.iter().enumerate() {
        s.values().for_each(|(i, v)| put(&mut m, format!("rx_sc[{ch}].{}", i.mib), v));
    }
    for (ch, row) in c.rx_sa.iter().enumerate() {
        for (an, s) in row.iter().enumerate() {
            s.values().for_each(|(i, v)| put(&mut m, format!("rx_sa[{ch}][{an}].{}", i.mib), v));
        }
    }
    for (k, v) in [
        ("policy_drops_tx", c.policy_drops_tx),
        ("policy_drops_rx", c.policy_drops_rx),
        ("protect_drops", c.protect_drops),
        ("eapol_rx", c.eapol_rx),
        ("eapol_tx", c.eapol_tx),
        ("forwarded_tx", c.forwarded_tx),
        ("forwarded_rx", c.forwarded_rx),
    ] {
        m.insert(k.to_owned(), v);
    }
    m
}

/// Validates `f` as a burst of one on `rx`, asserts that exactly `expect` changed, and returns
/// what happened to the frame (and the frame).
fn receive(rx: &mut Side, f: &[u8], expect: &[(&str, u64)]) -> (Disposition, Vec<u8>) {
    let before = snapshot(&rx.worker.counters);
    let mut burst = [f.to_vec()];
    let mut d = [Disposition::Forward];
    rx.worker.validate_burst(&mut burst, &mut d);
    rx.worker.quiescent();
    let after = snapshot(&rx.worker.counters);
    let changed: BTreeMap<String, u64> =
        after.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v - before[k])).collect();
    let want: BTreeMap<String, u64> = expect.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(changed, want);
    let [f] = burst;
    (d[0], f)
}

const NO_TAG: &[(&str, u64)] = &[("secy.InPktsNoTag", 1), ("policy_drops_rx", 1)];
const UNTAGGED: &[(&str, u64)] = &[("secy.InPktsUntagged", 1), ("forwarded_rx", 1)];

// ---------------------------------------------------------------------------------------------
// A clear frame on the wire port, by encryption mode (policy.rs).

#[test]
fn clear_frame_under_must_encrypt_without_sa_is_dropped() {
    let mut b = side(B, EncryptionMode::MustEncrypt);
    for len in [60, 1514, 14, 13, 0] {
        assert_eq!(receive(&mut b, &frame(len.max(14), 0x0800)[..len], NO_TAG).0, Disposition::Drop, "{len}");
    }
}

#[test]
fn clear_frame_under_must_encrypt_with_sa_is_dropped() {
    let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt), side(B, EncryptionMode::MustEncrypt));
    key(&mut a, &mut b, 0, 1);
    for ethertype in [0x0800, 0x86dd, 0x8100, 0x88a8] {
        assert_eq!(receive(&mut b, &frame(100, ethertype), NO_TAG).0, Disposition::Drop);
    }
}

#[test]
fn clear_frame_under_should_encrypt_without_sa_passes_unchanged() {
    let mut b = side(B, EncryptionMode::ShouldEncrypt);
    let f = frame(100, 0x0800);
    assert_eq!(receive(&mut b, &f, UNTAGGED), (Disposition::Forward, f));
}

#[test]
fn clear_frame_under_should_encrypt_with_sa_is_dropped() {
    // Once any SA is installed (here only the Rx SA for A), clear frames stop.
    let mut b = side(B, EncryptionMode::ShouldEncrypt);
    b.keys.install_rx_sa(A, &sak(), &params(0, 1)).unwrap();
    assert_eq!(receive(&mut b, &frame(100, 0x0800), NO_TAG).0, Disposition::Drop);
    // And a Tx SA alone (control installs Rx first, but the policy does not rely on it).
    let mut c = side(B, EncryptionMode::ShouldEncrypt);
    c.keys.install_tx_sa(&sak(), &params(0, 1)).unwrap();
    c.keys.enable_tx_sa(An::new(0).unwrap()).unwrap();
    assert_eq!(receive(&mut c, &frame(100, 0x0800), NO_TAG).0, Disposition::Drop);
}

#[test]
fn clear_frame_under_no_encrypt_passes_unchanged() {
    let (mut a, mut b) = (side(A, EncryptionMode::NoEncrypt), side(B, EncryptionMode::NoEncrypt));
    let f = frame(100, 0x0800);
    assert_eq!(receive(&mut b, &f, UNTAGGED), (Disposition::Forward, f.clone()));
    key(&mut a, &mut b, 0, 1);
    assert_eq!(receive(&mut b, &f, UNTAGGED), (Disposition::Forward, f));
}

#[test]
fn eapol_is_punted_under_every_mode() {
    for mode in [EncryptionMode::MustEncrypt, EncryptionMode::ShouldEncrypt, EncryptionMode::NoEncrypt] {
        let (mut a, mut b) = (side(A, mode), side(B, mode));
        let f = frame(60, ETHERTYPE_EAPOL);
        assert_eq!(receive(&mut b, &f, &[("eapol_rx", 1)]), (Disposition::Punt, f.clone()), "{mode:?}");
        key(&mut a, &mut b, 0, 1);
        assert_eq!(receive(&mut b, &f, &[("eapol_rx", 1)]), (Disposition::Punt, f), "{mode:?} keyed");
    }
}

#[test]
fn fake_macsec_frame_under_must_encrypt_is_bad_tag() {
    // The MACsec EtherType with garbage behind it: the SecY rejects it, nothing passes.
    let mut b = side(B, EncryptionMode::MustEncrypt);
    for len in [14, 20, 43, 44, 100] {
        let mut f = frame(len, 0x88e5);
        if len > 14 {
            f[14] = 0xa0; // V=1, SC=1
        }
        assert_eq!(receive(&mut b, &f, &[("secy.InPktsBadTag", 1)]).0, Disposition::Drop, "{len}");
    }
}

#[test]
fn macsec_frame_under_no_encrypt_passes_unchanged() {
    let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt), side(B, EncryptionMode::NoEncrypt));
    key(&mut a, &mut b, 0, 1);
    let f = protect(&mut a, &frame(100, 0x0800));
    assert_eq!(receive(&mut b, &f, UNTAGGED), (Disposition::Forward, f));
}

// ---------------------------------------------------------------------------------------------
// Hostile MACsec frames through the workers' receive path.

fn keyed() -> (Side, Side) {
    let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt), side(B, EncryptionMode::MustEncrypt));
    key(&mut a, &mut b, 0, 1);
    (a, b)
}

#[test]
fn pipeline_version_bit_is_bad_tag() {
    let (mut a, mut b) = keyed();
    let mut f = protect(&mut a, &frame(100, 0x0800));
    f[14] |= 0x80;
    assert_eq!(receive(&mut b, &f, &[("secy.InPktsBadTag", 1)]).0, Disposition::Drop);
}

#[test]
fn pipeline_truncated_frames_are_bad_tag() {
    let (mut a, mut b) = keyed();
    let f = protect(&mut a, &frame(100, 0x0800));
    for len in 14..44 {
        assert_eq!(receive(&mut b, &f[..len], &[("secy.InPktsBadTag", 1)]).0, Disposition::Drop, "{len}");
    }
}

#[test]
fn pipeline_bad_icv_is_not_valid() {
    let (mut a, mut b) = keyed();
    let mut f = protect(&mut a, &frame(100, 0x0800));
    let n = f.len();
    f[n - 1] ^= 1;
    let expect = [("rx_sa[0][0].InPktsNotValid", 1), ("rx_sc[0].InOctetsDecrypted", 88)];
    assert_eq!(receive(&mut b, &f, &expect).0, Disposition::Drop);
    // The window did not move: the genuine frame with that PN is still accepted.
    f[n - 1] ^= 1;
    let ok = [("rx_sa[0][0].InPktsOK", 1), ("rx_sc[0].InOctetsDecrypted", 88), ("forwarded_rx", 1)];
    assert_eq!(receive(&mut b, &f, &ok), (Disposition::Forward, frame(100, 0x0800)));
}

#[test]
fn pipeline_replay_is_late() {
    let (mut a, mut b) = keyed();
    let f = protect(&mut a, &frame(100, 0x0800));
    let ok = [("rx_sa[0][0].InPktsOK", 1), ("rx_sc[0].InOctetsDecrypted", 88), ("forwarded_rx", 1)];
    receive(&mut b, &f, &ok);
    for _ in 0..3 {
        assert_eq!(receive(&mut b, &f, &[("rx_sc[0].InPktsLate", 1)]).0, Disposition::Drop);
    }
}

#[test]
fn pipeline_replay_in_one_burst_is_late() {
    // The same frame twice in a burst: the ordered stage sees the first one's window update.
    let (mut a, mut b) = keyed();
    let f = protect(&mut a, &frame(100, 0x0800));
    let mut burst = [f.clone(), f];
    let mut d = [Disposition::Drop; 2];
    b.worker.validate_burst(&mut burst, &mut d);
    assert_eq!(d, [Disposition::Forward, Disposition::Drop]);
    assert_eq!(b.worker.counters.rx_sc[0].in_pkts_late, 1);
}

#[test]
fn pipeline_unknown_sci_is_no_sci() {
    let (_, mut b) = keyed();
    let mut stranger = side(Sci(0x0200_0000_00ee_0001), EncryptionMode::MustEncrypt);
    stranger.keys.install_tx_sa(&sak(), &params(0, 1)).unwrap();
    stranger.keys.enable_tx_sa(An::new(0).unwrap()).unwrap();
    let f = protect(&mut stranger, &frame(100, 0x0800));
    assert_eq!(receive(&mut b, &f, &[("secy.InPktsNoSCI", 1)]).0, Disposition::Drop);
}

#[test]
fn pipeline_an_without_sa_is_not_using_sa() {
    let (mut a, mut b) = keyed();
    a.keys.install_tx_sa(&sak(), &params(2, 1)).unwrap();
    a.keys.enable_tx_sa(An::new(2).unwrap()).unwrap();
    let f = protect(&mut a, &frame(100, 0x0800));
    assert_eq!(receive(&mut b, &f, &[("rx_sa[0][2].InPktsNotUsingSA", 1)]).0, Disposition::Drop);
}

#[test]
fn pipeline_xpn_crosses_2_pow_32() {
    let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt), side(B, EncryptionMode::MustEncrypt));
    let start = (1u64 << 32) - 2;
    key(&mut a, &mut b, 1, start);
    let frames: Vec<Vec<u8>> = (0..4).map(|_| protect(&mut a, &frame(80, 0x0800))).collect();
    let ok = [("rx_sa[0][1].InPktsOK", 1), ("rx_sc[0].InOctetsDecrypted", 68), ("forwarded_rx", 1)];
    for f in &frames {
        assert_eq!(receive(&mut b, f, &ok), (Disposition::Forward, frame(80, 0x0800)));
    }
    for f in &frames {
        assert_eq!(receive(&mut b, f, &[("rx_sc[0].InPktsLate", 1)]).0, Disposition::Drop);
    }
}

#[test]
fn pipeline_frame_over_the_mtu_is_too_long() {
    let (mut a, _) = keyed();
    let max = a.worker.ctx.cfg.max_frame_len;
    let before = snapshot(&a.worker.counters);
    let mut burst = [frame(max - 32 + 1, 0x0800), frame(max - 32, 0x0800)];
    let mut d = [Disposition::Forward; 2];
    a.worker.protect_burst(&mut burst, &mut d);
    assert_eq!(d, [Disposition::Drop, Disposition::Forward]);
    assert_eq!(burst[1].len(), max);
    let after = snapshot(&a.worker.counters);
    let changed: Vec<(&str, u64)> =
        after.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(k, v)| (k.as_str(), v - before[k])).collect();
    let user = (max - 32 - 12) as u64;
    assert_eq!(
        changed,
        [
            ("forwarded_tx", 1),
            ("secy.OutPktsTooLong", 1),
            ("tx_sa[0].OutPktsEncrypted", 1),
            ("tx_sc.OutOctetsEncrypted", user),
            ("tx_sc.OutPktsEncrypted", 1)
        ]
    );
    // Only the frame that fits took a PN.
    assert_eq!(a.keys.tx_next_pn(), Some(Pn(2)));
}

/// Regression: the Tx PN counter wrapped at 2^64 (PN 2^64-1, then 0, 1, ...: IV reuse), and the
/// threshold check overflowed; a SA installed at PN 2^64-1 sends exactly that PN, then stops.
///
/// IEEE 802.1AE-2018 10.5.2: a PN is never reused under one SAK.
#[test]
fn pipeline_xpn_tx_never_wraps_the_pn() {
    let (mut a, mut b) = (side(A, EncryptionMode::MustEncrypt), side(B, EncryptionMode::MustEncrypt));
    key(&mut a, &mut b, 0, u64::MAX);
    let mut pns = Vec::new();
    for _ in 0..3 {
        let mut burst = [frame(80, 0x0800)];
        let mut d = [Disposition::Drop];
        a.worker.protect_burst(&mut burst, &mut d);
        if d[0] == Disposition::Forward {
            pns.push(u32::from_be_bytes(burst[0][16..20].try_into().unwrap()));
        }
    }
    assert_eq!(pns, [u32::MAX], "only PN 2^64-1 may be sent; PN fields sent: {pns:x?}");
}

/// Regression: `u64::from_str_radix` alone accepts a leading `+`, so a 16-character
/// `"+000000000b0001"`-style string was taken as an SCI; `parse_sci` now wants 16 hex digits.
#[test]
fn static_key_sci_with_a_plus_sign_is_refused() {
    use super::static_keys::StaticKeys;
    let text = format!("[[rx]]\nsci = \"+00000000000b001\"\nan = 0\nsak = \"{}\"\n", "00".repeat(16));
    assert!(StaticKeys::parse(&text, CipherSuite::GcmAes128).is_err(), "a '+' is not a hex digit");
}
