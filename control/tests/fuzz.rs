//! Fuzz targets of the control plane on stable Rust (proptest), `FUZZ_CASES` cases each (256 by
//! default; `make fuzz` runs many more). Inputs are random bytes and the seeds of
//! `fuzz/corpus/<target>/` mutated (see `fuzz/README.md`); every seed is also replayed as it is.
//!
//! - `mkpdu`: `Mkpdu::parse` never panics and allocates at most a small multiple of its input;
//!   what parses emits back to the same MKPDU (less unknown sets and the ICV Indicator, which
//!   emit leaves out) under a valid ICV.
//! - `participant`: a live participant fed mutated MKPDUs, most of them re-signed with its CAK so
//!   they pass the ICV and reach the protocol logic: no panic, the peer table stays bounded.
//! - `operator_proto`: operator requests never panic; `Debug` never shows the CAK; replies
//!   round-trip. CAK/CKN hex parsing never panics nor echoes its input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../fuzz/common.rs"]
mod common;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use common::{alloc_bound, config, corpus, input, mutate, op, peak_alloc};
use macsec_control::mka::icv;
use macsec_control::mka::kdf;
use macsec_control::mka::keys::{Cak, Ckn, Ick};
use macsec_control::mka::mkpdu::Mkpdu;
use macsec_control::mka::participant::{MkaConfig, Participant, MAX_PEERS};
use macsec_control::operator_proto::{OpReply, OpRequest};
use macsec_dataplane::secy::{CipherSuite, Sci};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[global_allocator]
static METER: common::Meter = common::Meter;

fn ick() -> Ick {
    kdf::derive_ick(&Cak::from_hex(&"ab".repeat(32)).unwrap(), &Ckn::from_hex(&"cd".repeat(32)).unwrap())
}

// ---------------------------------------------------------------------------------------------
// mkpdu

fn mkpdu_one(frame: &[u8], ick: &Ick) {
    let (parsed, used) = peak_alloc(|| Mkpdu::parse(frame).map(|p| (p.mkpdu, p.src)));
    assert!(used <= alloc_bound(frame.len()), "{used} octets for a {}-octet frame", frame.len());
    let Ok((m, src)) = parsed else { return };
    let again = m.emit(src, ick);
    let back = Mkpdu::parse(&again).unwrap_or_else(|e| panic!("re-emitted MKPDU does not parse: {e}"));
    assert!(back.verify_icv(ick));
    let mut want = m;
    want.unknown_sets.clear();
    want.icv_indicator = false;
    assert_eq!(back.mkpdu, want, "parse → emit → parse");
}

#[test]
fn mkpdu_seeds() {
    let ick = ick();
    for (name, seed) in corpus("mkpdu") {
        assert!(Mkpdu::parse(&seed).is_ok(), "{name}");
        mkpdu_one(&seed, &ick);
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn mkpdu(frame in input("mkpdu", 200)) {
        mkpdu_one(&frame, &ick());
    }
}

/// An EAPOL body length of 65535 over a short frame, and a 4095-octet parameter set claim:
/// refused without allocating what they claim.
#[test]
fn mkpdu_length_fields_claiming_more() {
    let (_, seed) = corpus("mkpdu").remove(0);
    for (at, v) in [(16usize, [0xffu8, 0xff]), (20, [0x0f, 0xff]), (16, [0, 0])] {
        let mut f = seed.clone();
        f[at..at + 2].copy_from_slice(&v);
        let (r, used) = peak_alloc(|| Mkpdu::parse(&f).map(|p| p.mkpdu));
        assert!(r.is_err());
        assert!(used < 4096, "{used}");
    }
}

// ---------------------------------------------------------------------------------------------
// participant

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);

fn node(sci: Sci, seed: u64, now: Instant) -> Participant<StdRng> {
    let cfg = MkaConfig {
        sci,
        mac: sci.mac(),
        priority: 16,
        cipher_suite: CipherSuite::GcmAesXpn256,
        rekey_interval: None,
        pn_threshold: 0xc000_0000,
    };
    let cak = Cak::from_hex(&"ab".repeat(32)).unwrap();
    Participant::new(cfg, Ckn::from_hex(&"cd".repeat(32)).unwrap(), cak, StdRng::seed_from_u64(seed), now)
}

/// A and B secured; returns them with every MKPDU B sent (the seeds of the participant target).
fn pair() -> (Participant<StdRng>, Participant<StdRng>, Vec<Vec<u8>>, Instant) {
    let t0 = Instant::now();
    let (mut a, mut b) = (node(SCI_A, 1, t0), node(SCI_B, 2, t0));
    let mut seen = Vec::new();
    let mut now = t0;
    for _ in 0..60 {
        now += Duration::from_millis(100);
        for p in [&mut a, &mut b] {
            if p.poll_timeout() <= now {
                p.handle_timeout(now);
            }
        }
        for _ in 0..10 {
            let (fa, fb): (Vec<_>, Vec<_>) = (
                std::iter::from_fn(|| a.poll_transmit()).collect(),
                std::iter::from_fn(|| b.poll_transmit()).collect(),
            );
            if fa.is_empty() && fb.is_empty() {
                break;
            }
            for f in &fa {
                let _ = b.handle_mkpdu(now, f);
            }
            for f in &fb {
                let _ = a.handle_mkpdu(now, f);
            }
            seen.extend(fa.into_iter().chain(fb));
        }
        while a.poll_dataplane_command().is_some() {}
        while b.poll_dataplane_command().is_some() {}
    }
    assert!(a.is_secured() && b.is_secured());
    (a, b, seen, now)
}

/// Sets the EAPOL body length and a valid ICV under `ick` (the frame's last 16 octets replaced).
fn resign(mut f: Vec<u8>, ick: &Ick) -> Vec<u8> {
    if f.len() < 18 + icv::ICV_LEN {
        return f;
    }
    f.truncate(f.len() - icv::ICV_LEN);
    let len = u16::try_from(f.len() - 18 + icv::ICV_LEN).unwrap_or(u16::MAX);
    f[16..18].copy_from_slice(&len.to_be_bytes());
    let icv = icv::compute(ick, &f);
    f.extend_from_slice(&icv);
    f
}

#[test]
fn participant() {
    let (a, _, seeds, now) = pair();
    let ick = ick();
    let state = RefCell::new((a, now));
    let strategy = (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::collection::vec(op(), 0..6),
        any::<bool>(),
        0u64..3000,
    );
    let mut runner = TestRunner::new(config());
    runner
        .run(&strategy, |(i, j, ops, sign, step_ms)| {
            let (a, now) = &mut *state.borrow_mut();
            *now += Duration::from_millis(step_ms);
            let f = mutate(&seeds[i.index(seeds.len())], &seeds[j.index(seeds.len())], &ops);
            let f = if sign { resign(f, &ick) } else { f };
            let _ = a.handle_mkpdu(*now, &f);
            if a.poll_timeout() <= *now {
                a.handle_timeout(*now);
            }
            while a.poll_transmit().is_some() {}
            while a.poll_dataplane_command().is_some() {}
            let st = a.status();
            prop_assert!(st.live_peers.len() + st.potential_peers.len() <= MAX_PEERS);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// operator_proto and key text

fn operator_one(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let (r, used) = peak_alloc(|| serde_json::from_str::<OpRequest>(&text).map(|r| format!("{r:?}")));
    assert!(used <= alloc_bound(text.len()));
    if let Ok(debug) = r {
        let cak = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("cak").and_then(|c| c.as_str()).map(str::to_owned));
        if let Some(cak) = cak.filter(|c| c.len() >= 8) {
            assert!(!debug.contains(&cak), "Debug shows the CAK");
        }
    }
    if let Ok(reply) = serde_json::from_str::<OpReply>(&text) {
        let again = serde_json::to_string(&reply).unwrap();
        let back: OpReply = serde_json::from_str(&again).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), again);
    }
    for t in [text.as_ref(), text.trim()] {
        // What must never come back is key material: a run of hex digits (the error's own words
        // can contain short inputs such as " expected ").
        let keyish = t.len() >= 8 && t.chars().all(|c| c.is_ascii_hexdigit());
        if let Err(e) = Cak::from_hex(t) {
            assert!(!keyish || !e.to_string().contains(t), "CAK error echoes its input");
        }
        if let Err(e) = Ckn::from_hex(t) {
            assert!(!keyish || !e.to_string().contains(t));
        }
    }
}

#[test]
fn operator_proto_seeds() {
    for (name, seed) in corpus("operator_proto") {
        let text = String::from_utf8(seed.clone()).unwrap();
        let ok = serde_json::from_str::<OpRequest>(&text).is_ok() || serde_json::from_str::<OpReply>(&text).is_ok();
        assert!(ok, "{name}");
        operator_one(&seed);
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn operator_proto(bytes in input("operator_proto", 200)) {
        operator_one(&bytes);
    }
}
