//! `dpdk-sys`: bindgen bindings to the system libdpdk 22.11 (found by pkg-config), plus the
//! `shim_*` C wrappers of DPDK's static inline functions (`rte_eth_rx_burst`,
//! `rte_pktmbuf_alloc`, `rte_errno`, ...), which bindgen cannot see.
//!
//! Everything here is raw FFI; the safe layer is `macsec_dataplane::dpdk`. The one exception is
//! [`cryptodev`], a small safe AES-GCM driver over the cryptodev API for `macsec-bench`.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code, improper_ctypes)]
#![allow(clippy::all, unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

pub mod cryptodev;

/// `RTE_MAX_ETHPORTS` etc. come from rte_config.h as macros bindgen may type differently;
/// the values we rely on are pinned here.
pub const MBUF_DEFAULT_BUF_SIZE: u16 = (2048 + 128) as u16; // RTE_MBUF_DEFAULT_BUF_SIZE
/// `rte_ring_create` flags (rte_ring.h): single producer / single consumer.
pub const RING_F_SP_ENQ: u32 = 0x0001;
pub const RING_F_SC_DEQ: u32 = 0x0002;
/// `SOCKET_ID_ANY`.
pub const SOCKET_ID_ANY: i32 = -1;
