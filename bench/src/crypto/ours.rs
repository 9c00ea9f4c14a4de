//! Our batched engine (`macsec_dataplane::gcm`), one contender per path this CPU has, 32 frames
//! per `seal_batch` / `open_batch` call.

use macsec_dataplane::gcm::{Engine, GcmKeySchedule, OpenJob, Path, SealJob};

use super::work::{Direction, Work, AAD_LEN};
use super::{Contender, Runner};

/// Frames per engine call (the runtime's burst).
pub const CALL: usize = 32;

pub struct Ours {
    engine: Engine,
}

impl Ours {
    /// Every path of this CPU, slowest first.
    pub fn all() -> Vec<Ours> {
        Engine::available().into_iter().filter_map(Engine::with_path).map(|engine| Ours { engine }).collect()
    }

    pub fn path(&self) -> Path {
        self.engine.path()
    }
}

impl Contender for Ours {
    fn name(&self) -> String {
        format!("ours ({})", self.engine.path().name())
    }

    fn ours(&self) -> bool {
        true
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        let key = GcmKeySchedule::new(&w.key).map_err(|e| format!("{e:?}"))?;
        Ok(Box::new(OursRunner {
            engine: self.engine,
            key,
            ivs: w.frames.iter().map(|f| f.iv).collect(),
            aads: w.frames.iter().map(|f| f.aad).collect(),
            bufs: w.frames.iter().map(|f| f.data.clone()).collect(),
            tags: w.frames.iter().map(|f| f.tags).collect(),
            out: vec![[0; 16]; w.frames.len()],
            phase: 0,
            encrypt: w.direction == Direction::Encrypt,
        }))
    }
}

struct OursRunner {
    engine: Engine,
    key: GcmKeySchedule,
    ivs: Vec<[u8; 12]>,
    aads: Vec<[u8; AAD_LEN]>,
    bufs: Vec<Vec<u8>>,
    tags: Vec<[[u8; 16]; 2]>,
    /// Where seal writes each frame's tag.
    out: Vec<[u8; 16]>,
    phase: usize,
    encrypt: bool,
}

impl Runner for OursRunner {
    fn run(&mut self) -> Result<(), &'static str> {
        let phase = self.phase;
        self.phase ^= 1;
        let mut ok = true;
        let mut start = 0;
        for chunk in self.bufs.chunks_mut(CALL) {
            let range = start..start + chunk.len();
            start += chunk.len();
            let meta = self.ivs[range.clone()].iter().zip(&self.aads[range.clone()]).zip(&self.tags[range.clone()]);
            if self.encrypt {
                let mut jobs: Vec<SealJob<'_>> = chunk
                    .iter_mut()
                    .zip(meta)
                    .zip(&mut self.out[range])
                    .map(|((d, ((iv, aad), _)), tag)| SealJob { key: &self.key, iv: *iv, aad, data: d, tag })
                    .collect();
                self.engine.seal_batch(&mut jobs);
                std::hint::black_box(&jobs);
            } else {
                let mut jobs: Vec<OpenJob<'_>> = chunk
                    .iter_mut()
                    .zip(meta)
                    .map(|(d, ((iv, aad), t))| OpenJob {
                        key: &self.key,
                        iv: *iv,
                        aad,
                        data: d,
                        tag: &t[phase],
                        ok: false,
                    })
                    .collect();
                self.engine.open_batch(&mut jobs);
                ok &= jobs.iter().all(|j| j.ok);
            }
        }
        ok.then_some(()).ok_or("authentication failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizes::Size;

    #[test]
    fn every_path_passes_twice() {
        for o in Ours::all() {
            for dir in [Direction::Encrypt, Direction::Decrypt] {
                for bits in [128, 256] {
                    let w = Work::new(bits, dir, Size::Imix, 96, 11);
                    let mut r = o.prepare(&w).unwrap();
                    for _ in 0..3 {
                        assert_eq!(r.run(), Ok(()), "{} {dir:?} {bits}", o.name());
                    }
                }
            }
        }
    }
}
