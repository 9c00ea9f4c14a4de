//! The operator CLI `macsecctl`: one module per verb. Errors name the argument and the
//! expected form, and exit with status 2.

use std::fmt;

pub mod audit_keys;
pub mod operator;
pub mod pcap_decrypt;

/// A bad command line: printed as `ARG: expected FORM, got WHAT` and exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    arg: String,
    message: String,
}

impl UsageError {
    pub fn new(arg: &str, expected: &str, got: &str) -> Self {
        UsageError { arg: arg.to_owned(), message: format!("expected {expected}, got {got}") }
    }

    /// An error whose message is already complete.
    pub fn bare(arg: &str, message: &str) -> Self {
        UsageError { arg: arg.to_owned(), message: message.to_owned() }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.arg, self.message)
    }
}

impl std::error::Error for UsageError {}
