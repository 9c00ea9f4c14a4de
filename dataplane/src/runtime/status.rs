//! The counters snapshot: the workers' export slots summed, the key table's PNs and the ports'
//! own counters. Served by the control socket (`status`) and rendered by `/metrics`.

use std::sync::atomic::Ordering;

use super::{SecyRt, Shared};
use crate::appliance::pipeline::MAX_RX_SC;
use crate::appliance::stats::{
    PortStats, QueueStats, RekeyCounts, RxSaStatus, RxScStatus, SecySnapshot, Snapshot, TxSaStatus, WorkerStats,
};
use crate::dpdk::Port;

pub fn snapshot(shared: &Shared) -> Snapshot {
    Snapshot {
        secys: shared.secys.iter().map(|s| secy_snapshot(s)).collect(),
        workers: shared
            .workers
            .iter()
            .map(|w| WorkerStats {
                lcore: w.lcore,
                busy_cycles: w.busy.load(Ordering::Relaxed),
                total_cycles: w.total.load(Ordering::Relaxed),
                bursts: w.bursts.load(Ordering::Relaxed),
            })
            .collect(),
        tsc_hz: shared.tsc_hz,
    }
}

fn port_stats(role: &str, device: &str, port: Port, tx_dropped: u64, queues: u16) -> PortStats {
    let s = port.stats().unwrap_or_default();
    let per_queue = (0..usize::from(queues).min(16))
        .filter(|_| queues > 1)
        .map(|q| QueueStats {
            rx_packets: s.q_ipackets[q],
            rx_bytes: s.q_ibytes[q],
            tx_packets: s.q_opackets[q],
            tx_bytes: s.q_obytes[q],
        })
        .collect();
    PortStats {
        role: role.to_owned(),
        device: device.to_owned(),
        rx_packets: s.ipackets,
        rx_bytes: s.ibytes,
        tx_packets: s.opackets,
        tx_bytes: s.obytes,
        rx_dropped: s.imissed + s.rx_nombuf + s.ierrors,
        tx_dropped: tx_dropped + s.oerrors,
        link_up: link_up(device, port),
        queues: per_queue,
    }
}

/// Whether a port has link. `net_af_packet` always reports up, so for it the kernel
/// interface's carrier decides (a veth whose peer went down has none).
pub fn link_up(device: &str, port: Port) -> bool {
    let dpdk = port.link().map(|l| l.up).unwrap_or(false);
    let iface = device.strip_prefix("net_af_packet").and_then(|rest| {
        rest.split(',').find_map(|kv| kv.strip_prefix("iface=")).filter(|i| !i.contains('/') && !i.is_empty())
    });
    match iface.map(|i| std::fs::read_to_string(format!("/sys/class/net/{i}/carrier"))) {
        Some(Ok(carrier)) => dpdk && carrier.trim() == "1",
        // No carrier file (interface down reads as an error): no link.
        Some(Err(_)) => false,
        None => dpdk,
    }
}

fn secy_snapshot(s: &SecyRt) -> SecySnapshot {
    let c = s.ctx.counters();
    let table = s.ctx.slot.current();
    let [protect, validate] = &s.lanes;
    let tx_sa = table.tx.as_ref().map(|tx| TxSaStatus {
        an: tx.an.get(),
        next_pn: tx.next_pn().0,
        max_pn: tx.max_pn(),
        pn_threshold: s.ctx.pn_threshold,
        stats: c.tx_sa[tx.an.index()],
    });
    let rx_scs = table
        .rx
        .iter()
        .enumerate()
        .take(MAX_RX_SC)
        .map(|(ch, keys)| RxScStatus {
            sci: format!("{:016x}", keys.sci.0),
            stats: c.rx_sc[ch],
            sas: (0..4)
                .map(|an| {
                    let (next_pn, lowest_pn) = s.rx_pns(ch, an);
                    RxSaStatus {
                        an: an as u8,
                        next_pn,
                        lowest_pn,
                        installed: keys.sas[an].is_some(),
                        stats: c.rx_sa[ch][an],
                    }
                })
                .collect(),
        })
        .collect();
    SecySnapshot {
        connection: s.secy.connection.clone(),
        member: s.secy.member,
        cipher_suite: s.conn.cipher_suite.to_string(),
        encryption_mode: s.ctx.mode().name().to_owned(),
        sci: format!("{:016x}", s.ctx.sci.0),
        host: port_stats(
            "host",
            &s.conn.host_port,
            s.host,
            validate.counters(0).tx_dropped.load(Ordering::Relaxed),
            s.host_queues,
        ),
        wire: port_stats(
            "wire",
            &s.wire_dev,
            s.wire,
            protect.counters(s.member).tx_dropped.load(Ordering::Relaxed),
            s.conn.queues,
        ),
        secy: c.secy,
        tx_sc: c.tx_sc,
        tx_sa,
        tx_sa_stats: c.tx_sa,
        rx_scs,
        rekeys: RekeyCounts {
            control: s.rekeys_control.load(Ordering::Relaxed),
            pn_threshold_requests: s.pn_threshold_requests.load(Ordering::Relaxed),
        },
        policy_drops_tx: c.policy_drops_tx,
        policy_drops_rx: c.policy_drops_rx,
        protect_drops: c.protect_drops,
        eapol_rx: c.eapol_rx,
        eapol_tx: protect.counters(s.member).injected.load(Ordering::Relaxed),
        lag_active: s.lag.as_ref().map(|l| l.usable() & (1 << s.member) != 0),
    }
}
