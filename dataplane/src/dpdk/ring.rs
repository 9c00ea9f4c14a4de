//! `rte_ring`s carrying owned mbufs between lcores (punt to the service lcore, dispatch to
//! workers).

use std::ffi::{c_void, CString};
use std::ptr::NonNull;

use super::{DpdkError, Mbuf, MbufBurst};

/// A ring of mbufs. Enqueue moves ownership into the ring, dequeue moves it out.
#[derive(Debug)]
pub struct Ring(NonNull<dpdk_sys::rte_ring>);

// SAFETY: rte_ring is designed for use from several lcores (this one is created
// single-producer/single-consumer, and the runtime keeps one producer and one consumer).
unsafe impl Send for Ring {}
// SAFETY: as above; the SP/SC contract is the caller's (one producer lcore, one consumer lcore).
unsafe impl Sync for Ring {}

impl Ring {
    /// A single-producer/single-consumer ring of `count` (a power of two) slots.
    pub fn new(name: &str, count: u32) -> Result<Ring, DpdkError> {
        let c = CString::new(name).map_err(|_| DpdkError::new("rte_ring_create (NUL)", 22))?;
        let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;
        // SAFETY: c is a valid C string; DPDK copies the name.
        let r = unsafe { dpdk_sys::rte_ring_create(c.as_ptr(), count, dpdk_sys::SOCKET_ID_ANY, flags) };
        NonNull::new(r).map(Ring).ok_or_else(|| DpdkError::from_rte_errno(format!("rte_ring_create({name})")))
    }

    /// Moves one mbuf in; gives it back when the ring is full.
    pub fn enqueue(&self, m: Mbuf) -> Result<(), Mbuf> {
        let p = m.into_raw().cast::<c_void>();
        // SAFETY: one valid object pointer; on success the ring owns the mbuf.
        let n = unsafe { dpdk_sys::shim_ring_enqueue_burst(self.0.as_ptr(), &p, 1) };
        if n == 1 {
            return Ok(());
        }
        // SAFETY: not enqueued: we still own it.
        Err(unsafe { Mbuf::from_raw(NonNull::new_unchecked(p.cast())) })
    }

    /// Moves as many mbufs of `burst` in as fit (from the front); returns how many.
    pub fn enqueue_burst(&self, burst: &mut MbufBurst) -> usize {
        if burst.is_empty() {
            return 0;
        }
        let n = burst.len() as u32;
        // SAFETY: the first n pointers are owned mbufs; the ring takes the first `done`.
        let done = unsafe { dpdk_sys::shim_ring_enqueue_burst(self.0.as_ptr(), burst.as_mut_ptr().cast(), n) } as usize;
        burst.consumed(done);
        done
    }

    /// Moves up to a burst out into the empty `burst`.
    pub fn dequeue_burst(&self, burst: &mut MbufBurst) -> usize {
        let r = self.0.as_ptr();
        burst.fill_with(|ptrs, n| {
            // SAFETY: ptrs has room for n pointers; dequeued mbufs become ours.
            unsafe { dpdk_sys::shim_ring_dequeue_burst(r, ptrs.cast(), u32::from(n)) as u16 }
        });
        burst.len()
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_ring {
        self.0.as_ptr()
    }

    pub fn count(&self) -> u32 {
        // SAFETY: valid ring.
        unsafe { dpdk_sys::shim_ring_count(self.0.as_ptr()) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let mut b = MbufBurst::new();
        while self.dequeue_burst(&mut b) > 0 {
            b.free_all();
        }
        // SAFETY: emptied above; no lcore uses the ring once its owner drops it.
        unsafe { dpdk_sys::rte_ring_free(self.0.as_ptr()) };
    }
}
