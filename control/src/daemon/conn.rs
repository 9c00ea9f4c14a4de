//! One connection in the control process: its keychain (up to 3 CKN/CAK pairs, each its own MKA
//! participant), the principal participant whose SAs carry traffic, and the translation of MKA's
//! SA commands into dataplane requests.
//!
//! Keychain (AWS semantics): the newest secured key is principal; while it is not secured, the
//! last key that worked stays principal. Every participant's Rx SAs are installed as soon as MKA
//! agrees on them, but only the principal's Tx SA is installed and enabled, so a CAK rotation is
//! make-before-break: the peer's Rx SA for the new key is in place before we transmit with it.
//! Participants of one SecY never use each other's ANs.

use std::time::Instant;

use macsec_dataplane::appliance::config::{Connection, EncryptionMode};
use macsec_dataplane::appliance::ctl_proto::{Request, SecretHex, SecyRef};
use macsec_dataplane::secy::{An, Sci};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::mka::keys::{Cak, Ckn};
use crate::mka::participant::{DpCommand, DpEvent, MkaConfig, Participant, RekeyReason, State};

/// A key of the keychain and its MKA participant.
pub struct KeyEntry {
    pub ckn: Ckn,
    pub associated_at: u64,
    pub participant: Participant<StdRng>,
    /// Rx SAs this participant has installed in the dataplane.
    rx: Vec<(Sci, An)>,
    /// Its latest Tx SA install (replayed when it becomes principal) and whether enabled.
    tx: Option<DpCommand>,
    tx_enabled: Option<An>,
    /// Whether MKA was ever secured with this key (it "worked").
    pub worked: bool,
}

impl KeyEntry {
    /// The AN of its enabled Tx SA (the one the dataplane sends on while this key is principal).
    pub fn encoding_an(&self) -> Option<An> {
        self.tx_enabled
    }
}

pub struct Conn {
    pub cfg: Connection,
    pub secy: SecyRef,
    pub sci: Sci,
    pub mac: [u8; 6],
    pub mode: EncryptionMode,
    pub keys: Vec<KeyEntry>,
    pub principal: Option<Ckn>,
    /// Dataplane requests to send, in order.
    pub out: Vec<Request>,
    /// From the dataplane's last status: the Tx SA's next PN and the highest Rx SA next PN.
    pub tx_next_pn: Option<u64>,
    pub rx_next_pn: Option<u64>,
    /// Unix time at which a new Tx SA last started carrying traffic (SAK rekey or CAK switch).
    pub last_rekey: Option<u64>,
    /// SAs found in the dataplane that no participant of ours installed (left by a control
    /// process that was killed): kept while they may still carry traffic, deleted once our own
    /// session is secured or has lost its peer. `None` until the first status after contact.
    stale: Option<Stale>,
}

/// SAs a previous control process left in the dataplane.
#[derive(Debug, Default)]
struct Stale {
    rx: Vec<(Sci, An)>,
    tx: Option<An>,
    /// A participant lost its peer (802.1X-2020 9.15: no live peer, no SAs).
    peer_lost: bool,
}

impl Conn {
    /// The SecY `secy` of connection `cfg`: the connection itself, or one member of its LAG (each
    /// member runs its own MKA participants with the LAG's keychain).
    pub fn new(cfg: Connection, secy: SecyRef, sci: Sci, mac: [u8; 6]) -> Self {
        let mode = cfg.encryption_mode;
        Conn {
            secy,
            cfg,
            sci,
            mac,
            mode,
            keys: Vec::new(),
            principal: None,
            out: Vec::new(),
            tx_next_pn: None,
            rx_next_pn: None,
            last_rekey: None,
            stale: None,
        }
    }

    pub fn add_key(&mut self, ckn: Ckn, cak: Cak, associated_at: u64, now: Instant) {
        let mka = MkaConfig {
            sci: self.sci,
            mac: self.mac,
            priority: self.cfg.key_server_priority,
            cipher_suite: self.cfg.cipher_suite,
            rekey_interval: (self.cfg.rekey_interval_s > 0)
                .then(|| std::time::Duration::from_secs(self.cfg.rekey_interval_s)),
            pn_threshold: self.cfg.pn_threshold,
        };
        let participant = Participant::new(mka, ckn.clone(), cak, StdRng::from_entropy(), now);
        self.keys.push(KeyEntry {
            ckn,
            associated_at,
            participant,
            rx: Vec::new(),
            tx: None,
            tx_enabled: None,
            worked: false,
        });
        // Newest first.
        self.keys.sort_by_key(|k| std::cmp::Reverse(k.associated_at));
    }

    /// Removes a key: its SAs go, and if it was principal another working key takes over.
    pub fn remove_key(&mut self, ckn: &Ckn) -> bool {
        let Some(i) = self.keys.iter().position(|k| k.ckn == *ckn) else { return false };
        let k = self.keys.remove(i);
        for (sci, an) in k.rx {
            self.out.push(Request::DeleteRxSa {
                secy: self.secy.clone(),
                peer_sci: format!("{:016x}", sci.0),
                an: an.get(),
            });
        }
        // Its Tx SA (installed while it was principal) goes too, unless the principal uses that AN.
        let principal_an =
            self.keys.iter().find(|p| Some(&p.ckn) == self.principal.as_ref()).and_then(|p| p.tx_enabled);
        if let Some(an) = k.tx_enabled.filter(|an| Some(*an) != principal_an || self.principal.as_ref() == Some(ckn)) {
            self.out.push(Request::DeleteTxSa { secy: self.secy.clone(), an: an.get() });
        }
        if self.principal.as_ref() == Some(ckn) {
            self.principal = None;
        }
        self.choose_principal();
        true
    }

    /// ANs the other participants use: a key server must not pick them.
    fn busy_ans(&self, except: usize) -> [bool; 4] {
        let mut busy = [false; 4];
        for (j, k) in self.keys.iter().enumerate().filter(|(j, _)| *j != except) {
            for (_, an) in &k.rx {
                busy[an.index()] = true;
            }
            if let Some(an) = k.tx_enabled {
                busy[an.index()] = true;
            }
            let _ = j;
        }
        busy
    }

    /// Applies every participant's pending SA commands and re-chooses the principal.
    pub fn pump(&mut self) {
        for i in 0..self.keys.len() {
            let busy = self.busy_ans(i);
            self.keys[i].participant.avoid_ans(busy);
            while let Some(c) = self.keys[i].participant.poll_dataplane_command() {
                self.apply(i, c);
            }
            if self.keys[i].participant.state() == State::Secured {
                self.keys[i].worked = true;
            }
        }
        self.choose_principal();
        self.delete_stale();
    }

    /// The first dataplane status after contact: every installed SA that none of our
    /// participants installed is left over from a previous control process.
    pub fn learn_stale(&mut self, rx_installed: &[(Sci, An)], tx_encoding: Option<An>) {
        if self.stale.is_some() {
            return;
        }
        let ours = |sci: Sci, an: An| self.keys.iter().any(|k| k.rx.contains(&(sci, an)));
        let rx = rx_installed.iter().copied().filter(|(sci, an)| !ours(*sci, *an)).collect();
        let tx = tx_encoding.filter(|an| !self.keys.iter().any(|k| k.tx_enabled == Some(*an)));
        self.stale = Some(Stale { rx, tx, peer_lost: false });
        self.delete_stale();
    }

    /// Deletes the leftover SAs once they can no longer be the ones carrying traffic.
    fn delete_stale(&mut self) {
        let Some(st) = self.stale.as_mut() else { return };
        if self.principal.is_none() && !st.peer_lost {
            return;
        }
        for (sci, an) in st.rx.drain(..) {
            self.out.push(Request::DeleteRxSa {
                secy: self.secy.clone(),
                peer_sci: format!("{:016x}", sci.0),
                an: an.get(),
            });
        }
        let principal_an =
            self.keys.iter().find(|k| Some(&k.ckn) == self.principal.as_ref()).and_then(|k| k.tx_enabled);
        if let Some(an) = st.tx.take().filter(|an| Some(*an) != principal_an) {
            self.out.push(Request::DeleteTxSa { secy: self.secy.clone(), an: an.get() });
        }
    }

    fn apply(&mut self, i: usize, c: DpCommand) {
        let principal = self.principal.as_ref() == Some(&self.keys[i].ckn);
        let secy = self.secy.clone();
        let k = &mut self.keys[i];
        match c {
            DpCommand::InstallRxSa { peer, an, lowest_pn, ssci, salt, sak } => {
                // Ours now: it replaces whatever a previous control, or another participant of
                // this SecY, left in that slot (the dataplane has one Rx SA per peer and AN). The
                // key server picks an AN its other participants no longer use, but the peer's
                // participant for the old key may not have retired it yet: its later delete
                // must not remove this SA.
                if let Some(st) = self.stale.as_mut() {
                    st.rx.retain(|r| *r != (peer, an));
                }
                for other in &mut self.keys {
                    other.rx.retain(|r| *r != (peer, an));
                }
                let k = &mut self.keys[i];
                k.rx.push((peer, an));
                self.out.push(Request::InstallRxSa {
                    secy,
                    peer_sci: format!("{:016x}", peer.0),
                    an: an.get(),
                    lowest_pn,
                    ssci: ssci.map(|s| s.0),
                    salt: salt.map(|s| hex::encode(s.0)),
                    sak: SecretHex::from_sak(&sak),
                });
            }
            DpCommand::DeleteRxSa { peer, an } => {
                // Only if the slot is still this participant's (see InstallRxSa).
                if k.rx.contains(&(peer, an)) {
                    k.rx.retain(|r| *r != (peer, an));
                    self.out.push(Request::DeleteRxSa { secy, peer_sci: format!("{:016x}", peer.0), an: an.get() });
                }
            }
            c @ DpCommand::InstallTxSa { .. } => {
                if let (Some(st), DpCommand::InstallTxSa { an, .. }) = (self.stale.as_mut(), &c) {
                    st.tx = st.tx.filter(|s| s != an);
                }
                k.tx = Some(c);
                // The principal's old Tx SA keeps carrying traffic in the dataplane until the new
                // one is enabled (802.1X-2020 9.8: the key server enables transmit only once
                // every peer receives with the new SAK), so it stays principal and its encoding
                // AN stays what it was. A key that is not principal has nothing in the dataplane.
                if !principal {
                    k.tx_enabled = None;
                } else if let Some(r) = tx_request(&secy, k.tx.as_ref()) {
                    self.out.push(r);
                }
            }
            DpCommand::EnableTxSa { an } => {
                k.tx_enabled = Some(an);
                if principal {
                    self.out.push(Request::EnableTxSa { secy, an: an.get() });
                    self.last_rekey = Some(super::unix_now());
                }
            }
            DpCommand::DeleteTxSa { an } => {
                if principal && k.tx_enabled != Some(an) {
                    self.out.push(Request::DeleteTxSa { secy, an: an.get() });
                }
            }
            DpCommand::ClearSas => {
                if let Some(st) = self.stale.as_mut() {
                    st.peer_lost = true;
                }
                for (sci, an) in k.rx.drain(..) {
                    self.out.push(Request::DeleteRxSa {
                        secy: secy.clone(),
                        peer_sci: format!("{:016x}", sci.0),
                        an: an.get(),
                    });
                }
                if principal {
                    if let Some(an) = k.tx_enabled.take() {
                        self.out.push(Request::DeleteTxSa { secy, an: an.get() });
                    }
                }
                k.tx = None;
                k.tx_enabled = None;
            }
        }
    }

    /// The newest secured key, else the current principal if still secured, else any secured.
    fn choose_principal(&mut self) {
        let secured = |k: &KeyEntry| k.participant.state() == State::Secured && k.tx_enabled.is_some();
        let newest = self.keys.iter().find(|k| secured(k)).map(|k| k.ckn.clone());
        if newest == self.principal {
            return;
        }
        let Some(new) = newest else {
            // Nothing secured: the old principal's SAs were already cleared by its participant.
            self.principal = None;
            return;
        };
        self.principal = Some(new.clone());
        if let Some(k) = self.keys.iter().find(|k| k.ckn == new) {
            if let Some(r) = tx_request(&self.secy, k.tx.as_ref()) {
                self.out.push(r);
            }
            if let Some(an) = k.tx_enabled {
                self.out.push(Request::EnableTxSa { secy: self.secy.clone(), an: an.get() });
                self.last_rekey = Some(super::unix_now());
            }
        }
    }

    /// Everything to install again after the dataplane restarted.
    pub fn resync(&mut self, now: Instant) {
        for i in 0..self.keys.len() {
            self.keys[i].rx.clear();
            self.keys[i].tx = None;
            self.keys[i].tx_enabled = None;
            self.keys[i].participant.reinstall(now);
        }
        self.principal = None;
        self.out.push(Request::ClearSas { secy: self.secy.clone() });
        self.out.push(Request::SetMode { secy: self.secy.clone(), mode: self.mode.name().to_owned() });
        self.pump();
    }

    pub fn handle_mkpdu(&mut self, now: Instant, frame: &[u8]) {
        let Some(ckn) = crate::mka::participant::peek_ckn(frame) else { return };
        if let Some(k) = self.keys.iter_mut().find(|k| k.ckn == ckn) {
            let _ = k.participant.handle_mkpdu(now, frame);
        }
        self.pump();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for k in &mut self.keys {
            if k.participant.poll_timeout() <= now {
                k.participant.handle_timeout(now);
            }
        }
        self.pump();
    }

    pub fn handle_dataplane(&mut self, now: Instant, ev: DpEvent) {
        if let Some(k) = self.keys.iter_mut().find(|k| Some(&k.ckn) == self.principal.as_ref()) {
            k.participant.handle_dataplane(now, ev);
        }
        self.pump();
    }

    /// An operator's request for a new SAK. Only the key server generates SAKs (802.1X-2020
    /// 9.8.1); a member has no MKPDU to ask for one, so it is refused there rather than kept.
    pub fn rekey(&mut self) -> Rekey {
        let Some(k) = self.keys.iter_mut().find(|k| Some(&k.ckn) == self.principal.as_ref()) else {
            return Rekey::Down;
        };
        match k.participant.key_server() {
            Some(ks) if ks != self.sci => Rekey::PeerIsKeyServer(ks),
            _ => {
                k.participant.request_rekey(RekeyReason::Operator);
                Rekey::Requested
            }
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.keys.iter().map(|k| k.participant.poll_timeout()).min()
    }

    /// MKPDUs to send on the wire port.
    pub fn drain_transmit(&mut self) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for k in &mut self.keys {
            while let Some(f) = k.participant.poll_transmit() {
                v.push(f);
            }
        }
        v
    }

    pub fn encryption_up(&self) -> bool {
        self.principal.is_some()
    }
}

/// What [`Conn::rekey`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rekey {
    Requested,
    /// Encryption is down: no SAK to replace.
    Down,
    /// The peer with this SCI is key server.
    PeerIsKeyServer(Sci),
}

fn tx_request(secy: &SecyRef, c: Option<&DpCommand>) -> Option<Request> {
    let Some(DpCommand::InstallTxSa { an, next_pn, ssci, salt, sak }) = c else { return None };
    Some(Request::InstallTxSa {
        secy: secy.clone(),
        an: an.get(),
        next_pn: *next_pn,
        ssci: ssci.map(|s| s.0),
        salt: salt.map(|s| hex::encode(s.0)),
        sak: SecretHex::from_sak(sak),
    })
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
