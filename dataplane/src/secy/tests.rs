//! SecY tests: every 802.1AE Annex C vector and every DPDK edge case from `dataplane/vectors`
//! (read from the JSON, never retyped), then property tests over random frames and keys.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Value;

use super::*;

// ---------------------------------------------------------------------------------------------
// Vector loading: the one helper every vector test goes through.

/// One SecY frame vector (schema `secy-frame-v1`, see `dataplane/vectors/README.md`).
struct FrameVector {
    id: String,
    check: String,
    suite: CipherSuite,
    key: Vec<u8>,
    sci: Option<Sci>,
    an: u8,
    pn: u64,
    ssci: Option<Ssci>,
    salt: Option<Salt>,
    tci_an: Option<u8>,
    clear_tag_len: usize,
    iv: Option<Vec<u8>>,
    plaintext: Vec<u8>,
    protected: Vec<u8>,
}

fn hex_field(v: &Value, name: &str) -> Option<Vec<u8>> {
    v.get(name)?.as_str().map(|s| hex::decode(s).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn load(file: &str) -> (Vec<FrameVector>, Value) {
    let path = format!("{}/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let vectors = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| FrameVector {
            id: v["id"].as_str().unwrap().to_owned(),
            check: v.get("check").and_then(Value::as_str).unwrap_or("gcm").to_owned(),
            suite: v["cipher_suite"].as_str().unwrap().parse().unwrap(),
            key: hex_field(v, "key").unwrap(),
            sci: hex_field(v, "sci").map(|b| Sci::from_bytes(b.try_into().unwrap())),
            an: v.get("an").and_then(Value::as_u64).unwrap_or(0) as u8,
            pn: v.get("pn").and_then(Value::as_u64).or_else(|| v.get("pn_wire").and_then(Value::as_u64)).unwrap_or(1),
            ssci: hex_field(v, "ssci").map(|b| Ssci(u32::from_be_bytes(b.try_into().unwrap()))),
            salt: hex_field(v, "salt").map(|b| Salt(b.try_into().unwrap())),
            tci_an: hex_field(v, "tci_an").map(|b| b[0]),
            clear_tag_len: v.get("clear_tag_len").and_then(Value::as_u64).unwrap_or(0) as usize,
            iv: hex_field(v, "iv"),
            plaintext: hex_field(v, "plaintext_frame").unwrap(),
            protected: hex_field(v, "protected_frame").unwrap(),
        })
        .collect();
    (vectors, doc)
}

// ---------------------------------------------------------------------------------------------
// Helpers to build SecYs for a vector.

fn backend() -> Arc<dyn GcmBackend> {
    Arc::new(RingBackend)
}

fn params(v: &FrameVector, an: u8, pn: u64) -> SaParams {
    SaParams { an: An::new(an).unwrap(), pn: Pn(pn), ssci: v.ssci, salt: v.salt }
}

/// A transmitter for the vector's SCI whose next PN is the vector's PN.
fn tx_secy(v: &FrameVector, confidentiality: bool) -> Secy {
    let mut cfg = SecyConfig::new(v.suite);
    cfg.confidentiality = confidentiality;
    let mut s = Secy::new(cfg, v.sci.unwrap(), backend());
    s.install_tx_sa(&Sak::from_slice(&v.key).unwrap(), &params(v, v.an, v.pn)).unwrap();
    s.enable_tx_sa(An::new(v.an).unwrap()).unwrap();
    s
}

/// A receiver with the vector's SA installed, whose lowest acceptable PN is the vector's PN
/// (so an XPN receiver recovers the upper half the vector uses).
fn rx_secy(v: &FrameVector, cfg: SecyConfig) -> Secy {
    rx_secy_from(v, cfg, v.pn.max(1))
}

/// A receiver with the vector's SA installed and the given lowest acceptable PN.
fn rx_secy_from(v: &FrameVector, cfg: SecyConfig, lowest_pn: u64) -> Secy {
    // Bad-tag and untagged vectors carry no SCI: use the one of the frame they were made from.
    let sci = v.sci.unwrap_or(Sci(0xfe2f_cd14_241b_882c));
    let mut s = Secy::new(cfg, Sci(0x0a0a_0a0a_0a0a_0001), backend());
    s.add_rx_sc(sci);
    s.install_rx_sa(sci, &Sak::from_slice(&v.key).unwrap(), &params(v, v.an, lowest_pn)).unwrap();
    s
}

/// Every packet counter of a SecY, added up (octet counters left out).
fn packet_counters(s: &Secy) -> u64 {
    let mut n: u64 = s.stats.values().map(|(_, v)| v).sum();
    n += s.tx_sc.stats.out_pkts_protected + s.tx_sc.stats.out_pkts_encrypted;
    for sc in &s.rx_scs {
        n += sc.stats.in_pkts_unchecked + sc.stats.in_pkts_delayed + sc.stats.in_pkts_late;
        n += sc.sa_stats_total().values().map(|(_, v)| v).sum::<u64>();
    }
    n
}

fn sa_stats(s: &Secy) -> RxSaStats {
    s.rx_scs[0].sa_stats_total()
}

// ---------------------------------------------------------------------------------------------
// IEEE 802.1AE-2018 Annex C.

#[test]
fn annex_c_validate_every_frame() {
    let (vectors, _) = load("secy-annex-c.json");
    assert_eq!(vectors.len(), 32);
    for v in &vectors {
        let mut rx = rx_secy(v, SecyConfig::new(v.suite));
        let mut frame = v.protected.clone();
        assert_eq!(rx.validate(&mut frame), RxVerdict::Ok, "{}", v.id);
        assert_eq!(frame, v.plaintext, "{}", v.id);
        assert_eq!(sa_stats(&rx).in_pkts_ok, 1, "{}", v.id);
        assert_eq!(packet_counters(&rx), 1, "{}", v.id);
    }
}

#[test]
fn annex_c_protect_reproduces_frames_with_sci() {
    let (vectors, _) = load("secy-annex-c.json");
    let mut checked = 0;
    for v in &vectors {
        let tci = v.tci_an.unwrap();
        let confidentiality = tci & sectag::Tci::E != 0;
        // We always send the SCI (SC=1); the ES=1 frames are covered by the round trip below.
        if tci & sectag::Tci::SC == 0 {
            let mut tx = tx_secy(&FrameVector { sci: v.sci, ..clone_vector(v) }, confidentiality);
            let mut frame = v.plaintext.clone();
            tx.protect(&mut frame).unwrap();
            let mut rx = rx_secy(v, SecyConfig::new(v.suite));
            rx.rx_scs[0].sci = v.sci.unwrap();
            assert_eq!(rx.validate(&mut frame), RxVerdict::Ok, "{}", v.id);
            assert_eq!(frame, v.plaintext, "{}", v.id);
            continue;
        }
        let mut tx = tx_secy(v, confidentiality);
        let mut frame = v.plaintext.clone();
        let expect = if confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected };
        assert_eq!(tx.protect(&mut frame), Ok(expect), "{}", v.id);
        assert_eq!(hex::encode(&frame), hex::encode(&v.protected), "{}", v.id);
        checked += 1;
    }
    assert_eq!(checked, 16); // C.1, C.3, C.6, C.7 in four suites
}

#[test]
fn annex_c_iv_construction() {
    let (vectors, _) = load("secy-annex-c.json");
    for v in &vectors {
        let iv = match (v.ssci, &v.salt) {
            (Some(ssci), Some(salt)) => xpn::iv_xpn(ssci, Pn(v.pn), salt),
            _ => xpn::iv_gcm(v.sci.unwrap(), v.pn as u32),
        };
        assert_eq!(Some(iv.0.to_vec()), v.iv, "{}", v.id);
    }
}

fn clone_vector(v: &FrameVector) -> FrameVector {
    FrameVector {
        id: v.id.clone(),
        check: v.check.clone(),
        suite: v.suite,
        key: v.key.clone(),
        sci: v.sci,
        an: v.an,
        pn: v.pn,
        ssci: v.ssci,
        salt: v.salt,
        tci_an: v.tci_an,
        clear_tag_len: v.clear_tag_len,
        iv: v.iv.clone(),
        plaintext: v.plaintext.clone(),
        protected: v.protected.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// DPDK's edge cases.

#[test]
fn dpdk_edge_cases() {
    let (vectors, _) = load("secy-dpdk-edge.json");
    assert_eq!(vectors.len(), 29);
    for v in &vectors {
        let mut cfg = SecyConfig::new(v.suite);
        cfg.rx_clear_tag_len = v.clear_tag_len;
        let mut rx = rx_secy(v, cfg);
        let mut frame = v.protected.clone();
        let verdict = rx.validate(&mut frame);
        match v.check.as_str() {
            "gcm" => {
                assert_eq!(verdict, RxVerdict::Ok, "{}", v.id);
                assert_eq!(frame, v.plaintext, "{}", v.id);
                assert_eq!(sa_stats(&rx).in_pkts_ok, 1, "{}", v.id);
            }
            "gcm-fail" => {
                assert_eq!(verdict, RxVerdict::NotValid, "{}", v.id);
                assert_eq!(sa_stats(&rx).in_pkts_not_valid, 1, "{}", v.id);
            }
            "bad-tag" => {
                assert_eq!(verdict, RxVerdict::BadTag, "{}", v.id);
                assert_eq!(rx.stats.in_pkts_bad_tag, 1, "{}", v.id);
            }
            "untagged" => {
                assert_eq!(verdict, RxVerdict::NoTag, "{}", v.id);
                assert_eq!(rx.stats.in_pkts_no_tag, 1, "{}", v.id);
                let mut cfg = SecyConfig::new(v.suite);
                cfg.validate_frames = ValidateFrames::Check;
                let mut check = rx_secy(v, cfg);
                let mut frame = v.protected.clone();
                assert_eq!(check.validate(&mut frame), RxVerdict::Untagged, "{}", v.id);
                assert_eq!(frame, v.protected, "{}: delivered unchanged", v.id);
                assert_eq!(check.stats.in_pkts_untagged, 1);
            }
            other => panic!("{}: unknown check {other}", v.id),
        }
        assert_eq!(packet_counters(&rx), 1, "{}: exactly one counter", v.id);
    }
}

#[test]
fn dpdk_protect_reproduces_frames_with_sci() {
    let (vectors, _) = load("secy-dpdk-edge.json");
    for v in vectors.iter().filter(|v| v.check == "gcm" && v.clear_tag_len == 0) {
        let tci = v.tci_an.unwrap();
        if tci & sectag::Tci::SC == 0 {
            continue;
        }
        let mut tx = tx_secy(v, tci & sectag::Tci::E != 0);
        let mut frame = v.plaintext.clone();
        tx.protect(&mut frame).unwrap();
        assert_eq!(hex::encode(&frame), hex::encode(&v.protected), "{}", v.id);
    }
}

#[test]
fn dpdk_rekey_selects_the_sa_by_an() {
    let (vectors, _) = load("secy-dpdk-edge.json");
    let rekey: Vec<&FrameVector> = vectors.iter().filter(|v| v.id.starts_with("rekey-")).collect();
    assert_eq!(rekey.len(), 4);
    for pair in rekey.chunks(2) {
        let (old, new) = (pair[0], pair[1]);
        let sci = old.sci.unwrap();
        let mut rx = Secy::new(SecyConfig::new(old.suite), Sci(1), backend());
        rx.add_rx_sc(sci);
        for v in [old, new] {
            rx.install_rx_sa(sci, &Sak::from_slice(&v.key).unwrap(), &params(v, v.an, v.pn)).unwrap();
        }
        for v in [old, new] {
            let mut frame = v.protected.clone();
            assert_eq!(rx.validate(&mut frame), RxVerdict::Ok, "{}", v.id);
            assert_eq!(frame, v.plaintext, "{}", v.id);
        }
    }
}

#[test]
fn dpdk_anti_replay_sequences() {
    let (vectors, doc) = load("secy-dpdk-edge.json");
    for seq in doc["sequences"].as_array().unwrap() {
        let pns: Vec<u64> = seq["pns"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
        let frames: Vec<&FrameVector> = pns
            .iter()
            .map(|pn| vectors.iter().find(|v| v.id.starts_with("anti_replay") && v.pn == *pn).unwrap())
            .collect();
        for (window, key) in [(32, "window_32"), (0, "window_0")] {
            let mut cfg = SecyConfig::new(frames[0].suite);
            cfg.replay_window = window;
            // DPDK's sequences start from a fresh SA: lowest acceptable PN 1.
            let mut rx = rx_secy_from(frames[0], cfg, 1);
            let got: Vec<&str> = frames
                .iter()
                .map(|v| {
                    let mut frame = v.protected.clone();
                    match rx.validate(&mut frame) {
                        RxVerdict::Ok => "ok",
                        RxVerdict::Late => "late",
                        other => panic!("{}: {other:?}", v.id),
                    }
                })
                .collect();
            let want: Vec<&str> =
                seq["verdicts"][key].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            assert_eq!(got, want, "{} {key}", seq["name"]);
            let late = want.iter().filter(|v| **v == "late").count() as u64;
            assert_eq!(rx.rx_scs[0].stats.in_pkts_late, late);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Receive rules not covered by vectors.

fn pair(suite: CipherSuite, confidentiality: bool) -> (Secy, Secy) {
    let key = vec![0x5c; suite.key_len()];
    let a = Sci(0x0200_0000_000a_0001);
    let p = SaParams { an: An::new(1).unwrap(), pn: Pn(1), ssci: Some(Ssci(7)), salt: Some(Salt([3; 12])) };
    let mut cfg = SecyConfig::new(suite);
    cfg.confidentiality = confidentiality;
    let mut tx = Secy::new(cfg.clone(), a, backend());
    tx.install_tx_sa(&Sak::from_slice(&key).unwrap(), &p).unwrap();
    tx.enable_tx_sa(p.an).unwrap();
    let mut rx = Secy::new(cfg, Sci(0x0200_0000_000b_0001), backend());
    rx.add_rx_sc(a);
    rx.install_rx_sa(a, &Sak::from_slice(&key).unwrap(), &p).unwrap();
    (tx, rx)
}

fn plain_frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0b]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0a]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

#[test]
fn unknown_sci_and_missing_sa() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes128, true);
    let mut frame = plain_frame(100, 1);
    tx.protect(&mut frame).unwrap();
    // Encrypted frame for an SC we do not know: discarded as NoSCI even in Check mode.
    let mut other =
        Secy::new(SecyConfig { validate_frames: ValidateFrames::Check, ..rx.config.clone() }, Sci(9), backend());
    other.add_rx_sc(Sci(1));
    other.add_rx_sc(Sci(2));
    assert_eq!(other.validate(&mut frame.clone()), RxVerdict::NoSci);
    assert_eq!(other.stats.in_pkts_no_sci, 1);
    // Known SC, no SA for AN 1.
    rx.remove_rx_sa(tx.tx_sc.sci, An::new(1).unwrap());
    assert_eq!(rx.validate(&mut frame), RxVerdict::NotUsingSa);
    assert_eq!(rx.rx_scs[0].sa_stats[1].in_pkts_not_using_sa, 1);
}

#[test]
fn integrity_only_in_check_mode_delivers_unknown_and_invalid() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes256, false);
    rx.config.validate_frames = ValidateFrames::Check;
    let plain = plain_frame(80, 2);
    let mut frame = plain.clone();
    assert_eq!(tx.protect(&mut frame), Ok(TxVerdict::Protected));
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert_eq!(rx.validate(&mut bad), RxVerdict::Invalid);
    assert_eq!(bad, plain, "delivered with SecTAG and ICV removed");
    rx.remove_rx_sa(tx.tx_sc.sci, An::new(1).unwrap());
    let mut f = frame.clone();
    assert_eq!(rx.validate(&mut f), RxVerdict::UnusedSa);
    assert_eq!(f, plain);
    rx.remove_rx_sc(tx.tx_sc.sci);
    rx.add_rx_sc(Sci(77));
    rx.add_rx_sc(Sci(78));
    let mut f = frame.clone();
    assert_eq!(rx.validate(&mut f), RxVerdict::UnknownSci);
    assert_eq!(rx.stats.in_pkts_unknown_sci, 1);
}

#[test]
fn disabled_validation_and_delayed_frames() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes128, false);
    rx.config.validate_frames = ValidateFrames::Disabled;
    let mut frame = plain_frame(64, 3);
    tx.protect(&mut frame).unwrap();
    assert_eq!(rx.validate(&mut frame.clone()), RxVerdict::Unchecked);
    assert_eq!(rx.rx_scs[0].stats.in_pkts_unchecked, 1);
    // replayProtect off: a validated frame below the window is delivered as delayed.
    let (mut tx, mut rx) = pair(CipherSuite::GcmAes128, true);
    rx.config.replay_protect = false;
    let frames: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let mut f = plain_frame(64, i);
            tx.protect(&mut f).unwrap();
            f
        })
        .collect();
    assert_eq!(rx.validate(&mut frames[2].clone()), RxVerdict::Ok);
    assert_eq!(rx.validate(&mut frames[0].clone()), RxVerdict::Delayed);
    assert_eq!(rx.rx_scs[0].stats.in_pkts_delayed, 1);
}

#[test]
fn transmit_limits() {
    let (mut tx, _) = pair(CipherSuite::GcmAes128, true);
    tx.config.max_frame_len = 1518;
    let mut jumbo = plain_frame(1518 - 32 + 1, 4);
    assert_eq!(tx.protect(&mut jumbo), Err(TxDrop::TooLong));
    assert_eq!(tx.stats.out_pkts_too_long, 1);
    let mut fits = plain_frame(1518 - 32, 4);
    assert_eq!(tx.protect(&mut fits), Ok(TxVerdict::Encrypted));
    assert_eq!(fits.len(), 1518);
    assert_eq!(tx.protect(&mut vec![0u8; 13]), Err(TxDrop::Runt));
    tx.config.protect_frames = false;
    assert_eq!(tx.protect(&mut plain_frame(60, 0)), Ok(TxVerdict::Untagged));
    assert_eq!(tx.stats.out_pkts_untagged, 1);
}

#[test]
fn pn_exhaustion_stops_the_sa() {
    let (mut tx, _) = pair(CipherSuite::GcmAes128, true);
    let an = An::new(1).unwrap();
    let p = SaParams { an, pn: Pn(u64::from(u32::MAX)), ssci: None, salt: None };
    tx.install_tx_sa(&Sak::from_slice(&[1; 16]).unwrap(), &p).unwrap();
    assert!(tx.protect(&mut plain_frame(60, 0)).is_ok());
    assert_eq!(tx.protect(&mut plain_frame(60, 0)), Err(TxDrop::PnExhausted));
}

#[test]
fn vlan_tag_is_inside_the_protected_data() {
    let (mut tx, mut rx) = pair(CipherSuite::GcmAesXpn256, true);
    let mut plain = plain_frame(90, 5);
    plain[12..18].copy_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
    let mut frame = plain.clone();
    tx.protect(&mut frame).unwrap();
    assert_eq!(&frame[12..14], &[0x88, 0xe5], "no VLAN tag in clear");
    assert!(!frame.windows(4).any(|w| w == [0x81, 0x00, 0x00, 0x64]), "tag is encrypted");
    assert_eq!(rx.validate(&mut frame), RxVerdict::Ok);
    assert_eq!(frame, plain);
}

// ---------------------------------------------------------------------------------------------
// Property tests.

fn any_suite() -> impl Strategy<Value = CipherSuite> {
    prop::sample::select(CipherSuite::ALL.to_vec())
}

fn any_offset() -> impl Strategy<Value = ConfidentialityOffset> {
    prop::sample::select(vec![ConfidentialityOffset::Zero, ConfidentialityOffset::Thirty, ConfidentialityOffset::Fifty])
}

/// A transmitter and receiver with a random key, SSCI, salt and starting PN.
fn random_pair(
    suite: CipherSuite,
    confidentiality: bool,
    offset: ConfidentialityOffset,
    key: &[u8],
    pn: u64,
    ssci: u32,
    salt: [u8; 12],
) -> (Secy, Secy) {
    let mut cfg = SecyConfig::new(suite);
    cfg.confidentiality = confidentiality;
    cfg.confidentiality_offset = offset;
    let a = Sci(0x0200_0000_000a_0001);
    let pn = if suite.is_xpn() { pn } else { pn & 0x7fff_ffff }.max(1);
    let p = SaParams { an: An::new(2).unwrap(), pn: Pn(pn), ssci: Some(Ssci(ssci)), salt: Some(Salt(salt)) };
    let sak = Sak::from_slice(&key[..suite.key_len()]).unwrap();
    let mut tx = Secy::new(cfg.clone(), a, backend());
    tx.install_tx_sa(&sak, &p).unwrap();
    tx.enable_tx_sa(p.an).unwrap();
    let mut rx = Secy::new(cfg, Sci(0x0200_0000_000b_0001), backend());
    rx.add_rx_sc(a);
    rx.install_rx_sa(a, &sak, &p).unwrap();
    (tx, rx)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn validate_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), strict in any::<bool>()) {
        let (_, mut rx) = pair(CipherSuite::GcmAesXpn128, true);
        if !strict { rx.config.validate_frames = ValidateFrames::Check; }
        let mut tagged = bytes.clone();
        if tagged.len() >= 14 { tagged[12] = 0x88; tagged[13] = 0xe5; }
        for mut f in [bytes, tagged] {
            let before = packet_counters(&rx);
            let _ = rx.validate(&mut f);
            prop_assert_eq!(packet_counters(&rx), before + 1);
        }
    }

    #[test]
    fn protect_validate_round_trip(
        suite in any_suite(),
        confidentiality in any::<bool>(),
        offset in any_offset(),
        key in prop::array::uniform32(any::<u8>()),
        pn in 1u64..u64::MAX - 1,
        ssci in any::<u32>(),
        salt in prop::array::uniform12(any::<u8>()),
        len in 60usize..9000,
        seed in any::<u8>(),
    ) {
        let (mut tx, mut rx) = random_pair(suite, confidentiality, offset, &key, pn, ssci, salt);
        let plain = plain_frame(len, seed);
        let mut frame = plain.clone();
        let verdict = tx.protect(&mut frame).unwrap();
        prop_assert_eq!(verdict, if confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected });
        prop_assert_eq!(frame.len(), len + 32);
        prop_assert_eq!(rx.validate(&mut frame), RxVerdict::Ok);
        prop_assert_eq!(frame, plain);
        prop_assert_eq!(packet_counters(&rx), 1);
    }

    /// Flipping any one bit of a protected frame never yields a delivered, validated frame, and
    /// counts exactly one counter: InPktsNotValid (Strict, or encrypted) / InPktsInvalid (Check,
    /// integrity only) when the bit is outside the SecTAG.
    #[test]
    fn any_single_bit_flip_fails_validation(
        suite in any_suite(),
        confidentiality in any::<bool>(),
        check_mode in any::<bool>(),
        key in prop::array::uniform32(any::<u8>()),
        len in 60usize..2000,
        bit in any::<prop::sample::Index>(),
    ) {
        let (mut tx, mut rx) = random_pair(suite, confidentiality, ConfidentialityOffset::Zero, &key, 1000, 5, [9; 12]);
        if check_mode { rx.config.validate_frames = ValidateFrames::Check; }
        let mut frame = plain_frame(len, 0);
        tx.protect(&mut frame).unwrap();
        let bit = bit.index(frame.len() * 8);
        frame[bit / 8] ^= 1 << (bit % 8);
        let verdict = rx.validate(&mut frame);
        prop_assert_ne!(verdict, RxVerdict::Ok);
        prop_assert_eq!(packet_counters(&rx), 1);
        let in_sectag = (12..28).contains(&(bit / 8));
        if !in_sectag {
            let s = sa_stats(&rx);
            if check_mode && !confidentiality {
                prop_assert_eq!((verdict, s.in_pkts_invalid), (RxVerdict::Invalid, 1));
            } else {
                prop_assert_eq!((verdict, s.in_pkts_not_valid), (RxVerdict::NotValid, 1));
            }
        }
    }

    /// Frames delivered in any order, with repeats: each PN is accepted at most once, a replay
    /// is late, and a PN inside the window that was not seen yet is accepted.
    #[test]
    fn replay_and_reorder(
        suite in any_suite(),
        window in 0u32..64,
        order in prop::collection::vec(0usize..40, 1..120),
    ) {
        let (mut tx, mut rx) = random_pair(suite, true, ConfidentialityOffset::Zero, &[7; 32], 1, 1, [1; 12]);
        rx.config.replay_window = window;
        let frames: Vec<Vec<u8>> = (0..40).map(|i| { let mut f = plain_frame(64, i as u8); tx.protect(&mut f).unwrap(); f }).collect();
        let mut accepted = std::collections::HashSet::new();
        let mut highest = 0u64;
        for i in order {
            let pn = i as u64 + 1;
            let expect_ok = !accepted.contains(&pn) && (highest == 0 || pn + u64::from(window) > highest);
            let verdict = rx.validate(&mut frames[i].clone());
            prop_assert_eq!(verdict == RxVerdict::Ok, expect_ok, "pn {} highest {} window {}", pn, highest, window);
            if verdict == RxVerdict::Ok {
                accepted.insert(pn);
                highest = highest.max(pn);
            } else {
                prop_assert_eq!(verdict, RxVerdict::Late);
            }
        }
    }
}
