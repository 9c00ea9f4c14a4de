//! Prometheus text for a [`Snapshot`] (rendered with the `prometheus` crate's text encoder).
//!
//! Names are `macsec_*`; counters end in `_total`. Labels: `connection`, `member`, `port`
//! (`host`/`wire`), `queue`, `an`, `peer_sci`, `reason`, `lcore`. No key material and no CKN ever
//! appears in a label or value. Every 802.1AE MIB counter is exported under its snake_case name
//! with the MIB name in the help text.

use std::collections::BTreeMap;

use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, IntCounterVec, Opts, Registry, TextEncoder};

use super::stats::{PortStats, QueueStats, SecySnapshot, Snapshot};
use crate::secy::counters::CounterInfo;

/// Collects metric families by name, creating each on first use.
#[derive(Default)]
struct Families {
    counters: BTreeMap<String, IntCounterVec>,
    gauges: BTreeMap<String, GaugeVec>,
}

impl Families {
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], v: u64) {
        let fam = self.counters.entry(name.to_owned()).or_insert_with(|| {
            let names: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
            IntCounterVec::new(Opts::new(name, help), &names).unwrap_or_else(|_| unreachable!("valid metric name"))
        });
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if let Ok(c) = fam.get_metric_with_label_values(&values) {
            c.inc_by(v);
        }
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], v: f64) {
        let fam = self.gauges.entry(name.to_owned()).or_insert_with(|| {
            let names: Vec<&str> = labels.iter().map(|(k, _)| *k).collect();
            GaugeVec::new(Opts::new(name, help), &names).unwrap_or_else(|_| unreachable!("valid metric name"))
        });
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        if let Ok(g) = fam.get_metric_with_label_values(&values) {
            g.set(v);
        }
    }

    fn mib<'a>(&mut self, prefix: &str, values: impl Iterator<Item = (&'a CounterInfo, u64)>, labels: &[(&str, &str)]) {
        for (info, v) in values {
            let help = format!("802.1AE MIB {}: {}", info.mib, info.help.trim());
            self.counter(&format!("macsec_{prefix}_{}_total", info.field), &help, labels, v);
        }
    }

    fn encode(self) -> String {
        let reg = Registry::new();
        for c in self.counters.into_values() {
            let _ = reg.register(Box::new(c) as Box<dyn Collector>);
        }
        for g in self.gauges.into_values() {
            let _ = reg.register(Box::new(g) as Box<dyn Collector>);
        }
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&reg.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Renders the whole snapshot as Prometheus text.
pub fn render(s: &Snapshot) -> String {
    let mut f = Families::default();
    for secy in &s.secys {
        render_secy(&mut f, secy);
    }
    for w in &s.workers {
        let lcore = w.lcore.to_string();
        let l = [("lcore", lcore.as_str())];
        f.counter("macsec_worker_busy_cycles_total", "TSC cycles of iterations that moved frames", &l, w.busy_cycles);
        f.counter("macsec_worker_cycles_total", "TSC cycles since the worker started", &l, w.total_cycles);
        f.counter("macsec_worker_bursts_total", "Bursts that moved at least one frame", &l, w.bursts);
    }
    f.gauge("macsec_tsc_hz", "TSC ticks per second (to turn cycles into seconds)", &[], s.tsc_hz as f64);
    f.encode()
}

fn render_port(f: &mut Families, conn: &str, member: &str, p: &PortStats) {
    // One queue: the port's counters are queue 0's. Several: each queue's own.
    let one =
        [QueueStats { rx_packets: p.rx_packets, rx_bytes: p.rx_bytes, tx_packets: p.tx_packets, tx_bytes: p.tx_bytes }];
    let queues = if p.queues.is_empty() { &one[..] } else { &p.queues[..] };
    for (q, qs) in queues.iter().enumerate() {
        let q = q.to_string();
        let l = [("connection", conn), ("member", member), ("port", p.role.as_str()), ("queue", q.as_str())];
        f.counter("macsec_port_rx_packets_total", "Frames received on the port", &l, qs.rx_packets);
        f.counter("macsec_port_rx_bytes_total", "Octets received on the port", &l, qs.rx_bytes);
        f.counter("macsec_port_tx_packets_total", "Frames sent on the port", &l, qs.tx_packets);
        f.counter("macsec_port_tx_bytes_total", "Octets sent on the port", &l, qs.tx_bytes);
    }
    let lp = [("connection", conn), ("member", member), ("port", p.role.as_str())];
    f.counter("macsec_port_rx_dropped_total", "Frames the port dropped on receive", &lp, p.rx_dropped);
    f.counter("macsec_port_tx_dropped_total", "Frames not sent: Tx queue full or errors", &lp, p.tx_dropped);
    f.gauge("macsec_port_link_up", "1 when the port's link is up", &lp, f64::from(u8::from(p.link_up)));
}

fn render_secy(f: &mut Families, s: &SecySnapshot) {
    let member = s.member.to_string();
    let (conn, m) = (s.connection.as_str(), member.as_str());
    let l = [("connection", conn), ("member", m)];
    render_port(f, conn, m, &s.host);
    render_port(f, conn, m, &s.wire);
    f.mib("secy", s.secy.values(), &l);
    f.mib("tx_sc", s.tx_sc.values(), &l);
    let up = s.tx_sa.is_some() && s.rx_scs.iter().any(|sc| sc.sas.iter().any(|sa| sa.installed));
    f.gauge("macsec_encryption_up", "1 when a Tx SA and at least one Rx SA are installed", &l, f64::from(u8::from(up)));
    if let Some(active) = s.lag_active {
        let help = "1 when this LAG member carries the host's flows (link up, and secured once any member is)";
        f.gauge("macsec_lag_member_active", help, &l, f64::from(u8::from(active)));
    }
    for mode in ["must_encrypt", "should_encrypt", "no_encrypt"] {
        let lm = [("connection", conn), ("member", m), ("mode", mode)];
        f.gauge(
            "macsec_encryption_mode",
            "1 for the connection's current mode",
            &lm,
            f64::from(u8::from(s.encryption_mode == mode)),
        );
    }
    for (an, stats) in s.tx_sa_stats.iter().enumerate() {
        if stats.values().any(|(_, v)| v > 0) || s.tx_sa.as_ref().is_some_and(|t| usize::from(t.an) == an) {
            let an = an.to_string();
            f.mib("tx_sa", stats.values(), &[("connection", conn), ("member", m), ("an", an.as_str())]);
        }
    }
    if let Some(tx) = &s.tx_sa {
        let an = tx.an.to_string();
        let la = [("connection", conn), ("member", m), ("an", an.as_str())];
        f.gauge("macsec_tx_sa_next_pn", "Next PN of the transmit SA", &la, tx.next_pn as f64);
        let ratio = tx.next_pn as f64 / tx.max_pn.max(1) as f64;
        f.gauge("macsec_tx_sa_pn_exhaustion_ratio", "Next PN / largest PN of the transmit SA", &la, ratio);
        let th = tx.pn_threshold as f64 / tx.max_pn.max(1) as f64;
        f.gauge("macsec_tx_sa_pn_threshold_ratio", "PN at which a rekey is requested / largest PN", &la, th);
    }
    for sc in &s.rx_scs {
        let ls = [("connection", conn), ("member", m), ("peer_sci", sc.sci.as_str())];
        f.mib("rx_sc", sc.stats.values(), &ls);
        // Counters of every AN slot that was ever used stay exported after its SA is deleted
        // (Prometheus counters never go backwards); PN gauges only for installed SAs.
        for sa in sc.sas.iter().filter(|sa| sa.installed || sa.stats.values().any(|(_, v)| v > 0)) {
            let an = sa.an.to_string();
            let la = [("connection", conn), ("member", m), ("peer_sci", sc.sci.as_str()), ("an", an.as_str())];
            f.mib("rx_sa", sa.stats.values(), &la);
            if sa.installed {
                f.gauge("macsec_rx_sa_next_pn", "802.1AE nextPN of the receive SA", &la, sa.next_pn as f64);
                f.gauge("macsec_rx_sa_lowest_pn", "802.1AE lowestPN of the receive SA", &la, sa.lowest_pn as f64);
            }
        }
    }
    for (reason, v) in [("control", s.rekeys.control), ("pn_threshold", s.rekeys.pn_threshold_requests)] {
        let lr = [("connection", conn), ("member", m), ("reason", reason)];
        f.counter("macsec_rekeys_total", "SAK rekeys: control enabled a new Tx SA, or PN threshold requests", &lr, v);
    }
    for (dir, v) in [("host_to_wire", s.policy_drops_tx), ("wire_to_host", s.policy_drops_rx)] {
        let ld = [("connection", conn), ("member", m), ("direction", dir)];
        f.counter(
            "macsec_policy_drops_total",
            "Frames dropped by the encryption mode (e.g. clear under must_encrypt)",
            &ld,
            v,
        );
    }
    f.counter(
        "macsec_protect_drops_total",
        "Host frames that could not be protected (PN exhausted, no room)",
        &l,
        s.protect_drops,
    );
    for (dir, v) in [("rx", s.eapol_rx), ("tx", s.eapol_tx)] {
        let ld = [("connection", conn), ("member", m), ("direction", dir)];
        f.counter("macsec_eapol_frames_total", "EAPOL frames punted to control (rx) or sent for it (tx)", &ld, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appliance::stats::{RxSaStatus, RxScStatus, TxSaStatus};

    #[test]
    fn renders_every_mib_counter_with_total_suffix_and_no_secret() {
        let mut s =
            SecySnapshot { connection: "dxcon-1".into(), encryption_mode: "must_encrypt".into(), ..Default::default() };
        s.secy.in_pkts_bad_tag = 3;
        s.tx_sa = Some(TxSaStatus { an: 1, next_pn: 1 << 31, max_pn: u32::MAX as u64, ..Default::default() });
        s.rx_scs = vec![RxScStatus {
            sci: "525400000b0001aa".into(),
            sas: vec![RxSaStatus { an: 1, installed: true, next_pn: 9, ..Default::default() }],
            ..Default::default()
        }];
        let text = render(&Snapshot { secys: vec![s], ..Default::default() });
        assert!(text.contains("macsec_secy_in_pkts_bad_tag_total{connection=\"dxcon-1\",member=\"0\"} 3"), "{text}");
        assert!(text.contains("macsec_rx_sa_in_pkts_ok_total{an=\"1\""), "{text}");
        assert!(text.contains("macsec_tx_sa_pn_exhaustion_ratio"), "{text}");
        assert!(text.contains("# HELP macsec_secy_in_pkts_bad_tag_total 802.1AE MIB InPktsBadTag"), "{text}");
        for line in text.lines().filter(|l| l.starts_with("# TYPE") && l.ends_with("counter")) {
            assert!(line.split(' ').nth(2).unwrap().ends_with("_total"), "{line}");
        }
        let all_mib = crate::secy::SecyStats::FIELDS.iter().chain(crate::secy::RxSaStats::FIELDS);
        for info in all_mib {
            assert!(text.contains(&format!("_{}_total", info.field)), "{} missing", info.mib);
        }
    }
}
