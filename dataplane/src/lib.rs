//! The MACsec dataplane: the IEEE 802.1AE-2018 SecY as a plain Rust library over byte buffers
//! ([`secy`]), tools built on it ([`pcap_decrypt`]), and the DPDK runtime that moves mbufs
//! through it ([`dpdk`], behind the `dpdk` feature).
//!
//! `unsafe` is allowed in exactly two modules of this crate: the thin safe DPDK wrapper ([`dpdk`])
//! and the AES-GCM intrinsics of the batched engine ([`gcm`], its `x86_*` files).
#![deny(unsafe_code)]

pub mod appliance;
#[allow(unsafe_code)]
pub mod gcm;
pub mod pcap_decrypt;
pub mod secy;

#[cfg(feature = "dpdk")]
#[allow(unsafe_code)]
pub mod dpdk;
#[cfg(feature = "dpdk")]
pub mod runtime;
