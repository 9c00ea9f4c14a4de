//! Fuzz targets of the dataplane on stable Rust (proptest), `FUZZ_CASES` cases each (256 by
//! default; `make fuzz` runs many more). Inputs are random bytes and the seeds of
//! `fuzz/corpus/<target>/` mutated (see `fuzz/README.md`); every seed is also replayed as it is.
//!
//! - `sectag`: the SecTAG view and `SecTagRepr::parse` never panic; parse → emit reproduces the
//!   octets; the 9.12 checks never panic.
//! - `validate`: `Secy::validate` and the pipeline's `validate_burst` on anything never panic and
//!   count exactly one outcome per frame; protect → validate round-trips any frame.
//! - `config`, `static_keys`: `Config::parse` / `StaticKeys::parse` on any text never panic;
//!   config errors name a key; key file errors never contain a SAK of the input.
//! - `gcm`: ring and every path of our AES-GCM engine agree on every protected frame and every
//!   verdict, one frame at a time and in the workers' bursts.
//! - `ctl_proto`: control socket messages never panic; what parses re-serialises to itself; `Debug`
//!   never shows a SAK.
//!
//! Every parser also runs under an allocation meter: it never holds more than a small multiple
//! of its input, whatever a length field claims.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../fuzz/common.rs"]
mod common;

use std::sync::Arc;

use common::{alloc_bound, config, corpus, input, peak_alloc};
use macsec_dataplane::appliance::config::{Config, EncryptionMode};
use macsec_dataplane::appliance::ctl_proto::{RequestMsg, ServerMsg};
use macsec_dataplane::appliance::pipeline::{Disposition, SecyContext, SecyCounters, SecyWorker};
use macsec_dataplane::appliance::sa_manager::SaManager;
use macsec_dataplane::appliance::static_keys::StaticKeys;
use macsec_dataplane::gcm::{Engine, EngineBackend};
use macsec_dataplane::secy::sectag::{SecTag, SecTagRepr};
use macsec_dataplane::secy::*;
use proptest::prelude::*;

#[global_allocator]
static METER: common::Meter = common::Meter;

// ---------------------------------------------------------------------------------------------
// sectag

fn sectag_one(bytes: &[u8]) {
    let (_, used) = peak_alloc(|| {
        let Ok(tag) = SecTag::new_checked(bytes) else { return };
        let _ = (tag.ethertype(), tag.tci(), tag.an(), tag.sl_octet(), tag.pn(), tag.sci(), tag.header_len());
        let Ok(repr) = SecTagRepr::parse(&tag) else { return };
        for len in [0, 1, 47, 48, bytes.len(), usize::MAX] {
            for xpn in [false, true] {
                let _ = repr.check(len, xpn);
            }
        }
        let mut out = [0u8; 16];
        repr.emit(&mut out).unwrap();
        assert_eq!(&out[..repr.buffer_len()], &bytes[..repr.buffer_len()], "parse → emit");
        assert!(repr.emit(&mut out[..repr.buffer_len() - 1]).is_err());
    });
    assert_eq!(used, 0, "the SecTAG codec allocates nothing");
}

#[test]
fn sectag_seeds() {
    for (name, seed) in corpus("sectag") {
        sectag_one(&seed);
        assert!(SecTagRepr::parse(&SecTag::new_checked(&seed[..]).unwrap()).is_ok(), "{name}");
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn sectag(bytes in input("sectag", 40)) {
        sectag_one(&bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// validate: the SecY's whole receive path, and the pipeline's.

const PEER: Sci = Sci(0x1215_3524_c089_5e81);

fn params(an: u8) -> SaParams {
    SaParams { an: An::new(an).unwrap(), pn: Pn(1), ssci: Some(Ssci(1)), salt: Some(Salt([3; 12])) }
}

/// A SecY receiving from the Annex C SCI (and one more) on every AN.
fn receiver(suite: CipherSuite, vf: ValidateFrames, clear_tags: usize, window: u32) -> Secy {
    let mut cfg = SecyConfig::new(suite);
    cfg.validate_frames = vf;
    cfg.rx_clear_tag_len = clear_tags;
    cfg.replay_window = window;
    let mut rx = Secy::new(cfg, Sci(0x0200_0000_000b_0001), Arc::new(RingBackend));
    let sak = Sak::from_slice(&[0x5c; 32][..suite.key_len()]).unwrap();
    for sci in [PEER, Sci(0x0200_0000_000a_0001)] {
        rx.add_rx_sc(sci);
        for an in 0..3 {
            rx.install_rx_sa(sci, &sak, &params(an)).unwrap();
        }
    }
    rx
}

fn packet_counters(s: &Secy) -> u64 {
    let mut n: u64 = s.stats.values().filter(|(i, _)| i.mib.starts_with("InPkts")).map(|(_, v)| v).sum();
    for sc in &s.rx_scs {
        n += sc.stats.in_pkts_unchecked + sc.stats.in_pkts_delayed + sc.stats.in_pkts_late;
        n += sc.sa_stats_total().values().map(|(_, v)| v).sum::<u64>();
    }
    n
}

fn validate_one(rx: &mut Secy, bytes: &[u8]) {
    let before = packet_counters(rx);
    let mut f = bytes.to_vec();
    let (verdict, used) = peak_alloc(|| rx.validate(&mut f));
    assert_eq!(packet_counters(rx), before + 1, "exactly one counter for {verdict:?}");
    assert!(used <= alloc_bound(bytes.len()));
    if verdict.delivered() {
        assert!(f.len() <= bytes.len(), "{verdict:?} grew the frame");
    }
    if verdict == RxVerdict::Untagged {
        assert_eq!(f, bytes, "untagged frames pass unchanged");
    }
}

fn any_suite() -> impl Strategy<Value = CipherSuite> {
    prop::sample::select(CipherSuite::ALL.to_vec())
}

fn any_vf() -> impl Strategy<Value = ValidateFrames> {
    prop::sample::select(vec![ValidateFrames::Strict, ValidateFrames::Check, ValidateFrames::Disabled])
}

#[test]
fn validate_seeds() {
    for (_, seed) in corpus("validate") {
        for suite in CipherSuite::ALL {
            for clear in [0, 4, 8] {
                validate_one(&mut receiver(suite, ValidateFrames::Strict, clear, 0), &seed);
                validate_one(&mut receiver(suite, ValidateFrames::Check, clear, 64), &seed);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn validate(
        frames in prop::collection::vec(input("validate", 120), 1..4),
        suite in any_suite(),
        vf in any_vf(),
        clear in prop::sample::select(vec![0usize, 4, 8]),
        window in prop::sample::select(vec![0u32, 32, u32::MAX]),
    ) {
        let mut rx = receiver(suite, vf, clear, window);
        for f in &frames {
            validate_one(&mut rx, f);
        }
    }

    /// Any frame that protect accepts validates back to itself; one it refuses is left alone.
    #[test]
    fn protect_round_trip(
        frame in input("validate", 300),
        suite in any_suite(),
        confidentiality in any::<bool>(),
        pn in prop::sample::select(vec![1u64, 0xffff_fffe, 0xffff_ffff, 1 << 32, u64::MAX - 1]),
    ) {
        let pn = if suite.is_xpn() { pn } else { pn.min(0xffff_ffff) };
        let sak = Sak::from_slice(&[0x5c; 32][..suite.key_len()]).unwrap();
        let p = SaParams { pn: Pn(pn), ..params(1) };
        let mut cfg = SecyConfig::new(suite);
        cfg.confidentiality = confidentiality;
        let mut tx = Secy::new(cfg.clone(), PEER, Arc::new(RingBackend));
        tx.install_tx_sa(&sak, &p).unwrap();
        tx.enable_tx_sa(p.an).unwrap();
        let mut rx = Secy::new(cfg, Sci(1), Arc::new(RingBackend));
        rx.add_rx_sc(PEER);
        rx.install_rx_sa(PEER, &sak, &p).unwrap();
        let mut f = frame.clone();
        match tx.protect(&mut f) {
            Ok(_) => {
                prop_assert_eq!(f.len(), frame.len() + 32);
                prop_assert_eq!(rx.validate(&mut f), RxVerdict::Ok);
                prop_assert_eq!(f, frame);
            }
            Err(_) => prop_assert_eq!(f, frame),
        }
    }
}

/// Outcome counters of the pipeline: one per frame (forwarded_rx and policy drops come on top).
fn outcomes(c: &SecyCounters) -> u64 {
    let secy: u64 = c.secy.values().filter(|(i, _)| i.mib.starts_with("InPkts")).map(|(_, v)| v).sum();
    let sc: u64 = c.rx_sc.iter().map(|s| s.in_pkts_unchecked + s.in_pkts_delayed + s.in_pkts_late).sum();
    let sa: u64 = c.rx_sa.iter().flatten().flat_map(|s| s.values().map(|(_, v)| v)).sum();
    secy + sc + sa + c.eapol_rx
}

fn pipeline(mode: EncryptionMode, suite: CipherSuite) -> (SecyWorker, SaManager) {
    let ctx = SecyContext::new(SecyConfig::new(suite), Sci(0x0200_0000_000b_0001), mode, 1, u64::MAX);
    let mut keys = SaManager::new(ctx.slot.clone(), Arc::new(RingBackend), suite);
    let sak = Sak::from_slice(&[0x5c; 32][..suite.key_len()]).unwrap();
    for an in 0..3 {
        keys.install_rx_sa(PEER, &sak, &params(an)).unwrap();
    }
    (SecyWorker::new(ctx, 0), keys)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pipeline_validate(
        frames in prop::collection::vec(input("validate", 120), 1..12),
        suite in any_suite(),
        mode in prop::sample::select(vec![EncryptionMode::MustEncrypt, EncryptionMode::ShouldEncrypt, EncryptionMode::NoEncrypt]),
    ) {
        let (mut w, _keys) = pipeline(mode, suite);
        let mut burst = frames.clone();
        let mut d = vec![Disposition::Punt; burst.len()];
        w.validate_burst(&mut burst, &mut d);
        prop_assert_eq!(outcomes(&w.counters), frames.len() as u64);
        for (f, (orig, d)) in burst.iter().zip(frames.iter().zip(&d)) {
            if *d != Disposition::Forward {
                continue;
            }
            prop_assert!(f.len() <= orig.len());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// gcm: every AES-GCM backend (ring and each path of our engine this CPU has) must agree on every
// protected frame and every verdict, frame by frame and in bursts.

fn backends() -> Vec<(&'static str, Arc<dyn GcmBackend>)> {
    let mut v: Vec<(&'static str, Arc<dyn GcmBackend>)> = vec![("ring", Arc::new(RingBackend))];
    for path in Engine::available() {
        let engine = Engine::with_path(path).unwrap();
        v.push((path.name(), Arc::new(EngineBackend::new(engine))));
    }
    v
}

fn any_offset() -> impl Strategy<Value = ConfidentialityOffset> {
    prop::sample::select(vec![ConfidentialityOffset::Zero, ConfidentialityOffset::Thirty, ConfidentialityOffset::Fifty])
}

/// A backend's name, and what its workers did with a burst: dispositions, frames, counters.
type BurstResult = (&'static str, Vec<Disposition>, Vec<Vec<u8>>, SecyCounters);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gcm_backends_agree(
        frame in input("validate", 600),
        suite in any_suite(),
        confidentiality in any::<bool>(),
        offset in any_offset(),
        key in prop::array::uniform32(any::<u8>()),
        pn in prop::sample::select(vec![1u64, 0xffff_ffff, 1 << 32, u64::MAX - 1]),
        flip in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let pn = if suite.is_xpn() { pn } else { pn.min(0xffff_ffff) };
        let sak = Sak::from_slice(&key[..suite.key_len()]).unwrap();
        let p = SaParams { pn: Pn(pn), ..params(1) };
        let mut cfg = SecyConfig::new(suite);
        cfg.confidentiality = confidentiality;
        cfg.confidentiality_offset = offset;
        let mut sent: Option<(&str, Result<TxVerdict, TxDrop>, Vec<u8>)> = None;
        for (name, b) in backends() {
            let mut tx = Secy::new(cfg.clone(), PEER, b);
            tx.install_tx_sa(&sak, &p).unwrap();
            tx.enable_tx_sa(p.an).unwrap();
            let mut f = frame.clone();
            let r = tx.protect(&mut f);
            match &sent {
                None => sent = Some((name, r, f)),
                Some((first, r0, f0)) => {
                    prop_assert_eq!(&r, r0, "{} vs {}", name, first);
                    prop_assert_eq!(&f, f0, "{} vs {}: protected octets", name, first);
                }
            }
        }
        let (_, r, mut wire) = sent.unwrap();
        if r.is_err() {
            return Ok(());
        }
        if let Some(i) = flip {
            let i = i.index(wire.len() * 8);
            wire[i / 8] ^= 1 << (i % 8);
        }
        let mut seen: Option<(&str, RxVerdict, Vec<u8>)> = None;
        for (name, b) in backends() {
            let mut rx = Secy::new(cfg.clone(), Sci(1), b);
            rx.add_rx_sc(PEER);
            rx.install_rx_sa(PEER, &sak, &p).unwrap();
            let mut f = wire.clone();
            let v = rx.validate(&mut f);
            if flip.is_none() {
                prop_assert_eq!(v, RxVerdict::Ok, "{}", name);
                prop_assert_eq!(&f, &frame, "{}", name);
            }
            match &seen {
                None => seen = Some((name, v, f)),
                Some((first, v0, f0)) => {
                    prop_assert_eq!(v, *v0, "{} vs {}", name, first);
                    if v.delivered() {
                        prop_assert_eq!(&f, f0, "{} vs {}: delivered octets", name, first);
                    }
                }
            }
        }
    }

    /// The workers' batched path: one burst through each backend, bit flips in some frames.
    #[test]
    fn gcm_backends_agree_in_bursts(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..40),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        suite in any_suite(),
    ) {
        let plain: Vec<Vec<u8>> = frames
            .into_iter()
            .map(|mut f| {
                let mut h = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00];
                h.append(&mut f);
                h
            })
            .collect();
        let mut results: Vec<BurstResult> = Vec::new();
        for (name, b) in backends() {
            let sak = Sak::from_slice(&[0x77; 32][..suite.key_len()]).unwrap();
            let mk = |sci| {
                let ctx = SecyContext::new(SecyConfig::new(suite), sci, EncryptionMode::MustEncrypt, 1, u64::MAX);
                let keys = SaManager::new(ctx.slot.clone(), b.clone(), suite);
                (SecyWorker::new(ctx, 0), keys)
            };
            let ((mut tx, mut tk), (mut rx, mut rk)) = (mk(PEER), mk(Sci(1)));
            rk.install_rx_sa(PEER, &sak, &params(1)).unwrap();
            tk.install_tx_sa(&sak, &params(1)).unwrap();
            tk.enable_tx_sa(An::new(1).unwrap()).unwrap();
            let mut burst = plain.clone();
            let mut d = vec![Disposition::Drop; burst.len()];
            tx.protect_burst(&mut burst, &mut d);
            prop_assert!(d.iter().all(|d| *d == Disposition::Forward), "{}", name);
            for i in &flips {
                let k = i.index(burst.len());
                let bit = i.index(burst[k].len() * 8);
                burst[k][bit / 8] ^= 1 << (bit % 8);
            }
            let mut rd = vec![Disposition::Punt; burst.len()];
            rx.validate_burst(&mut burst, &mut rd);
            if flips.is_empty() {
                prop_assert_eq!(&burst, &plain, "{}", name);
            }
            results.push((name, rd, burst, rx.counters));
        }
        let (first, d0, f0, c0) = &results[0];
        for (name, d, f, c) in &results[1..] {
            prop_assert_eq!(d, d0, "{} vs {}", name, first);
            prop_assert_eq!(c, c0, "{} vs {}", name, first);
            for ((a, b), disp) in f.iter().zip(f0).zip(d) {
                if *disp == Disposition::Forward {
                    prop_assert_eq!(a, b, "{} vs {}", name, first);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// config and static key files.

fn config_one(text: &str) {
    let (r, used) = peak_alloc(|| Config::parse(text));
    assert!(used <= alloc_bound(text.len()), "{used} octets for {} of text", text.len());
    if let Err(e) = r {
        assert!(!e.key.is_empty(), "an error names a key: {e}");
        assert!(e.to_string().starts_with(&e.key), "{e}");
    }
}

/// Regression (found by `config_lines` and `config_text`): a line with nothing before its `=`
/// (`= 3`) or a table header with no name (`[`) gave a ConfigError with an empty key.
#[test]
fn config_error_without_a_key() {
    for text in ["= 3\n", "[\0", "[]\n"] {
        let e = Config::parse(text).unwrap_err();
        assert!(!e.key.is_empty(), "{text:?}: {e}");
    }
}

#[test]
fn config_seeds() {
    for (name, seed) in corpus("config") {
        let text = String::from_utf8(seed).unwrap();
        assert!(Config::parse(&text).is_ok(), "{name}: {:?}", Config::parse(&text).err());
        config_one(&text);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_text(bytes in input("config", 200)) {
        config_one(&String::from_utf8_lossy(&bytes));
    }

    /// Line-level changes keep most of the file valid TOML, so the checks behind the syntax run.
    #[test]
    fn config_lines(
        seed in prop::sample::select(corpus("config")),
        drops in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), "[a-z_]{0,12}( = )?[-\"0-9a-z:.,\\[\\]{}]{0,24}"), 0..4),
    ) {
        let text = String::from_utf8(seed.1).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for d in drops {
            if !lines.is_empty() {
                lines.remove(d.index(lines.len()));
            }
        }
        for (at, line) in edits {
            let k = at.index(lines.len() + 1);
            lines.insert(k, line);
        }
        config_one(&lines.join("\n"));
    }
}

/// The values of `sak = "..."` lines: the secrets a key file error must never repeat.
fn saks_in(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "sak")
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| v.len() >= 8)
        .collect()
}

fn static_keys_one(text: &str) {
    for suite in CipherSuite::ALL {
        let (r, used) = peak_alloc(|| StaticKeys::parse(text, suite).map(|k| (k.tx.len(), k.rx.len())));
        assert!(used <= alloc_bound(text.len()));
        if let Err(e) = r {
            for sak in saks_in(text) {
                assert!(!e.to_string().contains(&sak), "error shows a SAK");
            }
        }
    }
}

#[test]
fn static_keys_seeds() {
    for (name, seed) in corpus("static_keys") {
        let text = String::from_utf8(seed).unwrap();
        assert!(CipherSuite::ALL.iter().any(|s| StaticKeys::parse(&text, *s).is_ok()), "{name}");
        static_keys_one(&text);
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn static_keys(bytes in input("static_keys", 200)) {
        static_keys_one(&String::from_utf8_lossy(&bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// ctl_proto: control socket messages.

fn ctl_one(bytes: &[u8]) {
    let ((req, srv), used) =
        peak_alloc(|| (serde_json::from_slice::<RequestMsg>(bytes), serde_json::from_slice::<ServerMsg>(bytes)));
    assert!(used <= alloc_bound(bytes.len()));
    if let Ok(m) = req {
        let text = serde_json::to_string(&m).unwrap();
        let again: RequestMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), text, "round trip");
        // A SAK travels in the message but never in its Debug form.
        let debug = format!("{m:?}");
        if let Some(sak) = sak_field(&text) {
            assert!(sak.len() < 8 || !debug.contains(&sak), "Debug shows the SAK");
        }
    }
    if let Ok(m) = srv {
        let text = serde_json::to_string(&m).unwrap();
        let again: ServerMsg = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), text, "round trip");
    }
}

fn sak_field(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v.get("req")?.get("sak")?.as_str().map(str::to_owned)
}

#[test]
fn ctl_proto_seeds() {
    for (name, seed) in corpus("ctl_proto") {
        let ok =
            serde_json::from_slice::<RequestMsg>(&seed).is_ok() || serde_json::from_slice::<ServerMsg>(&seed).is_ok();
        assert!(ok, "{name}");
        ctl_one(&seed);
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn ctl_proto(bytes in input("ctl_proto", 300)) {
        ctl_one(&bytes);
    }
}

/// A message nested far deeper than serde_json's recursion limit, and one made of a single
/// enormous number: refused without a panic or a large allocation.
#[test]
fn ctl_proto_deep_and_long() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    ctl_one(deep.as_bytes());
    let long = format!("{{\"id\":{}}}", "9".repeat(60_000));
    ctl_one(long.as_bytes());
}
