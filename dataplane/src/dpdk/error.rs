//! DPDK errors: which operation failed and the errno it gave.

use std::fmt;

/// A DPDK call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    /// The operation, e.g. `rte_eth_dev_configure(port 1)`.
    pub op: String,
    /// The positive errno (from the return value or `rte_errno`).
    pub errno: i32,
}

impl DpdkError {
    pub(crate) fn new(op: impl Into<String>, errno: i32) -> Self {
        DpdkError { op: op.into(), errno: errno.abs() }
    }

    /// An error from a call that returned NULL and set `rte_errno`.
    pub(crate) fn from_rte_errno(op: impl Into<String>) -> Self {
        // SAFETY: reads this thread's rte_errno; no arguments.
        let e = unsafe { dpdk_sys::shim_errno() };
        Self::new(op, e)
    }

    /// Turns a negative-errno return value into `Err`.
    pub(crate) fn check(op: impl FnOnce() -> String, rc: i32) -> Result<i32, DpdkError> {
        if rc < 0 {
            Err(Self::new(op(), rc))
        } else {
            Ok(rc)
        }
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = std::io::Error::from_raw_os_error(self.errno);
        write!(f, "{} failed: {} (errno {})", self.op, msg, self.errno)
    }
}

impl std::error::Error for DpdkError {}
