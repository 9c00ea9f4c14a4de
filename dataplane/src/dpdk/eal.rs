//! EAL initialisation from an explicit argument list, and launching work on worker lcores.

use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::DpdkError;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Proof that EAL is initialised in this process. EAL initialises once per process, ever.
#[derive(Debug)]
pub struct Eal {
    _private: (),
}

/// A worker lcore id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lcore(pub u32);

impl Eal {
    /// `rte_eal_init` with `args` (args[0] is the program name). Never reads the process's own
    /// argv. The strings are leaked on purpose: EAL keeps pointers into them.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal, DpdkError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::new("rte_eal_init (already initialised in this process)", libc_ealready()));
        }
        let mut ptrs: Vec<*mut std::ffi::c_char> = Vec::with_capacity(args.len() + 1);
        for a in args {
            let c = CString::new(a.as_ref()).map_err(|_| DpdkError::new("rte_eal_init (argument with NUL)", 22))?;
            ptrs.push(c.into_raw());
        }
        let argc = ptrs.len() as c_int;
        ptrs.push(std::ptr::null_mut());
        let argv = Box::leak(ptrs.into_boxed_slice());
        // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL, all leaked so
        // they outlive EAL, which may keep pointers into them.
        let rc = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(DpdkError::from_rte_errno("rte_eal_init"));
        }
        Ok(Eal { _private: () })
    }

    /// The worker lcores (all enabled lcores except the main one).
    pub fn workers(&self) -> Vec<Lcore> {
        let mut out = Vec::new();
        // SAFETY: iterating lcore ids after init; RTE_MAX_LCORE ends the iteration.
        let mut i = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
        while i < dpdk_sys::RTE_MAX_LCORE {
            out.push(Lcore(i));
            // SAFETY: as above.
            i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
        }
        out
    }

    /// Runs `f` on worker lcore `lcore`. Must be called from the main lcore.
    pub fn launch<F: FnOnce() + Send + 'static>(&self, lcore: Lcore, f: F) -> Result<(), DpdkError> {
        let boxed: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(f));
        let arg = Box::into_raw(boxed).cast::<c_void>();
        // SAFETY: trampoline takes back ownership of `arg` exactly once when it runs; if the
        // launch fails, we take it back below instead.
        let rc = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore.0) };
        if rc < 0 {
            // SAFETY: the launch failed, so the trampoline never ran; we own `arg` again.
            drop(unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) });
            return Err(DpdkError::new(format!("rte_eal_remote_launch(lcore {})", lcore.0), rc));
        }
        Ok(())
    }

    /// Waits for every worker lcore to return.
    pub fn wait_all(&self) {
        // SAFETY: called from the main lcore after init.
        unsafe { dpdk_sys::rte_eal_mp_wait_lcore() };
    }

    /// `rte_eal_cleanup`: releases EAL resources. The process cannot init EAL again.
    pub fn cleanup(self) {
        // SAFETY: all ports were stopped and workers joined by the caller (self is consumed).
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }

    /// The id of the calling lcore (`u32::MAX` for a non-EAL thread).
    pub fn current_lcore() -> u32 {
        // SAFETY: reads a thread-local.
        unsafe { dpdk_sys::shim_lcore_id() }
    }
}

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` came from Box::into_raw in `launch` and is consumed here exactly once.
    let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() + Send>>()) };
    // A panic must not unwind into C.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

fn libc_ealready() -> i32 {
    114
}
