//! Intel ipsec-mb as DPDK applications use it: the `crypto_aesni_gcm` vdev (DPDK 22.11's
//! ipsec-mb PMD) through the cryptodev API, one op per frame, bursts of 32 enqueued and
//! dequeued in this process on this core (`dpdk_sys::cryptodev`).

use dpdk_sys::cryptodev::{AeadBatch, AeadDevice, AeadJob};
use macsec_dataplane::dpdk::Eal;

use super::work::{Direction, Work};
use super::{Contender, Runner};

/// The vdev, as EAL and the cryptodev API name it.
pub const VDEV: &str = "crypto_aesni_gcm";

pub struct IpsecMb {
    dev: AeadDevice,
}

impl IpsecMb {
    /// Starts EAL in this process (once; pinned to CPU `cpu`, no hugepages) with the vdev, and
    /// opens it.
    pub fn start(cpu: usize) -> Result<IpsecMb, String> {
        let prefix = format!("macsec-bench-{}", std::process::id());
        let args = [
            "macsec-bench",
            "-l",
            &cpu.to_string(),
            "--no-pci",
            "--no-huge",
            "-m",
            "512",
            "--file-prefix",
            &prefix,
            "--log-level",
            "lib.eal:error",
            "--vdev",
            VDEV,
        ];
        // EAL stays up for the life of the process (the token has no Drop).
        let _eal = Eal::init(&args).map_err(|e| e.to_string())?;
        let dev = AeadDevice::open(VDEV, 4096).map_err(|e| e.to_string())?;
        Ok(IpsecMb { dev })
    }
}

impl Contender for IpsecMb {
    fn name(&self) -> String {
        "ipsec-mb (cryptodev)".into()
    }

    fn prepare(&self, w: &Work) -> Result<Box<dyn Runner + '_>, String> {
        let jobs: Vec<AeadJob<'_>> =
            w.frames.iter().map(|f| AeadJob { iv: f.iv, aad: &f.aad, data: &f.data }).collect();
        let encrypt = w.direction == Direction::Encrypt;
        let batch = AeadBatch::new(&self.dev, encrypt, &w.key, &jobs).map_err(|e| e.to_string())?;
        let tags = w.frames.iter().map(|f| f.tags).collect();
        Ok(Box::new(IpsecMbRunner { batch, tags, phase: 0, encrypt }))
    }
}

struct IpsecMbRunner<'d> {
    batch: AeadBatch<'d>,
    tags: Vec<[[u8; 16]; 2]>,
    phase: usize,
    encrypt: bool,
}

impl Runner for IpsecMbRunner<'_> {
    fn run(&mut self) -> Result<(), &'static str> {
        if !self.encrypt {
            for (i, t) in self.tags.iter().enumerate() {
                self.batch.set_tag(i, &t[self.phase]);
            }
            self.phase ^= 1;
        }
        match self.batch.run() {
            Ok(0) => Ok(()),
            Ok(_) => Err("authentication failed"),
            Err(_) => Err("cryptodev enqueue/dequeue failed"),
        }
    }
}
