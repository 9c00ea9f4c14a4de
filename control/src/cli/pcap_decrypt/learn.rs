//! Learning the SAKs of a capture from its MKPDUs, for `pcap-decrypt --ckn --cak`: the MKA key
//! hierarchy of IEEE 802.1X-2020 9.3 and 9.8, run offline over what went over the wire.
//!
//! For every EAPOL-MKA frame of our CKN: verify the ICV with the ICK (nothing of an MKPDU is used
//! before, 11.11.2), remember which SCI each MI belongs to, and unwrap each Distributed SAK with
//! the KEK. The SAK of Key Identifier (key server MI, KN) is then offered for the frames with its
//! AN; with XPN its salt comes from the Key Identifier and each transmitter's SSCI from the SCIs
//! of the participants the key server listed as live when it distributed the SAK (9.8.3). The
//! derivations are the participant's own (`mka::kdf`, `mka::key_wrap`, `mka::xpn`).

use std::collections::HashMap;

use macsec_dataplane::pcap_decrypt::{KeyRef, KeySource};
use macsec_dataplane::secy::{An, CipherSuite, Sak, Sci};
use serde::Serialize;

use crate::mka::keys::{Cak, Ckn, Ick, Kek};
use crate::mka::mkpdu::{self, DistributedSak, Kn, Mi, Mkpdu, MkpduError};
use crate::mka::{kdf, key_wrap, xpn};

/// What the MKPDUs of a capture gave (printed with the summary; no key material).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LearnStats {
    /// MKPDUs of our CKN whose ICV verified.
    pub mkpdus: u64,
    /// MKPDUs of our CKN whose ICV did not verify (another CAK, or altered).
    pub icv_failures: u64,
    /// MKPDUs of another CKN (ignored).
    pub other_ckn: u64,
    /// EAPOL-MKA frames that do not parse.
    pub malformed: u64,
    /// Distinct SAKs unwrapped.
    pub saks: u64,
    /// Distributed SAKs that could not be used: the unwrap failed, an unknown cipher suite, or a
    /// key length that does not fit the suite.
    pub sak_errors: u64,
}

/// A SAK and its Key Identifier.
struct Learned {
    server: Mi,
    kn: Kn,
    an: An,
    suite: CipherSuite,
    sak: Sak,
    server_sci: Sci,
    /// The MIs of the key server's live peers when it distributed the SAK.
    members: Vec<Mi>,
}

/// The SAKs learned so far, as a [`KeySource`] for `macsec_dataplane::pcap_decrypt::run_with`.
pub struct MkaKeys {
    ckn: Ckn,
    ick: Ick,
    kek: Kek,
    scis: HashMap<Mi, Sci>,
    keys: Vec<Learned>,
    pub stats: LearnStats,
}

impl MkaKeys {
    /// ICK and KEK of the CAK (IEEE 802.1X-2020 9.3.3); the CAK itself is not kept.
    pub fn new(ckn: Ckn, cak: &Cak) -> Self {
        let ick = kdf::derive_ick(cak, &ckn);
        let kek = kdf::derive_kek(cak, &ckn);
        MkaKeys { ckn, ick, kek, scis: HashMap::new(), keys: Vec::new(), stats: LearnStats::default() }
    }

    fn mkpdu(&mut self, frame: &[u8]) {
        let parsed = match Mkpdu::parse(frame) {
            Ok(p) => p,
            // EAPOL-Start, EAPOL-Key and the like: not ours to judge.
            Err(MkpduError::NotMka { .. }) => return,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        if parsed.mkpdu.basic.ckn != self.ckn {
            self.stats.other_ckn += 1;
            return;
        }
        if !parsed.verify_icv(&self.ick) {
            self.stats.icv_failures += 1;
            return;
        }
        self.stats.mkpdus += 1;
        let m = parsed.mkpdu;
        self.scis.insert(m.basic.mi, m.basic.sci);
        if let Some(d) = &m.distributed_sak {
            let members = m.live_peers.iter().flat_map(|l| l.peers.iter().map(|p| p.mi)).collect();
            self.learn(&m.basic, d, members);
        }
    }

    /// Unwraps a Distributed SAK (IEEE 802.1X-2020 9.8.1, 11.11.1); a retransmission of a known
    /// Key Identifier changes nothing.
    fn learn(&mut self, basic: &mkpdu::Basic, d: &DistributedSak, members: Vec<Mi>) {
        if self.keys.iter().any(|k| k.server == basic.mi && k.kn == d.kn) {
            return;
        }
        // No cipher suite field (28-octet body): the default GCM-AES-128. wpa_supplicant writes
        // GCM-AES-128 as 0x0080020001000001; the participant accepts that too.
        let cs = d.cipher_suite.unwrap_or(CipherSuite::GcmAes128.id());
        let cs = if cs == 0x0080_0200_0100_0001 { CipherSuite::GcmAes128.id() } else { cs };
        let (Some(suite), Some(an)) = (CipherSuite::from_id(cs), An::new(d.an)) else {
            self.stats.sak_errors += 1;
            return;
        };
        let sak = match key_wrap::unwrap(&self.kek, &d.wrapped) {
            Ok(s) if s.len() == suite.key_len() => s,
            _ => {
                self.stats.sak_errors += 1;
                return;
            }
        };
        self.stats.saks += 1;
        self.keys.push(Learned { server: basic.mi, kn: d.kn, an, suite, sak, server_sci: basic.sci, members });
    }

    /// The SSCI of `sci` for key `k` (IEEE 802.1X-2020 9.8.3: by descending SCI among the key
    /// server and its live peers), or `None` if `sci` was not one of them.
    fn ssci(&self, k: &Learned, sci: Sci) -> Option<macsec_dataplane::secy::Ssci> {
        let members = k.members.iter().filter_map(|mi| self.scis.get(mi).copied());
        let all: Vec<Sci> = std::iter::once(k.server_sci).chain(members).collect();
        all.contains(&sci).then(|| xpn::ssci_of(sci, &all))
    }
}

impl MkaKeys {
    /// Every key the CAK led to in this capture, by name: ICK, KEK and each unwrapped SAK (for
    /// `macsecctl audit-keys`, which looks for them in logs; the bytes never leave the process).
    pub fn each_key(&self, mut f: impl FnMut(&str, &[u8])) {
        f("ICK", self.ick.expose());
        f("KEK", self.kek.expose());
        for k in &self.keys {
            f(&format!("SAK AN {} KN {}", k.an.get(), k.kn.0), k.sak.expose());
        }
    }
}

impl KeySource for MkaKeys {
    fn observe(&mut self, frame: &[u8]) {
        if frame.get(12..14) == Some(&mkpdu::ETHERTYPE_EAPOL.to_be_bytes()[..]) {
            self.mkpdu(frame);
        }
    }

    /// The SAKs distributed for `an`, the most recent first (an AN is reused every fourth SAK).
    fn candidates(&self, sci: Sci, an: An) -> Vec<KeyRef<'_>> {
        let mut out = Vec::new();
        for (id, k) in self.keys.iter().enumerate().rev().filter(|(_, k)| k.an == an) {
            let (ssci, salt) = if k.suite.is_xpn() {
                let Some(ssci) = self.ssci(k, sci) else { continue };
                (Some(ssci), Some(xpn::salt(&k.server, k.kn)))
            } else {
                (None, None)
            };
            out.push(KeyRef { id: id as u64, cipher_suite: k.suite, sak: &k.sak, ssci, salt });
        }
        out
    }
}
