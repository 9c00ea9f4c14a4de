//! The engine behind the SecY's per-frame [`GcmBackend`] trait.
#![forbid(unsafe_code)]

use crate::secy::{GcmBackend, GcmKey, Iv, KeySetupError, OpenItem, Sak, SealItem, Unauthentic, ICV_LEN};

use arrayvec::ArrayVec;

use super::{Engine, GcmKeySchedule, OpenJob, SealJob};

/// The own engine as a SecY backend: each key holds its [`GcmKeySchedule`] and the engine.
#[derive(Clone, Copy, Debug)]
pub struct EngineBackend {
    engine: Engine,
}

impl EngineBackend {
    /// The best path of this CPU (or `MACSEC_GCM_PATH`), see [`Engine::detect`].
    pub fn detect() -> Self {
        EngineBackend { engine: Engine::detect() }
    }

    /// A backend on a given engine.
    pub fn new(engine: Engine) -> Self {
        EngineBackend { engine }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }
}

impl GcmBackend for EngineBackend {
    fn name(&self) -> &'static str {
        match self.engine.path() {
            super::Path::Portable => "engine-portable",
            super::Path::AesNi => "engine-aesni",
            super::Path::Vaes256 => "engine-vaes256",
            super::Path::Vaes512 => "engine-vaes512",
        }
    }

    fn key(&self, sak: &Sak) -> Result<Box<dyn GcmKey>, KeySetupError> {
        let key = GcmKeySchedule::new(sak.expose()).map_err(|_| KeySetupError)?;
        Ok(Box::new(EngineKey { engine: self.engine, key }))
    }
}

/// Frames per engine call: the SecY's batch (`appliance::pipeline::MAX_BATCH`, a DPDK burst).
/// The job arrays are built whole per call, so a larger size only costs stores.
const BATCH: usize = 32;

/// An SA's key on the engine.
pub(crate) struct EngineKey {
    pub(crate) engine: Engine,
    pub(crate) key: GcmKeySchedule,
}

impl GcmKey for EngineKey {
    fn seal(&self, iv: &Iv, aad: &[u8], data: &mut [u8]) -> [u8; ICV_LEN] {
        let mut tag = [0; ICV_LEN];
        self.engine.seal_batch(&mut [SealJob { key: &self.key, iv: iv.0, aad, data, tag: &mut tag }]);
        tag
    }

    fn open(&self, iv: &Iv, aad: &[u8], data_and_icv: &mut [u8]) -> Result<(), Unauthentic> {
        let Some((data, tag)) = data_and_icv.split_last_chunk_mut::<ICV_LEN>() else { return Err(Unauthentic) };
        let mut job = [OpenJob { key: &self.key, iv: iv.0, aad, data, tag, ok: false }];
        self.engine.open_batch(&mut job);
        if job[0].ok {
            Ok(())
        } else {
            Err(Unauthentic)
        }
    }

    fn seal_batch(&self, items: &mut [SealItem<'_>]) {
        for chunk in items.chunks_mut(BATCH) {
            // An ICV slot of another length than SealItem's 16 octets gets its tag dropped here;
            // its data is encrypted all the same.
            let mut spare = [[0u8; ICV_LEN]; BATCH];
            let mut jobs: ArrayVec<SealJob<'_>, BATCH> = ArrayVec::new();
            // At most BATCH items per chunk: the pushes fit.
            for (SealItem { iv, aad, data, icv }, spare) in chunk.iter_mut().zip(spare.iter_mut()) {
                let tag = <&mut [u8; ICV_LEN]>::try_from(&mut **icv).unwrap_or(spare);
                jobs.push(SealJob { key: &self.key, iv: iv.0, aad, data, tag });
            }
            self.engine.seal_batch(&mut jobs);
        }
    }

    fn engine(&self) -> Option<(Engine, &GcmKeySchedule)> {
        Some((self.engine, &self.key))
    }

    fn open_batch(&self, items: &mut [OpenItem<'_>]) {
        for chunk in items.chunks_mut(BATCH) {
            let mut jobs: ArrayVec<OpenJob<'_>, BATCH> = ArrayVec::new();
            let mut oks: ArrayVec<&mut bool, BATCH> = ArrayVec::new();
            // At most BATCH items per chunk: the pushes fit.
            for OpenItem { iv, aad, data_and_icv, ok } in chunk.iter_mut() {
                *ok = false;
                let Some((data, tag)) = data_and_icv.split_last_chunk_mut::<ICV_LEN>() else { continue };
                jobs.push(OpenJob { key: &self.key, iv: iv.0, aad, data, tag, ok: false });
                oks.push(ok);
            }
            self.engine.open_batch(&mut jobs);
            for (job, ok) in jobs.iter().zip(oks) {
                *ok = job.ok;
            }
        }
    }
}
