//! macsec-control's Prometheus metrics: per connection, LAG member (0 without a LAG) and keychain slot (0 = newest key; no CKN
//! in any label): participant state, key server, MKPDUs, the MKA error counters, rekeys by reason.

use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::conn::Conn;
use crate::mka::participant::{RekeyReason, State};

pub fn render(conns: &[Conn], dataplane_up: bool) -> String {
    let reg = Registry::new();
    let g = |name: &str, help: &str, labels: &[&str]| {
        let v = IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable!("valid name"));
        let _ = reg.register(Box::new(v.clone()));
        v
    };
    let c = |name: &str, help: &str, labels: &[&str]| {
        let v = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable!("valid name"));
        let _ = reg.register(Box::new(v.clone()));
        v
    };
    let up = g("macsec_mka_dataplane_connected", "1 when the dataplane control socket is connected", &[]);
    up.with_label_values(&[]).set(i64::from(dataplane_up));
    let enc = g(
        "macsec_mka_encryption_up",
        "1 when a key of the connection is secured and carries traffic",
        &["connection", "member"],
    );
    let keys = g("macsec_mka_keys", "CKN/CAK pairs associated with the connection", &["connection", "member"]);
    let state =
        g("macsec_mka_participant_state", "0 pending, 1 live peers, 2 secured", &["connection", "member", "key_slot"]);
    let principal =
        g("macsec_mka_principal", "1 for the key whose SAs carry traffic", &["connection", "member", "key_slot"]);
    let ks =
        g("macsec_mka_key_server", "1 when this participant is the key server", &["connection", "member", "key_slot"]);
    let peers = g("macsec_mka_live_peers", "Live peers of the participant", &["connection", "member", "key_slot"]);
    let names = [
        ("macsec_mka_mkpdu_rx_total", "MKPDUs received and accepted"),
        ("macsec_mka_mkpdu_tx_total", "MKPDUs sent"),
        ("macsec_mka_icv_errors_total", "MKPDUs whose ICV failed verification"),
        ("macsec_mka_bad_peer_total", "MKPDUs from a misbehaving peer (stale MN, our own MI)"),
        ("macsec_mka_peer_list_errors_total", "Peer list errors"),
        ("macsec_mka_validation_errors_total", "Malformed MKPDUs"),
        ("macsec_mka_sak_cipher_mismatch_total", "Distributed SAKs for another cipher suite"),
        ("macsec_mka_sak_unwrap_errors_total", "Distributed SAKs that did not unwrap"),
        ("macsec_mka_rate_limited_total", "Authentic MKPDUs dropped by the per-peer or new-peer rate limit"),
        ("macsec_mka_peer_table_full_total", "MKPDUs from a new MI dropped because the peer table was full"),
        ("macsec_mka_peer_lost_keys_total", "Live peers that stopped sending SAK Use after using the latest SAK"),
    ];
    let counters: Vec<_> = names.iter().map(|(n, h)| c(n, h, &["connection", "member", "key_slot"])).collect();
    let rekeys =
        c("macsec_mka_rekeys_total", "SAKs distributed, by reason", &["connection", "member", "key_slot", "reason"]);
    for conn in conns {
        let id = conn.cfg.id.as_str();
        let member = conn.secy.member.to_string();
        let m = member.as_str();
        enc.with_label_values(&[id, m]).set(i64::from(conn.encryption_up()));
        keys.with_label_values(&[id, m]).set(conn.keys.len() as i64);
        for (slot, k) in conn.keys.iter().enumerate() {
            let slot = slot.to_string();
            let l = [id, m, slot.as_str()];
            let st = k.participant.status();
            state.with_label_values(&l).set(match st.state {
                State::Pending => 0,
                State::Live => 1,
                State::Secured => 2,
            });
            principal.with_label_values(&l).set(i64::from(conn.principal.as_ref() == Some(&k.ckn)));
            ks.with_label_values(&l).set(i64::from(st.key_server));
            peers.with_label_values(&l).set(st.live_peers.len() as i64);
            let s = &st.stats;
            let vals = [
                s.mkpdu_rx,
                s.mkpdu_tx,
                s.icv_failures,
                s.bad_peer,
                s.peer_list_errors,
                s.validation_errors,
                s.sak_cipher_mismatch,
                s.sak_unwrap_errors,
                s.rate_limited,
                s.peer_table_full,
                s.peer_lost_keys,
            ];
            for (ctr, v) in counters.iter().zip(vals) {
                ctr.with_label_values(&l).inc_by(v);
            }
            for (r, v) in RekeyReason::ALL.iter().zip(s.rekeys) {
                rekeys.with_label_values(&[id, m, slot.as_str(), r.name()]).inc_by(v);
            }
        }
    }
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&reg.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}
