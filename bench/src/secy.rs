//! The secy part: full protect and validate through the appliance's per-burst SecY pipeline
//! (`SecyWorker::protect_burst` / `validate_burst`, as the runtime calls them): policy, PN
//! reservation, SecTAG, IV, AAD, AES-GCM, ICV, replay check and MIB counters, on mbuf-shaped
//! buffers (2048 octets of data room behind 128 of headroom, no allocation per frame).
//!
//! Each burst of 32 frames is protected by side A and validated by side B, which restores it
//! to the original frame, so the same buffers cycle without a copy. Protect and validate are
//! timed apart with the TSC. The raw engine that the SecY runs on is measured in the same run
//! on the same work without the SecY (each frame's User Data, DA/SA excluded, with a 28-octet
//! AAD) and the ratio is taken on frames per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use macsec_dataplane::appliance::config::EncryptionMode;
use macsec_dataplane::appliance::pipeline::{Disposition, SecyContext, SecyWorker};
use macsec_dataplane::appliance::sa_manager::SaManager;
use macsec_dataplane::dpdk::tsc;
use macsec_dataplane::secy::{
    An, CipherSuite, FrameBuf, GcmBackend, NoRoom, Pn, SaParams, Sak, Salt, Sci, SecyConfig, Ssci,
};

use crate::clock::{timed, Rate};
use crate::crypto::work::{Direction, Work, XorShift};
use crate::crypto::{Contender, Options, Runner};
use crate::sizes::{Size, BATCH};

const HEADROOM: usize = 128;
const ROOM: usize = HEADROOM + 2048;
const BURST: usize = 32;
const A: Sci = Sci(0x0200_0000_000a_0001);
const B: Sci = Sci(0x0200_0000_000b_0001);

/// Ethernet frame sizes (DA to the end of the payload, no FCS).
pub const SECY_SIZES: [Size; 7] = [
    Size::Fixed(64),
    Size::Fixed(128),
    Size::Fixed(256),
    Size::Fixed(512),
    Size::Fixed(1024),
    Size::Fixed(1518),
    Size::Imix,
];

/// A frame in a fixed buffer with an mbuf's headroom and data room.
pub struct MbufLike {
    buf: Box<[u8; ROOM]>,
    off: usize,
    len: usize,
}

impl MbufLike {
    pub fn new(frame: &[u8]) -> MbufLike {
        let mut buf = Box::new([0u8; ROOM]);
        buf[HEADROOM..HEADROOM + frame.len()].copy_from_slice(frame);
        MbufLike { buf, off: HEADROOM, len: frame.len() }
    }
}

impl FrameBuf for MbufLike {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.off..self.off + self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.off..self.off + self.len]
    }
    fn prepend(&mut self, n: usize) -> Result<(), NoRoom> {
        self.off = self.off.checked_sub(n).ok_or(NoRoom)?;
        self.len += n;
        Ok(())
    }
    fn append(&mut self, n: usize) -> Result<(), NoRoom> {
        if self.off + self.len + n > ROOM {
            return Err(NoRoom);
        }
        self.len += n;
        Ok(())
    }
    fn trim_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.off += n;
        self.len -= n;
    }
    fn trim_back(&mut self, n: usize) {
        self.len -= n.min(self.len);
    }
}

/// A SecY backend to run the pipeline on, and the raw contender it corresponds to.
pub struct Backend {
    pub name: String,
    pub backend: Arc<dyn GcmBackend>,
    pub raw: Box<dyn Contender>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SecyResult {
    pub backend: String,
    pub suite: String,
    /// "protect" or "validate".
    pub stage: String,
    pub size: String,
    /// Frame octets (DA to payload end, before protect / after validate).
    #[serde(flatten)]
    pub rate: Rate,
    pub raw_implementation: String,
    pub raw_mpps: f64,
    /// SecY frames per second over raw engine frames per second on the same work.
    pub ratio_vs_raw: f64,
    pub error: Option<String>,
}

/// Side A (protects) and side B (validates) of one link, keyed with one SA.
struct Pair {
    a: SecyWorker,
    b: SecyWorker,
    _keys: (SaManager, SaManager),
}

fn pair(suite: CipherSuite, backend: &Arc<dyn GcmBackend>) -> Result<Pair, String> {
    let side = |sci| SecyContext::new(SecyConfig::new(suite), sci, EncryptionMode::MustEncrypt, 1, u64::MAX);
    let (ca, cb) = (side(A), side(B));
    let mut ka = SaManager::new(ca.slot.clone(), backend.clone(), suite);
    let mut kb = SaManager::new(cb.slot.clone(), backend.clone(), suite);
    let sak = Sak::from_slice(&vec![0x42; suite.key_len()]).map_err(|e| e.to_string())?;
    let an = An::new(0).ok_or("AN 0")?;
    let xpn = suite.is_xpn();
    let p = SaParams { an, pn: Pn(1), ssci: xpn.then_some(Ssci(1)), salt: xpn.then_some(Salt([5; 12])) };
    kb.install_rx_sa(A, &sak, &p).map_err(|e| e.to_string())?;
    ka.install_tx_sa(&sak, &p).map_err(|e| e.to_string())?;
    ka.enable_tx_sa(an).map_err(|e| e.to_string())?;
    Ok(Pair { a: SecyWorker::new(ca, 0), b: SecyWorker::new(cb, 0), _keys: (ka, kb) })
}

fn frames(size: Size, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = XorShift(seed | 1);
    size.lengths(BATCH)
        .into_iter()
        .map(|len| {
            let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00];
            f.extend((14..len).map(|_| rng.byte()));
            f
        })
        .collect()
}

/// TSC ticks per second, against the wall clock.
pub fn tsc_hz() -> f64 {
    let (t, c) = (Instant::now(), tsc());
    std::thread::sleep(Duration::from_millis(50));
    (tsc() - c) as f64 / t.elapsed().as_secs_f64()
}

/// TSC ticks spent in protect and in validate, frames and octets done, or the first failure.
struct Sample {
    protect: u64,
    validate: u64,
    frames: u64,
    bytes: u64,
}

fn run_pair(p: &mut Pair, bufs: &mut [MbufLike], d: Duration) -> Result<Sample, String> {
    let mut s = Sample { protect: 0, validate: 0, frames: 0, bytes: 0 };
    let batch_bytes: u64 = bufs.iter().map(|b| b.len as u64).sum();
    let start = Instant::now();
    loop {
        s.protect += stage(bufs, "protect", |b, out| p.a.protect_burst(b, out))?;
        s.validate += stage(bufs, "validate", |b, out| p.b.validate_burst(b, out))?;
        p.a.quiescent();
        p.b.quiescent();
        s.frames += bufs.len() as u64;
        s.bytes += batch_bytes;
        if start.elapsed() >= d {
            return Ok(s);
        }
    }
}

/// One side's pass over the whole batch, a burst at a time: TSC ticks spent in `burst`, or
/// the first drop. Each side works on frames the other finished a batch earlier, as the raw
/// engine's runs do, not on stores of the burst just before that may still be in flight.
fn stage(
    bufs: &mut [MbufLike],
    what: &str,
    mut burst: impl FnMut(&mut [MbufLike], &mut [Disposition]),
) -> Result<u64, String> {
    let mut out = [Disposition::Drop; BURST];
    let mut ticks = 0;
    for b in bufs.chunks_mut(BURST) {
        let n = b.len();
        let t0 = tsc();
        burst(b, &mut out[..n]);
        ticks += tsc() - t0;
        if out[..n].iter().any(|d| *d != Disposition::Forward) {
            return Err(format!("{what} dropped a frame"));
        }
    }
    Ok(ticks)
}

pub struct SecyOptions<'a> {
    pub suites: Vec<CipherSuite>,
    pub sizes: Vec<Size>,
    pub crypto: &'a Options,
    pub tsc_hz: f64,
}

pub fn run(backends: &[Backend], o: &SecyOptions<'_>) -> Vec<SecyResult> {
    let mut out = Vec::new();
    for b in backends {
        for &suite in &o.suites {
            for &size in &o.sizes {
                eprintln!("secy: {} {} {} B", b.name, suite.name(), size.label());
                out.extend(measure(b, suite, size, o));
            }
        }
    }
    out
}

fn measure(b: &Backend, suite: CipherSuite, size: Size, o: &SecyOptions<'_>) -> Vec<SecyResult> {
    let plain = frames(size, 0xf00d);
    let user: Vec<usize> = plain.iter().map(|f| f.len() - 12).collect();
    let bits = suite.key_len() * 8;
    let works =
        [Direction::Encrypt, Direction::Decrypt].map(|dir| Work::with_lengths(bits, dir, size.label(), &user, 0xbeef));
    let mut raw: Vec<Result<Box<dyn Runner + '_>, String>> = works.iter().map(|w| b.raw.prepare(w)).collect();
    // [protect, validate] of the SecY, then [encrypt, decrypt] raw, sampled in turns.
    let mut samples: [Vec<Rate>; 4] = Default::default();
    let mut error = raw.iter().find_map(|r| r.as_ref().err().cloned());
    let mut p = match pair(suite, &b.backend) {
        Ok(p) => Some(p),
        Err(e) => {
            error = Some(e);
            None
        }
    };
    let mut bufs: Vec<MbufLike> = plain.iter().map(|f| MbufLike::new(f)).collect();
    if let Some(p) = p.as_mut() {
        if let Err(e) = run_pair(p, &mut bufs, Duration::ZERO) {
            error = Some(e);
        } else if bufs.iter().zip(&plain).any(|(b, f)| b.bytes() != f.as_slice()) {
            error = Some("validate did not restore the frame".into());
        }
    }
    let secs = |t: u64| t as f64 / o.tsc_hz;
    let hz = o.crypto.core_hz;
    for _ in 0..o.crypto.runs {
        let (Some(p), None) = (p.as_mut(), &error) else { break };
        match run_pair(p, &mut bufs, o.crypto.duration) {
            Ok(s) => {
                samples[0].push(Rate::new(secs(s.protect), s.bytes, s.frames, hz));
                samples[1].push(Rate::new(secs(s.validate), s.bytes, s.frames, hz));
            }
            Err(e) => error = Some(e),
        }
        for (i, (r, w)) in raw.iter_mut().zip(&works).enumerate() {
            let Ok(r) = r else { continue };
            let n = w.frames.len() as u64;
            let mut failed = false;
            let (t, by, fr) = timed(o.crypto.duration, || {
                failed |= r.run().is_err();
                (w.bytes(), n)
            });
            if failed {
                error = Some(format!("raw {}: authentication failed", b.raw.name()));
            }
            samples[2 + i].push(Rate::new(t, by, fr, hz));
        }
    }
    let med = |s: &[Rate]| if s.is_empty() { Rate::new(f64::NAN, 0, 0, hz) } else { Rate::median_of(s) };
    ["protect", "validate"]
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let (rate, raw) = (med(&samples[i]), med(&samples[2 + i]));
            SecyResult {
                backend: b.name.clone(),
                suite: suite.name().to_string(),
                stage: stage.to_string(),
                size: size.label(),
                rate,
                raw_implementation: b.raw.name(),
                raw_mpps: raw.mpps,
                ratio_vs_raw: rate.mpps / raw.mpps,
                error: error.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use macsec_dataplane::secy::RingBackend;

    #[test]
    fn mbuf_like_grows_and_shrinks() {
        let mut m = MbufLike::new(&[1, 2, 3]);
        m.prepend(2).unwrap();
        m.append(4).unwrap();
        assert_eq!(m.len(), 9);
        m.trim_front(2);
        m.trim_back(4);
        assert_eq!(m.bytes(), &[1, 2, 3]);
        assert_eq!(m.prepend(HEADROOM + 1), Err(NoRoom));
    }

    #[test]
    fn a_protects_and_b_restores_every_suite() {
        let backend: Arc<dyn GcmBackend> = Arc::new(RingBackend);
        for suite in CipherSuite::ALL {
            let mut p = pair(suite, &backend).unwrap();
            let plain = frames(Size::Imix, 3);
            let mut bufs: Vec<MbufLike> = plain.iter().map(|f| MbufLike::new(f)).collect();
            for _ in 0..3 {
                run_pair(&mut p, &mut bufs, Duration::ZERO).unwrap();
            }
            assert!(bufs.iter().zip(&plain).all(|(b, f)| b.bytes() == f.as_slice()), "{suite:?}");
            assert_eq!(p.b.counters.rx_sa[0][0].in_pkts_ok, 3 * BATCH as u64);
        }
    }
}
