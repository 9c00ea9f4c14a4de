//! Two appliances' `Conn`s wired together through their participants' MKPDUs, with a fake
//! clock and a fake dataplane per side that applies the requests as the real one would: the
//! keychain falls back from a wrong newest CAK to the previous working one, and a CAK both sides
//! then get becomes principal without a moment where a transmitted key has no receiver.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use macsec_dataplane::appliance::config::Config;

use super::*;

const SCI_A: Sci = Sci(0x0200_0000_000a_0001);
const SCI_B: Sci = Sci(0x0200_0000_000b_0001);

fn conn(sci: Sci, priority: u8) -> Conn {
    let text = format!(
        "[[connections]]\nid = \"dxcon-sim\"\nhost_port = \"net_null0\"\nwire_port = \"net_null1\"\n\
         cipher_suite = \"gcm-aes-xpn-256\"\nencryption_mode = \"must_encrypt\"\nkey_source = \"control\"\n\
         key_server_priority = {priority}\n"
    );
    let cfg = Config::parse(&text).unwrap_or_else(|e| panic!("test config: {e}")).connections.remove(0);
    let secy = SecyRef { connection: cfg.id.clone(), member: 0 };
    Conn::new(cfg, secy, sci, sci.mac())
}

fn pair(ckn: &str, cak: &str) -> (Ckn, Cak) {
    (Ckn::from_hex(ckn).unwrap(), Cak::from_hex(cak).unwrap())
}

/// What one side's dataplane holds: SAK bytes by (peer SCI, AN) and by Tx AN, the encoding AN.
#[derive(Default, Debug)]
struct FakeDp {
    rx: HashMap<(String, u8), Vec<u8>>,
    tx: HashMap<u8, Vec<u8>>,
    enabled: Option<u8>,
    /// Requests the real dataplane would refuse (enable of an AN without a Tx SA).
    refused: Vec<String>,
    tx_switches: usize,
    tx_installs: usize,
}

impl FakeDp {
    fn apply(&mut self, c: &mut Conn) {
        for r in c.out.drain(..) {
            match r {
                Request::InstallRxSa { peer_sci, an, sak, .. } => {
                    self.rx.insert((peer_sci, an), sak.to_sak().unwrap().expose().to_vec());
                }
                Request::DeleteRxSa { peer_sci, an, .. } => {
                    self.rx.remove(&(peer_sci, an));
                }
                Request::InstallTxSa { an, sak, .. } => {
                    self.tx_installs += 1;
                    self.tx.insert(an, sak.to_sak().unwrap().expose().to_vec());
                }
                Request::EnableTxSa { an, .. } if self.tx.contains_key(&an) => {
                    self.tx_switches += usize::from(self.enabled != Some(an));
                    self.enabled = Some(an);
                }
                Request::EnableTxSa { an, .. } => self.refused.push(format!("enable AN {an} without a Tx SA")),
                Request::DeleteTxSa { an, .. } => {
                    self.tx.remove(&an);
                    if self.enabled == Some(an) {
                        self.enabled = None;
                    }
                }
                Request::ClearSas { .. } => {
                    (self.rx, self.tx, self.enabled) = (HashMap::new(), HashMap::new(), None);
                }
                _ => {}
            }
        }
    }

    /// The key frames are sent with, if any.
    fn tx_key(&self) -> Option<(u8, &Vec<u8>)> {
        let an = self.enabled?;
        self.tx.get(&an).map(|k| (an, k))
    }
}

/// Both appliances and their dataplanes.
struct Lab {
    a: Conn,
    b: Conn,
    da: FakeDp,
    db: FakeDp,
    now: Instant,
    /// Times a side's `encryption_up()` went from true to false after any single event.
    drops: usize,
}

impl Lab {
    fn new() -> Lab {
        let (a, b) = (conn(SCI_A, 16), conn(SCI_B, 32));
        Lab { a, b, da: FakeDp::default(), db: FakeDp::default(), now: Instant::now(), drops: 0 }
    }

    /// Whatever `tx` sends with, `rx` has an Rx SA for: no frame of ours would be dropped.
    fn hitless(tx: &FakeDp, tx_sci: Sci, rx: &FakeDp) -> Result<(), String> {
        let Some((an, key)) = tx.tx_key() else { return Ok(()) };
        match rx.rx.get(&(format!("{:016x}", tx_sci.0), an)) {
            Some(k) if k == key => Ok(()),
            Some(_) => Err(format!("{tx_sci:?} sends on AN {an} with a key the peer's Rx SA does not hold")),
            None => Err(format!("{tx_sci:?} sends on AN {an} and the peer has no Rx SA for it")),
        }
    }

    /// Delivers MKPDUs both ways until quiet; after every round both dataplanes are applied and
    /// checked.
    fn exchange(&mut self) {
        for _ in 0..20 {
            let (fa, fb) = (self.a.drain_transmit(), self.b.drain_transmit());
            if fa.is_empty() && fb.is_empty() {
                break;
            }
            for f in &fa {
                let up = self.b.encryption_up();
                self.b.handle_mkpdu(self.now, f);
                self.drops += usize::from(up && !self.b.encryption_up());
            }
            for f in &fb {
                let up = self.a.encryption_up();
                self.a.handle_mkpdu(self.now, f);
                self.drops += usize::from(up && !self.a.encryption_up());
            }
            self.da.apply(&mut self.a);
            self.db.apply(&mut self.b);
            Self::hitless(&self.da, SCI_A, &self.db).unwrap();
            Self::hitless(&self.db, SCI_B, &self.da).unwrap();
        }
    }

    /// Runs `secs` of protocol time in 100 ms steps; `each` sees the lab after every step.
    fn run(&mut self, secs: u64, mut each: impl FnMut(&Lab)) {
        for _ in 0..secs * 10 {
            self.now += Duration::from_millis(100);
            let up = (self.a.encryption_up(), self.b.encryption_up());
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
            self.drops += usize::from(up.0 && !self.a.encryption_up()) + usize::from(up.1 && !self.b.encryption_up());
            self.da.apply(&mut self.a);
            self.db.apply(&mut self.b);
            self.exchange();
            each(self);
        }
    }

    /// Both sides secured with CKN1 and a CAK of octet `cak`, after 5 s of protocol time.
    fn secured(cak: &str) -> (Lab, Ckn) {
        let mut lab = Lab::new();
        let cak = cak.repeat(32);
        lab.add(pair(CKN1, &cak), pair(CKN1, &cak), 1);
        lab.run(5, |_| {});
        let ckn1 = Ckn::from_hex(CKN1).unwrap();
        lab.assert_consistent(&ckn1);
        (lab, ckn1)
    }

    fn add(&mut self, side_a: (Ckn, Cak), side_b: (Ckn, Cak), at: u64) {
        self.a.add_key(side_a.0, side_a.1, at, self.now);
        self.b.add_key(side_b.0, side_b.1, at, self.now);
        self.a.pump();
        self.b.pump();
    }

    /// Both send with the principal's key, each receives with what the other sends, and no
    /// request was refused.
    fn assert_consistent(&self, principal: &Ckn) {
        for (c, dp, other, osci) in [(&self.a, &self.da, &self.db, SCI_B), (&self.b, &self.db, &self.da, SCI_A)] {
            assert_eq!(c.principal.as_ref(), Some(principal), "{:?}", c.sci);
            assert!(c.encryption_up());
            let k = c.keys.iter().find(|k| &k.ckn == principal).unwrap();
            assert!(k.participant.is_secured() && k.worked);
            assert_eq!(dp.enabled, k.tx_enabled.map(|an| an.get()), "the principal's Tx SA is the encoding SA");
            let (an, key) = dp.tx_key().expect("a Tx SA is enabled");
            let from_peer = other.tx_key().expect("the peer sends");
            assert_eq!(dp.rx.get(&(format!("{:016x}", osci.0), from_peer.0)), Some(from_peer.1));
            assert_eq!(key.len(), 32, "XPN-256 SAK");
            let _ = an;
            assert!(dp.refused.is_empty(), "{:?}", dp.refused);
        }
    }
}

const CKN1: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
const CKN2: &str = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";
const CKN3: &str = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";

#[test]
fn wrong_newest_cak_falls_back_to_the_working_key_then_a_shared_new_key_takes_over() {
    let mut lab = Lab::new();
    let cak1 = "11".repeat(32);
    lab.add(pair(CKN1, &cak1), pair(CKN1, &cak1), 1);
    // Key 2 is newer, but B's CAK for that CKN differs from A's.
    lab.add(pair(CKN2, &"22".repeat(32)), pair(CKN2, &"23".repeat(32)), 2);
    let mut down_steps = 0;
    lab.run(10, |l| down_steps += usize::from(l.a.encryption_up() != l.b.encryption_up()));
    let ckn1 = Ckn::from_hex(CKN1).unwrap();
    lab.assert_consistent(&ckn1);
    for c in [&lab.a, &lab.b] {
        let k2 = c.keys.iter().find(|k| k.ckn.to_string() == CKN2).unwrap();
        assert!(!k2.worked && !k2.participant.is_secured());
        assert!(k2.participant.status().stats.icv_failures > 0, "key 2's MKPDUs fail the ICV");
        assert_eq!(c.keys[0].ckn.to_string(), CKN2, "key 2 is the newest, tried first");
    }
    // Key 2 never installed anything: only key 1's ANs are in use.
    assert!(lab.da.rx.len() <= 2 && lab.db.rx.len() <= 2, "{:?} {:?}", lab.da.rx.keys(), lab.db.rx.keys());
    let first_switches = (lab.da.tx_switches, lab.db.tx_switches);

    // Both get the same key 3: it becomes principal, make before break (checked every round).
    let cak3 = "33".repeat(32);
    lab.add(pair(CKN3, &cak3), pair(CKN3, &cak3), 3);
    let mut always_up = true;
    lab.run(10, |l| always_up &= l.a.encryption_up() && l.b.encryption_up());
    assert!(always_up, "encryption stayed up across the CAK switch");
    let ckn3 = Ckn::from_hex(CKN3).unwrap();
    lab.assert_consistent(&ckn3);
    assert_eq!((lab.da.tx_switches, lab.db.tx_switches), (first_switches.0 + 1, first_switches.1 + 1));
    let k1 = lab.a.keys.iter().find(|k| k.ckn == ckn1).unwrap();
    let k3 = lab.a.keys.iter().find(|k| k.ckn == ckn3).unwrap();
    assert_ne!(k1.tx_enabled, k3.tx_enabled, "participants of one SecY use different ANs");
    assert!(down_steps < 20, "both sides came up together");
}

#[test]
fn the_principal_keeps_its_sas_while_the_newest_key_never_works() {
    // A key 2 that only one side has (the peer never answers for it): key 1 stays principal
    // for good, through rekeys, and nothing of key 2 reaches the dataplane.
    let (mut lab, ckn1) = Lab::secured("44");
    lab.a.add_key(Ckn::from_hex(CKN2).unwrap(), Cak::from_hex(&"55".repeat(32)).unwrap(), 2, lab.now);
    for _ in 0..3 {
        assert_eq!(lab.a.rekey(), Rekey::Requested, "the principal can be rekeyed");
        lab.run(6, |l| assert!(l.a.encryption_up() && l.b.encryption_up()));
        lab.assert_consistent(&ckn1);
    }
    let k2 = lab.a.keys.iter().find(|k| k.ckn.to_string() == CKN2).unwrap();
    assert!(k2.rx.is_empty() && k2.tx.is_none() && !k2.worked);
    assert!(lab.da.tx_switches >= 4, "three rekeys switched the Tx SA: {}", lab.da.tx_switches);
}

#[test]
fn a_sak_rekey_keeps_encryption_up_and_installs_each_tx_sa_once() {
    // The old Tx SA carries traffic until the new one is enabled: the principal does not drop
    // (which logged "encryption down" and flipped macsec_mka_encryption_up on every rekey) and
    // is not re-chosen (which sent the new Tx SA's install a second time).
    let (mut lab, ckn1) = Lab::secured("66");
    assert_eq!(lab.drops, 0, "no drop while coming up");
    let before = [(lab.da.tx_installs, lab.da.tx_switches), (lab.db.tx_installs, lab.db.tx_switches)];
    // A has the lower priority value: it is key server, and B has no way to ask for a SAK.
    assert_eq!(lab.b.rekey(), Rekey::PeerIsKeyServer(SCI_A));
    for _ in 0..3 {
        assert_eq!(lab.a.rekey(), Rekey::Requested);
        lab.run(6, |_| {});
        lab.assert_consistent(&ckn1);
    }
    assert_eq!(lab.drops, 0, "encryption_up() never dropped during the rekeys");
    for (dp, (installs, switches)) in [&lab.da, &lab.db].into_iter().zip(before) {
        assert_eq!(dp.tx_switches - switches, 3, "each rekey switched the Tx SA once");
        assert_eq!(dp.tx_installs - installs, 3, "each new Tx SA was installed once");
        assert!(dp.tx.len() <= 2, "old Tx SAs are deleted: {:?}", dp.tx.keys());
    }
}

#[test]
fn a_rekey_requested_before_the_last_sak_is_in_use_waits_for_it() {
    // A second SAK distributed before every peer transmits with the first would retire the SAK
    // that still carries traffic (the peer deletes its Rx SA while we send on it). The request
    // is kept and served once the latest SAK is in use by all (802.1X-2020 9.8).
    let (mut lab, ckn1) = Lab::secured("77");
    let kn = |c: &Conn| c.keys[0].participant.status().latest_kn.unwrap_or(0);
    let kn0 = kn(&lab.a);
    // The participant's next step, without waiting for its timer.
    let step = |c: &mut Conn, now| {
        c.keys[0].participant.handle_timeout(now);
        c.pump();
    };
    assert_eq!(lab.a.rekey(), Rekey::Requested);
    step(&mut lab.a, lab.now);
    assert_eq!(kn(&lab.a), kn0 + 1, "the first rekey distributes at once");
    assert_eq!(lab.a.rekey(), Rekey::Requested, "a second request is taken");
    step(&mut lab.a, lab.now);
    assert_eq!(kn(&lab.a), kn0 + 1, "but not served while the peer has not switched");
    lab.da.apply(&mut lab.a);
    lab.exchange(); // checks after every round that whatever A sends, B can validate
    lab.run(6, |_| {});
    assert_eq!((kn(&lab.a), kn(&lab.b)), (kn0 + 2, kn0 + 2), "then it is served");
    lab.assert_consistent(&ckn1);
    assert_eq!(lab.drops, 0);
}

#[test]
fn an_rx_sa_taken_over_by_a_newer_key_is_not_deleted_by_the_older_one() {
    // After a CAK switch the key server may give the new key an AN that the peer's participant
    // for the old key still holds: the new install replaces that Rx SA in the dataplane, and the
    // old participant's later retire of "its" SA must not delete the new one.
    let mut c = conn(SCI_A, 16);
    let now = Instant::now();
    c.add_key(Ckn::from_hex(CKN1).unwrap(), Cak::from_hex(&"88".repeat(32)).unwrap(), 1, now);
    c.add_key(Ckn::from_hex(CKN2).unwrap(), Cak::from_hex(&"99".repeat(32)).unwrap(), 2, now);
    let (new, old) = (0, 1); // newest first
    let an = An::new(3).unwrap();
    let install = || DpCommand::InstallRxSa {
        peer: SCI_B,
        an,
        lowest_pn: 1,
        ssci: None,
        salt: None,
        sak: macsec_dataplane::secy::Sak::from_slice(&[0x5a; 32]).unwrap(),
    };
    c.apply(old, install());
    c.apply(new, install());
    assert_eq!(c.out.len(), 2);
    c.out.clear();
    c.apply(old, DpCommand::DeleteRxSa { peer: SCI_B, an });
    assert!(c.out.is_empty(), "the old key's delete of a slot it lost: {:?}", c.out.len());
    assert!(c.remove_key(&Ckn::from_hex(CKN1).unwrap()), "the old key is CKN1");
    c.out.retain(|r| matches!(r, Request::DeleteRxSa { .. }));
    assert!(c.out.is_empty(), "removing the old key leaves the new key's Rx SA");
    assert_eq!(c.keys[0].ckn.to_string(), CKN2);
    c.apply(0, DpCommand::DeleteRxSa { peer: SCI_B, an });
    assert!(matches!(c.out.as_slice(), [Request::DeleteRxSa { an: 3, .. }]), "the owner's delete goes through");
}
