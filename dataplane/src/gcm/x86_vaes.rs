//! Placeholder until the VAES path lands.

use super::{OpenJob, SealJob};

#[derive(Clone, Copy, Debug)]
pub(super) struct Cpu(());

impl Cpu {
    pub(super) fn detect() -> Option<Cpu> {
        None
    }
}

pub(super) fn seal_batch(_cpu: Cpu, jobs: &mut [SealJob<'_>]) {
    super::portable::seal_batch(jobs)
}

pub(super) fn open_batch(_cpu: Cpu, jobs: &mut [OpenJob<'_>]) {
    super::portable::open_batch(jobs)
}
