//! MKA, the MACsec Key Agreement protocol (IEEE 802.1X-2020 clauses 9 and 11).

pub mod announcement;
pub mod election;
pub mod icv;
pub mod kdf;
pub mod key_wrap;
pub mod keys;
pub mod mkpdu;
pub mod participant;
pub mod rate_limit;
pub mod xpn;

#[cfg(test)]
mod lossy_tests;
#[cfg(test)]
mod tests;
