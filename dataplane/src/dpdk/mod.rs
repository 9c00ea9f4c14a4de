//! The thin safe layer over `dpdk-sys`: EAL, mempools, ports, mbufs and rings. Every `unsafe`
//! of the dataplane lives in this module (and, later, the GCM intrinsics).
//!
//! Rules this module keeps: a null pointer from DPDK becomes `Err`; a negative return becomes a
//! typed error with the operation's name; an mbuf has one owner and is freed exactly once.
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;
mod ring;
mod sequencer;

pub use eal::{Eal, Lcore};
pub use error::DpdkError;
pub use mbuf::{Mbuf, MbufBurst, BURST};
pub use mempool::Mempool;
pub use port::{LinkStatus, Port, PortStats};
pub use ring::Ring;
pub use sequencer::{Sequencer, Ticket};

/// The TSC counter (`rte_rdtsc`).
pub fn tsc() -> u64 {
    // SAFETY: reads the time stamp counter; no memory is touched.
    unsafe { dpdk_sys::shim_rdtsc() }
}

/// TSC ticks per second, measured by EAL at init.
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value EAL computed at init; callable from any thread after init.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}
