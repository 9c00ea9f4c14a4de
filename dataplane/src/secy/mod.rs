//! The IEEE 802.1AE-2018 SecY as plain Rust over byte buffers: SecTAG codec, the four GCM
//! cipher suites, XPN, SCs and SAs, replay protection, protect and validate, and the MIB
//! counters. No DPDK here: the runtime moves mbufs and calls this.
//!
//! ```
//! use std::sync::Arc;
//! use macsec_dataplane::secy::*;
//!
//! let suite = CipherSuite::GcmAesXpn256;
//! let (a, b) = (Sci(0x0200_0000_0001_0001), Sci(0x0200_0000_0002_0001));
//! let sak = Sak::from_slice(&[0x42; 32]).unwrap();
//! let salt = Salt([7; 12]);
//! let mut tx = Secy::new(SecyConfig::new(suite), a, Arc::new(RingBackend));
//! let mut rx = Secy::new(SecyConfig::new(suite), b, Arc::new(RingBackend));
//! let an = An::new(0).unwrap();
//! tx.install_tx_sa(&sak, &SaParams { an, pn: Pn(1), ssci: Some(Ssci(1)), salt: Some(salt) }).unwrap();
//! tx.enable_tx_sa(an).unwrap();
//! rx.add_rx_sc(a);
//! rx.install_rx_sa(a, &sak, &SaParams { an, pn: Pn(1), ssci: Some(Ssci(1)), salt: Some(salt) }).unwrap();
//!
//! let plain = [[0xff; 6], [0x02, 0, 0, 0, 0, 1]].concat().into_iter().chain([0x08, 0x00, 1, 2, 3]).collect::<Vec<u8>>();
//! let mut frame = plain.clone();
//! assert_eq!(tx.protect(&mut frame), Ok(TxVerdict::Encrypted));
//! assert_eq!(rx.validate(&mut frame), RxVerdict::Ok);
//! assert_eq!(frame, plain);
//! ```
#![forbid(unsafe_code)]

pub mod batch;
mod buffer;
mod cipher_suite;
mod config;
pub mod counters;
mod gcm;
mod ids;
mod instance;
mod key;
pub mod protect;
pub mod replay;
pub mod sa;
pub mod sectag;
pub mod validate;
pub mod xpn;

pub use buffer::{FrameBuf, NoRoom};
pub use cipher_suite::{CipherSuite, UnknownCipherSuite};
pub use config::{ConfidentialityOffset, SecyConfig, ValidateFrames};
pub use counters::{RxSaStats, RxScStats, SecyStats, TxSaStats, TxScStats};
pub use gcm::{GcmBackend, GcmKey, Iv, KeySetupError, OpenItem, RingBackend, SealItem, Unauthentic, ICV_LEN};
pub use ids::{An, Pn, Sci, Ssci};
pub use instance::Secy;
pub use key::{Sak, SakError, Salt};
pub use protect::{TxDrop, TxVerdict};
pub use sa::{SaError, SaParams};
pub use validate::RxVerdict;

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
