//! `pcap-decrypt --ckn --cak` on captures synthesized from two sans-IO participants: their
//! MKPDUs and the frames their SecYs protect with the SAKs MKA agreed, rekeys included, written
//! to a pcap in wire order; plus the argument checks of the CKN/CAK form.

use std::sync::Arc;
use std::time::{Duration, Instant};

use macsec_dataplane::pcap_decrypt::pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use macsec_dataplane::pcap_decrypt::pcap_file::DataLink;
use macsec_dataplane::secy::{CipherSuite, Pn, RingBackend, SaParams, Sci, Secy, SecyConfig, TxVerdict};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::mka::participant::{DpCommand, MkaConfig, Participant, RekeyReason};

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);
const CKN: &str = "6d61637365632d706565722d746573742d636b6e";

fn cak() -> Cak {
    Cak::from_hex(&"0123456789abcdef".repeat(4)).unwrap()
}

/// One appliance: its participant and the SecY its Tx commands drive.
struct Node {
    p: Participant<StdRng>,
    secy: Secy,
    sci: Sci,
}

impl Node {
    fn new(sci: Sci, priority: u8, suite: CipherSuite, seed: u64, now: Instant) -> Node {
        let cfg = MkaConfig {
            sci,
            mac: sci.mac(),
            priority,
            cipher_suite: suite,
            rekey_interval: None,
            pn_threshold: 0xc000_0000,
        };
        let ckn = Ckn::from_hex(CKN).unwrap();
        let p = Participant::new(cfg, ckn, cak(), StdRng::seed_from_u64(seed), now);
        Node { p, secy: Secy::new(SecyConfig::new(suite), sci, Arc::new(RingBackend)), sci }
    }

    /// Applies the Tx SA commands (Rx is the tool's job here).
    fn apply(&mut self) {
        while let Some(c) = self.p.poll_dataplane_command() {
            match c {
                DpCommand::InstallTxSa { an, next_pn, ssci, salt, sak } => {
                    self.secy.install_tx_sa(&sak, &SaParams { an, pn: Pn(next_pn), ssci, salt }).unwrap();
                }
                DpCommand::EnableTxSa { an } => self.secy.enable_tx_sa(an).unwrap(),
                DpCommand::DeleteTxSa { an } if self.secy.tx_sc.encoding_an() != Some(an) => self.secy.remove_tx_sa(an),
                _ => {}
            }
        }
    }
}

/// A capture being written, and the plaintexts of the MACsec frames in it, in order.
struct Capture {
    w: PcapWriter<Vec<u8>>,
    plain: Vec<Vec<u8>>,
    t: Duration,
}

impl Capture {
    fn new() -> Capture {
        let header = PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() };
        Capture { w: PcapWriter::with_header(Vec::new(), header).unwrap(), plain: Vec::new(), t: Duration::ZERO }
    }

    fn write(&mut self, f: &[u8]) {
        self.t += Duration::from_micros(10);
        self.w.write_packet(&PcapPacket::new(self.t, f.len() as u32, f)).unwrap();
    }
}

/// Delivers the MKPDUs between the two nodes until quiet, writing each to the capture.
fn exchange(nodes: &mut [Node; 2], now: Instant, cap: &mut Capture) {
    for _ in 0..20 {
        let mut frames = Vec::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(f) = n.p.poll_transmit() {
                frames.push((i, f));
            }
        }
        if frames.is_empty() {
            break;
        }
        for (from, f) in frames {
            cap.write(&f);
            let _ = nodes[1 - from].p.handle_mkpdu(now, &f);
        }
        for n in nodes.iter_mut() {
            n.apply();
        }
    }
}

/// Every node with an encoding SA sends one IPv4-ish frame to the other.
fn send_data(nodes: &mut [Node; 2], cap: &mut Capture, seq: &mut u8) {
    for i in 0..2 {
        if nodes[i].secy.tx_sc.encoding_an().is_none() {
            continue;
        }
        *seq = seq.wrapping_add(1);
        let (src, dst) = (nodes[i].sci.mac(), nodes[1 - i].sci.mac());
        let plain = [&dst[..], &src[..], &[0x08, 0x00], &[*seq; 60][..]].concat();
        let mut f = plain.clone();
        assert_eq!(nodes[i].secy.protect(&mut f), Ok(TxVerdict::Encrypted));
        cap.write(&f);
        cap.plain.push(plain);
    }
}

/// Two participants secure, then the key server rekeys `rekeys` times (ANs wrap after 4), with
/// traffic both ways all along. Returns the capture and the plaintexts.
fn synthesize(suite: CipherSuite, rekeys: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let t0 = Instant::now();
    let mut nodes = [Node::new(SCI_A, 16, suite, 1, t0), Node::new(SCI_B, 32, suite, 2, t0)];
    let mut cap = Capture::new();
    let (mut now, mut seq) = (t0, 0u8);
    for step in 0..(40 + 60 * rekeys) {
        now += Duration::from_millis(100);
        if step >= 40 && (step - 40) % 60 == 0 {
            nodes[0].p.request_rekey(RekeyReason::Operator);
        }
        for n in nodes.iter_mut() {
            if n.p.poll_timeout() <= now {
                n.p.handle_timeout(now);
            }
        }
        exchange(&mut nodes, now, &mut cap);
        send_data(&mut nodes, &mut cap, &mut seq);
    }
    assert!(nodes.iter().all(|n| n.p.is_secured()), "{suite}: not secured");
    assert_eq!(nodes[0].p.status().stats.rekeys[4], rekeys as u64, "{suite}");
    (cap.w.into_writer(), cap.plain)
}

fn frames(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut r = PcapReader::new(pcap).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.unwrap().data.into_owned());
    }
    v
}

#[test]
fn learns_every_sak_from_the_mkpdus_and_decrypts_everything() {
    for suite in CipherSuite::ALL {
        let (pcap, plain) = synthesize(suite, 5);
        let mut out = Vec::new();
        let r = decrypt_with_cak(&Ckn::from_hex(CKN).unwrap(), &cak(), false, &pcap[..], &mut out).unwrap();
        let mka = r.mka.unwrap();
        assert_eq!((r.macsec, r.ok, r.invalid), (plain.len() as u64, plain.len() as u64, 0), "{suite}: {r:?}");
        assert!(r.macsec > 100, "{suite}: {r:?}");
        assert_eq!((mka.saks, mka.icv_failures, mka.sak_errors, mka.malformed), (6, 0, 0, 0), "{suite}: {mka:?}");
        assert_eq!(mka.mkpdus, r.other, "{suite}: every other frame is an authentic MKPDU");
        // The decrypted frames are the plaintexts, in order; the MKPDUs are copied unchanged.
        let eapol = 0x888e_u16.to_be_bytes();
        let data: Vec<Vec<u8>> = frames(&out).into_iter().filter(|f| f[12..14] != eapol).collect();
        assert_eq!(data, plain, "{suite}");
    }
}

#[test]
fn wrong_cak_or_ckn_learns_nothing_and_every_frame_fails() {
    let (pcap, plain) = synthesize(CipherSuite::GcmAesXpn256, 1);
    let ckn = Ckn::from_hex(CKN).unwrap();
    let wrong = Cak::from_hex(&"0123456789abcdef".repeat(2)).unwrap();
    let r = decrypt_with_cak(&ckn, &wrong, false, &pcap[..], Vec::new()).unwrap();
    let mka = r.mka.unwrap();
    assert_eq!((r.ok, r.invalid), (0, plain.len() as u64));
    assert_eq!((mka.mkpdus, mka.saks), (0, 0));
    assert_eq!(mka.icv_failures, r.other);
    let other = Ckn::from_hex("0102").unwrap();
    let r = decrypt_with_cak(&other, &cak(), false, &pcap[..], Vec::new()).unwrap();
    assert_eq!((r.ok, r.mka.unwrap().other_ckn), (0, r.other));
}

#[test]
fn an_altered_frame_or_mkpdu_is_caught() {
    let (pcap, plain) = synthesize(CipherSuite::GcmAes128, 0);
    let mut all = frames(&pcap);
    let eapol = 0x888e_u16.to_be_bytes();
    let first_data = all.iter().position(|f| f[12..14] != eapol).unwrap();
    let last = all[first_data].len() - 1;
    all[first_data][last] ^= 1;
    // An MKPDU after the key was learned: its ICV fails, the rest goes on.
    let late_mkpdu = all.iter().rposition(|f| f[12..14] == eapol).unwrap();
    all[late_mkpdu][30] ^= 1; // in the MI of the Basic Parameter Set
    let mut w =
        PcapWriter::with_header(Vec::new(), PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() }).unwrap();
    for f in &all {
        w.write_packet(&PcapPacket::new(Duration::ZERO, f.len() as u32, f)).unwrap();
    }
    let r = decrypt_with_cak(&Ckn::from_hex(CKN).unwrap(), &cak(), false, &w.into_writer()[..], Vec::new()).unwrap();
    assert_eq!((r.ok, r.invalid), (plain.len() as u64 - 1, 1));
    assert_eq!(r.mka.unwrap().icv_failures, 1);
    // Integrity only expected, but the frames are encrypted: all fail.
    let r = decrypt_with_cak(&Ckn::from_hex(CKN).unwrap(), &cak(), true, &pcap[..], Vec::new()).unwrap();
    assert_eq!(r.ok, 0);
}

use super::args_tests::{args, err};

#[test]
fn ckn_and_cak_arguments() {
    let cak = "0123456789abcdef".repeat(4);
    let a = parse(&args(&format!("--ckn {CKN} --cak {cak} --integrity-only in.pcap out.pcap"))).unwrap();
    assert!(matches!(a.keys, Keys::Mka { integrity_only: true, .. }));
    assert_eq!(
        err(&format!("--ckn abc --cak {cak} a b")),
        "--ckn: expected 2 to 64 hex digits (an even count), got 3 digits"
    );
    assert_eq!(
        err(&format!("--ckn {} --cak {cak} a b", "ab".repeat(33))),
        "--ckn: expected 2 to 64 hex digits (an even count), got 66 digits"
    );
    assert!(err(&format!("--ckn zz --cak {cak} a b")).ends_with("got a character that is not a hex digit"));
    assert_eq!(
        err(&format!("--ckn {CKN} --cak {} a b", &cak[..63])),
        "--cak: expected 32 or 64 hex digits, got 63 digits"
    );
    let zz = "zz".repeat(16);
    let e = err(&format!("--ckn {CKN} --cak {zz} a b"));
    assert_eq!(e, "--cak: expected 32 or 64 hex digits, got a character that is not a hex digit");
    assert_eq!(err(&format!("--ckn {CKN} a b")), "--cak: expected 32 or 64 hex digits (or --cak-file), got nothing");
    assert!(err(&format!("--cak {cak} a b")).starts_with("--ckn: expected"));
    assert!(err(&format!("--ckn {CKN} --cak {cak} --cipher-suite gcm-aes-128 a b")).starts_with("--cipher-suite/"));
    assert!(err(&format!("--ckn {CKN} --cak {cak} --sak {} a b", "00".repeat(16))).starts_with("--sak: either"));
    assert!(err(&format!("--ckn {CKN} --cak {cak} a")).starts_with("files:"));
    // --cak-file: the key is read from the file; a bad one is named and not echoed.
    let dir = std::env::temp_dir().join(format!("pcap-decrypt-cak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (good, bad) = (dir.join("good"), dir.join("bad"));
    std::fs::write(&good, format!("{cak}\n")).unwrap();
    std::fs::write(&bad, format!("{}\n", &cak[..40])).unwrap();
    assert!(parse(&args(&format!("--ckn {CKN} --cak-file {} a b", good.display()))).is_ok());
    let e = err(&format!("--ckn {CKN} --cak-file {} a b", bad.display()));
    assert_eq!(e, "--cak-file: expected 32 or 64 hex digits, got 40 digits");
    assert!(err(&format!("--ckn {CKN} --cak-file {} a b", dir.join("none").display()))
        .starts_with("--cak-file: expected a readable file"));
    std::fs::remove_dir_all(&dir).unwrap();
    for e in [e, err(&format!("--ckn {CKN} --cak {} a b", &cak[..63]))] {
        assert!(!e.contains("0123456789"), "{e}");
    }
}
