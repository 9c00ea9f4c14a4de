//! A small safe AES-GCM driver over a DPDK cryptodev (the ipsec-mb software PMD,
//! `crypto_aesni_gcm`), so that `macsec-bench` can time Intel ipsec-mb the way DPDK
//! applications use it: one op per frame, enqueue and dequeue bursts of 32.
//!
//! The frames live in mbufs of this driver's own pool: the AAD in the headroom, the data at
//! `data_off`, the tag right behind the data. EAL must be initialised with `--vdev <name>`
//! first ([`AeadDevice::open`] checks that it is).
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_void, CString};
use std::fmt;
use std::ptr::NonNull;

use crate::{rte_crypto_op, rte_mbuf, rte_mempool};

/// Ops per enqueue/dequeue call.
pub const BURST: usize = 32;
/// Largest frame a job may carry.
pub const MAX_DATA: usize = 9216;
/// Largest AAD a job may carry (it sits in the mbuf headroom).
pub const MAX_AAD: usize = 64;
const TAG_LEN: usize = 16;
const HEADROOM: u16 = 128;
const STATUS_SUCCESS: u8 = 0; // RTE_CRYPTO_OP_STATUS_SUCCESS

/// A failed cryptodev call: the operation and the (negative errno or -1) it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoDevError {
    pub op: &'static str,
    pub code: i32,
}

impl fmt::Display for CryptoDevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({})", self.op, self.code)
    }
}

impl std::error::Error for CryptoDevError {}

fn err(op: &'static str, code: i32) -> CryptoDevError {
    CryptoDevError { op, code }
}

/// A configured and started cryptodev with one queue pair, plus the pools its jobs use.
pub struct AeadDevice {
    dev: u8,
    sess_pool: NonNull<rte_mempool>,
    op_pool: NonNull<rte_mempool>,
    mbuf_pool: NonNull<rte_mempool>,
}

impl AeadDevice {
    /// Opens the cryptodev `name` (a `--vdev` given to EAL), with room for `max_ops` jobs in
    /// flight or held by batches at once.
    pub fn open(name: &str, max_ops: u32) -> Result<AeadDevice, CryptoDevError> {
        // SAFETY: reads EAL's static configuration; 0 before rte_eal_init has run.
        if unsafe { crate::rte_lcore_count() } == 0 {
            return Err(err("AeadDevice::open (EAL is not initialised)", -1));
        }
        let cname = CString::new(name).map_err(|_| err("rte_cryptodev_get_dev_id (name with NUL)", -22))?;
        // SAFETY: EAL is initialised; cname is a valid C string for the call.
        let id = unsafe { crate::rte_cryptodev_get_dev_id(cname.as_ptr()) };
        let dev = u8::try_from(id).map_err(|_| err("rte_cryptodev_get_dev_id", id))?;
        let conf = crate::rte_cryptodev_config { socket_id: -1, nb_queue_pairs: 1, ..Default::default() };
        // SAFETY: dev is a valid device id; conf outlives the call.
        let rc = unsafe { crate::rte_cryptodev_configure(dev, &conf as *const _ as *mut _) };
        if rc < 0 {
            return Err(err("rte_cryptodev_configure", rc));
        }
        // SAFETY: dev is a valid, configured device.
        let sess_size = unsafe { crate::rte_cryptodev_sym_get_private_session_size(dev) };
        let sess_pool = pool("rte_cryptodev_sym_session_pool_create", |n| {
            // SAFETY: n is a valid C string; DPDK copies it.
            unsafe { crate::rte_cryptodev_sym_session_pool_create(n, 64, sess_size, 0, 0, -1) }
        })?;
        let qp = crate::rte_cryptodev_qp_conf { nb_descriptors: 2048, mp_session: sess_pool.as_ptr() };
        // SAFETY: dev is configured with one queue pair; qp and its pool outlive the call.
        let rc = unsafe { crate::rte_cryptodev_queue_pair_setup(dev, 0, &qp, -1) };
        if rc < 0 {
            return Err(err("rte_cryptodev_queue_pair_setup", rc));
        }
        // SAFETY: dev is configured and its queue pair set up.
        let rc = unsafe { crate::rte_cryptodev_start(dev) };
        if rc < 0 {
            return Err(err("rte_cryptodev_start", rc));
        }
        let op_pool = pool("rte_crypto_op_pool_create", |n| {
            // SAFETY: n is a valid C string; the private area holds the 12-octet IV (16 reserved).
            unsafe { crate::rte_crypto_op_pool_create(n, crate::RTE_CRYPTO_OP_TYPE_SYMMETRIC, max_ops, 0, 16, -1) }
        })?;
        let room = HEADROOM + MAX_DATA as u16 + 64;
        let mbuf_pool = pool("rte_pktmbuf_pool_create", |n| {
            // SAFETY: n is a valid C string; data room covers headroom, MAX_DATA and the tag.
            unsafe { crate::rte_pktmbuf_pool_create(n, max_ops, 0, 0, room, -1) }
        })?;
        Ok(AeadDevice { dev, sess_pool, op_pool, mbuf_pool })
    }
}

impl Drop for AeadDevice {
    fn drop(&mut self) {
        // SAFETY: every batch borrowed the device and is gone; stopping a started device is fine.
        unsafe { crate::rte_cryptodev_stop(self.dev) };
    }
}

/// Creates a pool with a name unique in the process (DPDK names are global).
fn pool(
    op: &'static str,
    create: impl FnOnce(*const std::ffi::c_char) -> *mut rte_mempool,
) -> Result<NonNull<rte_mempool>, CryptoDevError> {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = CString::new(format!("bcd{n}")).map_err(|_| err(op, -22))?;
    NonNull::new(create(name.as_ptr())).ok_or_else(|| err(op, -1))
}

/// One frame for a batch.
pub struct AeadJob<'a> {
    pub iv: [u8; 12],
    pub aad: &'a [u8],
    pub data: &'a [u8],
}

/// A fixed set of AES-GCM ops with one session (one key, one direction), each op bound to its
/// own mbuf, re-run as often as the caller likes.
pub struct AeadBatch<'d> {
    dev: &'d AeadDevice,
    sess: NonNull<c_void>,
    ops: Vec<*mut rte_crypto_op>,
    mbufs: Vec<NonNull<rte_mbuf>>,
    lens: Vec<usize>,
    done: [*mut rte_crypto_op; BURST],
}

impl<'d> AeadBatch<'d> {
    /// A session for `key` (16 or 32 octets) and one op per job, data copied in.
    pub fn new(dev: &'d AeadDevice, encrypt: bool, key: &[u8], jobs: &[AeadJob<'_>]) -> Result<Self, CryptoDevError> {
        let aad_len = jobs.first().map_or(0, |j| j.aad.len());
        if jobs.iter().any(|j| j.aad.len() != aad_len || aad_len > MAX_AAD || j.data.len() > MAX_DATA) {
            return Err(err("AeadBatch::new (AAD lengths differ or a job is too long)", -22));
        }
        let klen = u16::try_from(key.len()).map_err(|_| err("AeadBatch::new (key length)", -22))?;
        // SAFETY: the device is started; key outlives the call (the PMD expands it at once).
        let sess = unsafe {
            crate::shim_crypto_aead_gcm_session(
                dev.dev,
                dev.sess_pool.as_ptr(),
                i32::from(encrypt),
                key.as_ptr(),
                klen,
                aad_len as u16,
            )
        };
        let sess = NonNull::new(sess).ok_or_else(|| err("rte_cryptodev_sym_session_create", -1))?;
        let mut batch = AeadBatch {
            dev,
            sess,
            ops: Vec::new(),
            mbufs: Vec::new(),
            lens: Vec::new(),
            done: [std::ptr::null_mut(); BURST],
        };
        for j in jobs {
            batch.push(j)?;
        }
        Ok(batch)
    }

    fn push(&mut self, job: &AeadJob<'_>) -> Result<(), CryptoDevError> {
        // SAFETY: the pool is valid; NULL (empty pool) is handled.
        let m = NonNull::new(unsafe { crate::shim_pktmbuf_alloc(self.dev.mbuf_pool.as_ptr()) })
            .ok_or_else(|| err("rte_pktmbuf_alloc", -12))?;
        self.mbufs.push(m);
        let mut op: *mut rte_crypto_op = std::ptr::null_mut();
        // SAFETY: the op pool is valid and `op` has room for one pointer.
        if unsafe { crate::shim_crypto_op_bulk_alloc(self.dev.op_pool.as_ptr(), &mut op, 1) } != 1 {
            return Err(err("rte_crypto_op_bulk_alloc", -12));
        }
        self.ops.push(op);
        let len = job.data.len();
        self.lens.push(len);
        // SAFETY: m is a fresh mbuf of our pool whose data room holds HEADROOM + MAX_DATA + 64, so
        // the data, the tag behind it and the AAD in the headroom are in bounds; op is a fresh
        // symmetric op whose private area holds the IV.
        unsafe {
            let data = crate::shim_pktmbuf_append(m.as_ptr(), len as u16 + TAG_LEN as u16).cast::<u8>();
            if data.is_null() {
                return Err(err("rte_pktmbuf_append", -28));
            }
            crate::shim_pktmbuf_trim(m.as_ptr(), TAG_LEN as u16);
            std::ptr::copy_nonoverlapping(job.data.as_ptr(), data, len);
            let aad = (*m.as_ptr()).buf_addr.cast::<u8>();
            std::ptr::copy_nonoverlapping(job.aad.as_ptr(), aad, job.aad.len());
            std::ptr::copy_nonoverlapping(job.iv.as_ptr(), crate::shim_crypto_op_iv(op), 12);
            let rc = crate::shim_crypto_op_set_aead(op, self.sess.as_ptr(), m.as_ptr(), len as u32, data.add(len), aad);
            if rc < 0 {
                return Err(err("rte_crypto_op_attach_sym_session", rc));
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn data_ptr(&self, i: usize) -> *mut u8 {
        let m = self.mbufs[i].as_ptr();
        // SAFETY: m is an mbuf this batch owns; buf_addr + data_off is its data start.
        unsafe { (*m).buf_addr.cast::<u8>().add(usize::from((*m).data_off)) }
    }

    /// Job `i`'s data as it is now (plaintext or ciphertext).
    pub fn data(&self, i: usize) -> &[u8] {
        // SAFETY: the data area of job i holds lens[i] initialised octets, owned by this batch.
        unsafe { std::slice::from_raw_parts(self.data_ptr(i), self.lens[i]) }
    }

    /// Job `i`'s tag: written by an encrypt run, checked by a decrypt run.
    pub fn tag(&self, i: usize) -> [u8; TAG_LEN] {
        let mut t = [0u8; TAG_LEN];
        // SAFETY: the tag sits right behind job i's data, inside the mbuf's data room.
        unsafe { std::ptr::copy_nonoverlapping(self.data_ptr(i).add(self.lens[i]), t.as_mut_ptr(), TAG_LEN) };
        t
    }

    /// Sets the tag a decrypt run of job `i` checks.
    pub fn set_tag(&mut self, i: usize, tag: &[u8; TAG_LEN]) {
        // SAFETY: as in `tag`; &mut self makes the write exclusive.
        unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), self.data_ptr(i).add(self.lens[i]), TAG_LEN) };
    }

    /// Runs every op once, in bursts of [`BURST`] (enqueue, then dequeue until the burst is
    /// back). Returns how many ops did not succeed (a tag mismatch on decrypt).
    pub fn run(&mut self) -> Result<usize, CryptoDevError> {
        let mut failed = 0;
        let mut start = 0;
        while start < self.ops.len() {
            let n = (self.ops.len() - start).min(BURST);
            failed += self.run_burst(start, n)?;
            start += n;
        }
        Ok(failed)
    }

    fn run_burst(&mut self, start: usize, n: usize) -> Result<usize, CryptoDevError> {
        for &op in &self.ops[start..start + n] {
            // SAFETY: op is a valid op this batch owns and not in flight.
            unsafe { crate::shim_crypto_op_reset_status(op) };
        }
        let (mut enq, mut deq, mut idle) = (0usize, 0usize, 0u32);
        while deq < n {
            if enq < n {
                // SAFETY: ops[start+enq..start+n] are valid, owned, not in flight; the PMD takes
                // the first `k` of them until they come back from dequeue.
                let k = unsafe {
                    crate::shim_cryptodev_enqueue_burst(
                        self.dev.dev,
                        0,
                        self.ops.as_mut_ptr().add(start + enq),
                        (n - enq) as u16,
                    )
                };
                enq += usize::from(k);
            }
            // SAFETY: `done` has room for BURST pointers and n - deq ≤ BURST.
            let k = unsafe {
                crate::shim_cryptodev_dequeue_burst(self.dev.dev, 0, self.done.as_mut_ptr().add(deq), (n - deq) as u16)
            };
            deq += usize::from(k);
            idle = if k == 0 { idle + 1 } else { 0 };
            if idle > 10_000_000 {
                return Err(err("rte_cryptodev_dequeue_burst (ops never came back)", -110));
            }
        }
        // SAFETY: the first n entries of `done` are ops the PMD returned to us.
        Ok(self.done[..n].iter().filter(|&&op| unsafe { crate::shim_crypto_op_status(op) } != STATUS_SUCCESS).count())
    }
}

impl Drop for AeadBatch<'_> {
    fn drop(&mut self) {
        for &op in &self.ops {
            // SAFETY: op belongs to this batch and is not in flight (run() always drains).
            unsafe { crate::shim_crypto_op_free(op) };
        }
        for m in &self.mbufs {
            // SAFETY: the mbuf belongs to this batch; the PMD handed it back with its op.
            unsafe { crate::shim_pktmbuf_free(m.as_ptr()) };
        }
        // SAFETY: no op references the session any more.
        unsafe { crate::rte_cryptodev_sym_session_free(self.dev.dev, self.sess.as_ptr()) };
    }
}
