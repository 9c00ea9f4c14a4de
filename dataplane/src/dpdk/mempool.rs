//! Packet mbuf pools.

use std::ffi::CString;
use std::ptr::NonNull;

use super::{DpdkError, Mbuf};

/// A pktmbuf pool. Lives as long as the process uses its mbufs (not freed on drop: mbufs in
/// flight may still point at it; EAL cleanup releases it).
#[derive(Debug, Clone, Copy)]
pub struct Mempool(NonNull<dpdk_sys::rte_mempool>);

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe; the pointer is shared, never
// freed while in use.
unsafe impl Send for Mempool {}
// SAFETY: as above: every operation on a mempool is thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// `rte_pktmbuf_pool_create(name, n, cache 256, priv 0, default data room, any socket)`.
    pub fn new(name: &str, n: u32) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError::new("rte_pktmbuf_pool_create (name with NUL)", 22))?;
        // SAFETY: cname is a valid C string for the duration of the call; DPDK copies it.
        let mp = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                256,
                0,
                dpdk_sys::MBUF_DEFAULT_BUF_SIZE,
                dpdk_sys::SOCKET_ID_ANY,
            )
        };
        NonNull::new(mp)
            .map(Mempool)
            .ok_or_else(|| DpdkError::from_rte_errno(format!("rte_pktmbuf_pool_create({name})")))
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.0.as_ptr()
    }

    /// One mbuf, or `None` when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid; a NULL result is handled.
        let m = unsafe { dpdk_sys::shim_pktmbuf_alloc(self.0.as_ptr()) };
        // SAFETY: a non-NULL mbuf fresh from the pool is owned by us alone.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Free mbufs in the pool (cached ones included).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.0.as_ptr()) }
    }
}
