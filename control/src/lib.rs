//! MKA (IEEE 802.1X-2020 clauses 9 and 11) control plane.
#![forbid(unsafe_code)]

pub mod cli;
pub mod daemon;
pub mod key_store;
pub mod keychain;
pub mod mka;
pub mod operator_proto;
