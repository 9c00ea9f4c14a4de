//! Process hardening for both daemons, which hold key material (SAKs in the dataplane, CAKs and
//! SAKs in control): no core dumps and no ptrace by other users (non-dumpable), and every page
//! locked in memory so that no key is ever written to swap.

use std::fmt;

/// What [`harden`] achieved; printed once at start (no key material, obviously).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hardening {
    pub non_dumpable: bool,
    /// `mlockall(MCL_CURRENT | MCL_FUTURE)` succeeded.
    pub memory_locked: bool,
}

impl fmt::Display for Hardening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes_no = |b: bool| if b { "yes" } else { "NO" };
        write!(
            f,
            "non-dumpable: {}, memory locked (no swap): {}",
            yes_no(self.non_dumpable),
            yes_no(self.memory_locked)
        )?;
        if !self.memory_locked {
            f.write_str(" (raise LimitMEMLOCK / ulimit -l, or run with CAP_IPC_LOCK)")?;
        }
        Ok(())
    }
}

/// Makes the process non-dumpable and locks its memory. Failures are reported, not fatal: a lab
/// without CAP_IPC_LOCK still runs, and the start line says so.
pub fn harden() -> Hardening {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    let non_dumpable = nix::sys::prctl::set_dumpable(false).is_ok();
    let memory_locked = mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).is_ok();
    Hardening { non_dumpable, memory_locked }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_says_what_is_missing() {
        let h = Hardening { non_dumpable: true, memory_locked: false };
        assert_eq!(
            h.to_string(),
            "non-dumpable: yes, memory locked (no swap): NO (raise LimitMEMLOCK / ulimit -l, or run with CAP_IPC_LOCK)"
        );
    }
}
