//! One SecY: its controls, transmit SC, receive SCs and counters, with the management
//! operations MKA drives (IEEE 802.1AE-2018 10.7: create SC/SA, enable Tx/Rx SA).

use std::sync::Arc;

use super::counters::SecyStats;
use super::protect::{self, TxDrop, TxVerdict, MAC_ADDRS_LEN};
use super::sa::{RxSa, RxSc, SaError, SaParams, TxSa, TxSc};
use super::validate::{self, RxVerdict};
use super::{An, FrameBuf, GcmBackend, Sak, Sci, SecyConfig};

/// A SecY over a frame buffer type chosen per call.
pub struct Secy {
    pub config: SecyConfig,
    backend: Arc<dyn GcmBackend>,
    pub tx_sc: TxSc,
    pub rx_scs: Vec<RxSc>,
    pub stats: SecyStats,
}

impl Secy {
    pub fn new(config: SecyConfig, tx_sci: Sci, backend: Arc<dyn GcmBackend>) -> Self {
        Secy { config, backend, tx_sc: TxSc::new(tx_sci), rx_scs: Vec::new(), stats: SecyStats::default() }
    }

    /// Installs a transmit SA for `p.an` (not yet used for sending: see [`Self::enable_tx_sa`]).
    pub fn install_tx_sa(&mut self, sak: &Sak, p: &SaParams) -> Result<(), SaError> {
        let sa = TxSa::new(&*self.backend, self.config.cipher_suite, sak, p)?;
        self.tx_sc.sas[p.an.index()] = Some(sa);
        Ok(())
    }

    /// Makes `an` the encoding SA (10.7.16 encodingSA).
    pub fn enable_tx_sa(&mut self, an: An) -> Result<(), SaError> {
        if self.tx_sc.sas[an.index()].is_none() {
            return Err(SaError::BadPn);
        }
        self.tx_sc.encoding_an = Some(an);
        Ok(())
    }

    pub fn remove_tx_sa(&mut self, an: An) {
        self.tx_sc.sas[an.index()] = None;
        if self.tx_sc.encoding_an == Some(an) {
            self.tx_sc.encoding_an = None;
        }
    }

    /// Creates the receive SC for `sci` if it does not exist.
    pub fn add_rx_sc(&mut self, sci: Sci) {
        if self.rx_sc(sci).is_none() {
            self.rx_scs.push(RxSc::new(sci));
        }
    }

    pub fn remove_rx_sc(&mut self, sci: Sci) {
        self.rx_scs.retain(|sc| sc.sci != sci);
    }

    /// Installs and enables a receive SA on the SC of `sci` (10.7.13).
    pub fn install_rx_sa(&mut self, sci: Sci, sak: &Sak, p: &SaParams) -> Result<(), SaError> {
        let sa = RxSa::new(&*self.backend, self.config.cipher_suite, sak, p)?;
        let sc = self.rx_scs.iter_mut().find(|sc| sc.sci == sci).ok_or(SaError::NoSuchSc)?;
        sc.sas[p.an.index()] = Some(sa);
        Ok(())
    }

    pub fn remove_rx_sa(&mut self, sci: Sci, an: An) {
        if let Some(sc) = self.rx_scs.iter_mut().find(|sc| sc.sci == sci) {
            sc.sas[an.index()] = None;
        }
    }

    pub fn rx_sc(&self, sci: Sci) -> Option<&RxSc> {
        self.rx_scs.iter().find(|sc| sc.sci == sci)
    }

    /// Protects a frame in place with the encoding SA.
    pub fn protect<B: FrameBuf>(&mut self, frame: &mut B) -> Result<TxVerdict, TxDrop> {
        protect::protect(&self.config, &mut self.tx_sc, &mut self.stats, frame)
    }

    /// Validates a received frame in place; a delivered frame is left as the plain frame.
    pub fn validate<B: FrameBuf>(&mut self, frame: &mut B) -> RxVerdict {
        let clear = self.config.rx_clear_tag_len;
        if clear == 0 {
            return self.validate_standard(frame);
        }
        let Some(tags) = take_clear_tags(frame, clear) else {
            return self.validate_standard(frame);
        };
        let verdict = self.validate_standard(frame);
        if verdict.delivered() {
            restore_clear_tags(frame, &tags[..clear]);
        }
        verdict
    }

    fn validate_standard<B: FrameBuf>(&mut self, frame: &mut B) -> RxVerdict {
        let c = match validate::classify(&self.config, &mut self.rx_scs, &mut self.stats, frame) {
            Ok(c) => c,
            Err(verdict) => return verdict,
        };
        let sc = &mut self.rx_scs[c.sc_index];
        let valid = validate::verify(&self.config, sc, &c, frame);
        validate::finish(&self.config, sc, &c, valid, frame)
    }
}

/// Takes the clear tags out from between SA and SecTAG, so the frame is standard again.
fn take_clear_tags<B: FrameBuf>(frame: &mut B, n: usize) -> Option<[u8; 8]> {
    if n > 8 || frame.len() < MAC_ADDRS_LEN + n + 2 {
        return None;
    }
    let mut tags = [0u8; 8];
    tags[..n].copy_from_slice(&frame.bytes()[MAC_ADDRS_LEN..MAC_ADDRS_LEN + n]);
    super::protect::move_mac_addrs(frame.bytes_mut(), 0, n);
    frame.trim_front(n);
    Some(tags)
}

fn restore_clear_tags<B: FrameBuf>(frame: &mut B, tags: &[u8]) {
    if frame.prepend(tags.len()).is_err() {
        return;
    }
    let b = frame.bytes_mut();
    super::protect::move_mac_addrs(b, tags.len(), 0);
    b[MAC_ADDRS_LEN..MAC_ADDRS_LEN + tags.len()].copy_from_slice(tags);
}
