//! The appliance around the SecY that needs no DPDK: config, static keys, encryption policy,
//! key slots, metrics and the control-socket protocol. The DPDK runtime uses these.
#![forbid(unsafe_code)]

pub mod config;
pub mod ctl_proto;
pub mod hardening;
pub mod keyslot;
pub mod lag;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod sa_manager;
pub mod static_keys;
pub mod stats;

#[cfg(test)]
mod hostile_tests;
