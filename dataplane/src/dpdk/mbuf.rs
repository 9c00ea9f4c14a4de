//! The mbuf newtype (one owner, freed exactly once) and a fixed-size burst of them.

use std::ptr::NonNull;

use crate::secy::{FrameBuf, NoRoom};

/// Frames per burst.
pub const BURST: usize = 32;

/// One single-segment packet buffer. `Send` (ownership moves between lcores) but not `Sync`
/// (never shared). Frees itself on drop; [`Mbuf::into_raw`] hands ownership to DPDK.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<dpdk_sys::rte_mbuf>);

// SAFETY: an mbuf has one owner at a time; sending it to another lcore moves that ownership.
unsafe impl Send for Mbuf {} // deliberately not Sync

impl Mbuf {
    /// Takes ownership of `m`.
    ///
    /// # Safety
    /// `m` must be a valid mbuf that nobody else owns or will free.
    pub unsafe fn from_raw(m: NonNull<dpdk_sys::rte_mbuf>) -> Self {
        Mbuf(m)
    }

    /// Gives up ownership: the caller (a PMD, a ring) now frees it.
    pub fn into_raw(self) -> *mut dpdk_sys::rte_mbuf {
        std::mem::ManuallyDrop::new(self).0.as_ptr()
    }

    fn raw(&self) -> &dpdk_sys::rte_mbuf {
        // SAFETY: we own a valid mbuf; reading its header is fine.
        unsafe { self.0.as_ref() }
    }

    /// The header of a single-segment mbuf, for the length updates that DPDK's static inline
    /// `rte_pktmbuf_prepend`/`append`/`adj`/`trim` do: done here, they inline into the SecY
    /// instead of costing a call into the C shim per frame. `None` for a chain (nb_segs > 1):
    /// that goes through the shim, which finds the last segment.
    fn single_segment_mut(&mut self) -> Option<&mut dpdk_sys::rte_mbuf> {
        // SAFETY: we own a valid mbuf and `&mut self` makes the access exclusive. nb_segs sits
        // in the first cache line with data_off and data_len, unlike `next`.
        let m = unsafe { self.0.as_mut() };
        (m.nb_segs == 1).then_some(m)
    }

    /// The frame (first segment; our pools make single-segment mbufs).
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer, which we own.
        unsafe {
            std::slice::from_raw_parts(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), usize::from(m.data_len))
        }
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw();
        let (addr, off, len) = (m.buf_addr.cast::<u8>(), usize::from(m.data_off), usize::from(m.data_len));
        // SAFETY: as in `data`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(addr.add(off), len) }
    }

    /// Starts loading the cache lines of the frame's first octet and of `headroom` octets
    /// before it (DPDK's `rte_prefetch0` on the packet data, as l2fwd and ipsec-secgw do).
    pub fn prefetch_data(&self, headroom: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let m = self.raw();
            let start = m.buf_addr.cast::<i8>().cast_const().wrapping_add(usize::from(m.data_off));
            // SAFETY: a prefetch is a hint: it reads nothing architecturally and never faults,
            // whatever the address (wrapping_sub keeps the pointer arithmetic defined).
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(start);
                _mm_prefetch::<_MM_HINT_T0>(start.wrapping_sub(headroom));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = headroom;
    }

    /// Sets the frame length to `len` and copies `bytes` in (for generators and tests).
    pub fn fill(&mut self, bytes: &[u8]) -> Result<(), NoRoom> {
        let cur = self.data().len();
        if bytes.len() > cur {
            self.append(bytes.len() - cur)?;
        } else {
            self.trim_back(cur - bytes.len());
        }
        self.data_mut().copy_from_slice(bytes);
        Ok(())
    }

    /// The packet length DPDK keeps beside the segment's data length (equal for one segment).
    pub fn pkt_len(&self) -> u32 {
        self.raw().pkt_len
    }

    /// The input port the PMD stamped.
    pub fn port(&self) -> u16 {
        self.raw().port
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we are the only owner; the mbuf goes back to its pool exactly once.
        unsafe { dpdk_sys::shim_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl FrameBuf for Mbuf {
    fn bytes(&self) -> &[u8] {
        self.data()
    }
    fn prefetch(&self, headroom: usize) {
        self.prefetch_data(headroom);
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.data_mut()
    }
    fn prepend(&mut self, n: usize) -> Result<(), NoRoom> {
        let n = u16::try_from(n).map_err(|_| NoRoom)?;
        let Some(m) = self.single_segment_mut() else {
            // SAFETY: valid owned mbuf; NULL means no headroom and changes nothing.
            let p = unsafe { dpdk_sys::shim_pktmbuf_prepend(self.0.as_ptr(), n) };
            return if p.is_null() { Err(NoRoom) } else { Ok(()) };
        };
        // rte_pktmbuf_prepend: the headroom is data_off.
        if n > m.data_off {
            return Err(NoRoom);
        }
        m.data_off -= n;
        m.data_len += n; // ≤ buf_len - data_off, a u16: data_off + data_len never exceeds buf_len
        m.pkt_len = m.pkt_len.wrapping_add(u32::from(n)); // uint32_t arithmetic, as in C
        Ok(())
    }
    fn append(&mut self, n: usize) -> Result<(), NoRoom> {
        let n = u16::try_from(n).map_err(|_| NoRoom)?;
        let Some(m) = self.single_segment_mut() else {
            // SAFETY: valid owned mbuf; NULL means no tailroom and changes nothing.
            let p = unsafe { dpdk_sys::shim_pktmbuf_append(self.0.as_ptr(), n) };
            return if p.is_null() { Err(NoRoom) } else { Ok(()) };
        };
        // rte_pktmbuf_append on the only segment: the tailroom is buf_len - data_off - data_len.
        let tailroom = m.buf_len.wrapping_sub(m.data_off).wrapping_sub(m.data_len);
        if n > tailroom {
            return Err(NoRoom);
        }
        m.data_len += n;
        m.pkt_len = m.pkt_len.wrapping_add(u32::from(n)); // uint32_t arithmetic, as in C
        Ok(())
    }
    fn trim_front(&mut self, n: usize) {
        let n = n.min(self.data().len()) as u16;
        let Some(m) = self.single_segment_mut() else {
            // SAFETY: n ≤ data_len, so adj succeeds.
            unsafe { dpdk_sys::shim_pktmbuf_adj(self.0.as_ptr(), n) };
            return;
        };
        // rte_pktmbuf_adj, with n ≤ data_len.
        m.data_off += n;
        m.data_len -= n;
        m.pkt_len = m.pkt_len.wrapping_sub(u32::from(n)); // uint32_t arithmetic, as in C
    }
    fn trim_back(&mut self, n: usize) {
        let n = n.min(self.data().len()) as u16;
        let Some(m) = self.single_segment_mut() else {
            // SAFETY: n ≤ data_len, so trim succeeds.
            unsafe { dpdk_sys::shim_pktmbuf_trim(self.0.as_ptr(), n) };
            return;
        };
        // rte_pktmbuf_trim on the only segment, with n ≤ data_len.
        m.data_len -= n;
        m.pkt_len = m.pkt_len.wrapping_sub(u32::from(n)); // uint32_t arithmetic, as in C
    }
}

/// Up to [`BURST`] owned mbufs in a fixed array: no allocation per burst.
pub struct MbufBurst {
    ptrs: [*mut dpdk_sys::rte_mbuf; BURST],
    len: usize,
}

// SAFETY: the burst owns its mbufs exclusively (see Mbuf).
unsafe impl Send for MbufBurst {}

impl Default for MbufBurst {
    fn default() -> Self {
        MbufBurst { ptrs: [std::ptr::null_mut(); BURST], len: 0 }
    }
}

impl MbufBurst {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == BURST
    }

    /// Adds an mbuf; gives it back when the burst is full.
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST {
            return Err(m);
        }
        self.ptrs[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    /// Takes the last mbuf out.
    pub fn pop(&mut self) -> Option<Mbuf> {
        let i = self.len.checked_sub(1)?;
        self.len = i;
        // SAFETY: index i < old len holds a non-null owned mbuf; ownership moves out here.
        Some(unsafe { Mbuf::from_raw(NonNull::new_unchecked(self.ptrs[i])) })
    }

    /// The mbufs as a slice the SecY can work on.
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: Mbuf is repr(transparent) over NonNull<rte_mbuf>; the first `len` pointers
        // are non-null mbufs this burst owns, so they are valid `Mbuf`s borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptrs.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }

    /// Moves every mbuf for which `keep(index)` is false into `other` (in order, as long as it
    /// has room; the rest are freed) and compacts the kept ones. Returns how many were freed.
    pub fn split_off_where(&mut self, mut keep: impl FnMut(usize) -> bool, other: Option<&mut MbufBurst>) -> usize {
        let mut other = other;
        let mut kept = 0;
        let mut freed = 0;
        for i in 0..self.len {
            let p = self.ptrs[i];
            if keep(i) {
                self.ptrs[kept] = p;
                kept += 1;
                continue;
            }
            // SAFETY: p is one of our non-null owned mbufs; ownership moves to `m` here.
            let m = unsafe { Mbuf::from_raw(NonNull::new_unchecked(p)) };
            let rejected = match other.as_deref_mut() {
                Some(o) => o.push(m).err(),
                None => Some(m),
            };
            if let Some(m) = rejected {
                drop(m);
                freed += 1;
            }
        }
        self.len = kept;
        freed
    }

    /// Moves every mbuf, in order, into `parts[pick(&mbuf)]` (a LAG member's burst) and leaves
    /// this burst empty. An index past `parts` goes to the last part; a full part frees the mbuf.
    /// Returns how many were freed (none when the parts started empty: each holds a burst).
    pub fn distribute(&mut self, parts: &mut [MbufBurst], mut pick: impl FnMut(&Mbuf) -> usize) -> usize {
        let mut freed = 0;
        for i in 0..self.len {
            // SAFETY: index i < len holds a non-null owned mbuf; ownership moves to `m` here and
            // `len` is reset below, so it is not reached through this burst again.
            let m = unsafe { Mbuf::from_raw(NonNull::new_unchecked(self.ptrs[i])) };
            let k = pick(&m).min(parts.len().saturating_sub(1));
            match parts.get_mut(k) {
                Some(part) => {
                    if part.push(m).is_err() {
                        freed += 1;
                    }
                }
                None => {
                    drop(m);
                    freed += 1;
                }
            }
        }
        self.len = 0;
        freed
    }

    /// Raw pointers for `rte_eth_rx_burst` to fill: the burst must be empty.
    pub(crate) fn fill_with(&mut self, f: impl FnOnce(*mut *mut dpdk_sys::rte_mbuf, u16) -> u16) {
        debug_assert!(self.len == 0);
        let n = f(self.ptrs.as_mut_ptr(), BURST as u16);
        self.len = usize::from(n).min(BURST);
    }

    /// Hands the first `n` mbufs to DPDK (a PMD accepted them) and keeps the rest in order.
    pub(crate) fn consumed(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ptrs.copy_within(n..self.len, 0);
        self.len -= n;
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut *mut dpdk_sys::rte_mbuf {
        self.ptrs.as_mut_ptr()
    }

    /// Frees every mbuf in the burst; returns how many.
    pub fn free_all(&mut self) -> usize {
        let n = self.len;
        if n > 0 {
            // SAFETY: the first n pointers are owned mbufs; they are freed once and forgotten.
            unsafe { dpdk_sys::shim_pktmbuf_free_bulk(self.ptrs.as_mut_ptr(), n as u32) };
        }
        self.len = 0;
        n
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.free_all();
    }
}
