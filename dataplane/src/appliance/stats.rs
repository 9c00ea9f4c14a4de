//! A point-in-time snapshot of everything the dataplane counts: what the service lcore sums from
//! the workers' export slots, what `/metrics` renders and what the control socket returns.
//! Names follow the 802.1AE MIB; no key material anywhere.

use serde::{Deserialize, Serialize};

use crate::secy::{RxSaStats, RxScStats, SecyStats, TxSaStats, TxScStats};

/// Counters of one DPDK port (from `rte_eth_stats` plus our own drops).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStats {
    /// `host` or `wire`.
    pub role: String,
    /// The device string from the config (a PCI address or vdev).
    pub device: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames the NIC dropped on receive (no descriptor / mbuf).
    pub rx_dropped: u64,
    /// Frames we could not transmit (queue full) and freed.
    pub tx_dropped: u64,
    pub link_up: bool,
    /// Per queue, when the port has more than one queue pair (empty otherwise: the port's
    /// counters are queue 0's).
    #[serde(default)]
    pub queues: Vec<QueueStats>,
}

/// One queue pair's frames and octets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// The transmit SA in use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxSaStatus {
    pub an: u8,
    pub next_pn: u64,
    pub max_pn: u64,
    /// The PN at which a rekey is requested from control.
    pub pn_threshold: u64,
    pub stats: TxSaStats,
}

/// One receive SA.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxSaStatus {
    pub an: u8,
    /// 802.1AE nextPN and lowestPN of the SA (after replay processing).
    pub next_pn: u64,
    pub lowest_pn: u64,
    pub installed: bool,
    pub stats: RxSaStats,
}

/// One receive SC (a peer SCI).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxScStatus {
    /// 16 hex digits.
    pub sci: String,
    pub stats: RxScStats,
    pub sas: Vec<RxSaStatus>,
}

/// Rekeys counted by why they happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekeyCounts {
    /// A new Tx SA was enabled because control asked (MKA distribution, operator, interval).
    pub control: u64,
    /// The Tx SA reached the PN threshold and the dataplane asked control for a new SAK.
    pub pn_threshold_requests: u64,
}

/// One SecY: a connection, or one member of a LAG connection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecySnapshot {
    pub connection: String,
    /// The wire port's index in the connection (0 without a LAG).
    pub member: u16,
    pub cipher_suite: String,
    pub encryption_mode: String,
    /// Our transmit SCI, 16 hex digits.
    pub sci: String,
    pub host: PortStats,
    pub wire: PortStats,
    pub secy: SecyStats,
    pub tx_sc: TxScStats,
    pub tx_sa: Option<TxSaStatus>,
    /// The Tx SA counters of every AN slot (also of SAs no longer installed).
    pub tx_sa_stats: [TxSaStats; 4],
    pub rx_scs: Vec<RxScStatus>,
    pub rekeys: RekeyCounts,
    /// Host frames dropped because policy forbids sending them (must_encrypt without SA, ...).
    pub policy_drops_tx: u64,
    /// Wire frames dropped by policy (clear frames under must_encrypt, ...).
    pub policy_drops_rx: u64,
    /// Frames that could not be protected: no SA, PN exhausted, no room.
    pub protect_drops: u64,
    /// EAPOL frames punted to control / injected from control.
    pub eapol_rx: u64,
    pub eapol_tx: u64,
    /// LAG members: whether the member carries the host's flows now (link up and, once any
    /// member is secured, secured). None without a LAG.
    #[serde(default)]
    pub lag_active: Option<bool>,
}

/// Time a worker lcore spent on bursts with work versus polling.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStats {
    pub lcore: u32,
    /// TSC cycles spent in iterations that moved at least one frame.
    pub busy_cycles: u64,
    /// All TSC cycles since the worker started.
    pub total_cycles: u64,
    pub bursts: u64,
}

/// Everything, at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub secys: Vec<SecySnapshot>,
    pub workers: Vec<WorkerStats>,
    /// TSC frequency, to turn cycles into seconds.
    pub tsc_hz: u64,
}
