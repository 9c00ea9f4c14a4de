//! The frame buffer the SecY works on: a `Vec<u8>` in tests and tools, an mbuf in the DPDK
//! runtime. Protect grows a frame at both ends (SecTAG in front of the User Data, ICV behind);
//! validate shrinks it again.

/// Not enough head- or tailroom to grow the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRoom;

/// A contiguous frame (DA first, no FCS) that can grow and shrink at both ends.
pub trait FrameBuf {
    fn bytes(&self) -> &[u8];
    fn bytes_mut(&mut self) -> &mut [u8];
    /// Adds `n` octets in front; their content is unspecified.
    fn prepend(&mut self, n: usize) -> Result<(), NoRoom>;
    /// Adds `n` octets at the end; their content is unspecified.
    fn append(&mut self, n: usize) -> Result<(), NoRoom>;
    /// Removes `n` octets from the front (`n` ≤ len).
    fn trim_front(&mut self, n: usize);
    /// Removes `n` octets from the end (`n` ≤ len).
    fn trim_back(&mut self, n: usize);

    fn len(&self) -> usize {
        self.bytes().len()
    }
    /// A hint that the frame's first octets, and the `headroom` octets before them, are about
    /// to be read or written: a buffer in memory the core has not touched yet (a NIC's DMA)
    /// starts loading them. Changes nothing.
    fn prefetch(&self, _headroom: usize) {}
    fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

impl FrameBuf for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
    fn prepend(&mut self, n: usize) -> Result<(), NoRoom> {
        self.splice(0..0, std::iter::repeat(0).take(n));
        Ok(())
    }
    fn append(&mut self, n: usize) -> Result<(), NoRoom> {
        self.resize(self.len() + n, 0);
        Ok(())
    }
    fn trim_front(&mut self, n: usize) {
        self.drain(..n.min(self.len()));
    }
    fn trim_back(&mut self, n: usize) {
        self.truncate(self.len().saturating_sub(n));
    }
}
