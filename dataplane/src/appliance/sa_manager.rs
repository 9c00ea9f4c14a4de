//! The service lcore's side of the key slots: the SecY management operations MKA drives
//! (IEEE 802.1AE-2018 10.7: create/enable/delete Tx and Rx SAs), each turned into a new
//! immutable [`SaTable`] published through RCU.

use std::sync::Arc;

use super::keyslot::{KeyPublisher, KeySlot, RxChannelKeys, RxSaKey, SaTable, TxSaKey};
use super::pipeline::MAX_RX_SC;
use crate::secy::sa::{SaCrypto, SaError};
use crate::secy::{An, CipherSuite, GcmBackend, Pn, SaParams, Sak, Sci};

/// Why a management operation was refused. The running table is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManageError {
    Sa(SaError),
    /// `enable_tx_sa` for an AN without an installed Tx SA.
    NoSuchTxSa(An),
    /// More peer SCIs than a SecY holds.
    TooManyRxSc,
}

impl std::fmt::Display for ManageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sa(e) => e.fmt(f),
            Self::NoSuchTxSa(an) => write!(f, "no transmit SA installed for AN {an}"),
            Self::TooManyRxSc => write!(f, "at most {MAX_RX_SC} receive secure channels per SecY"),
        }
    }
}

impl std::error::Error for ManageError {}

/// The SAs of one SecY as the service lcore manages them.
pub struct SaManager {
    publisher: KeyPublisher,
    backend: Arc<dyn GcmBackend>,
    suite: CipherSuite,
    next_id: u64,
    tx: [Option<Arc<TxSaKey>>; 4],
    encoding: Option<An>,
    /// Index = the Rx SC's stable slot (counters and replay state are kept per slot).
    rx: Vec<RxChannelKeys>,
    /// Tx SAs enabled by control since start (for `rekeys_total`).
    pub tx_enables: u64,
}

impl SaManager {
    pub fn new(slot: Arc<KeySlot>, backend: Arc<dyn GcmBackend>, suite: CipherSuite) -> Self {
        SaManager {
            publisher: KeyPublisher::new(slot),
            backend,
            suite,
            next_id: 1,
            tx: [None, None, None, None],
            encoding: None,
            rx: Vec::new(),
            tx_enables: 0,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Installs a Tx SA; it is not used until [`Self::enable_tx_sa`].
    pub fn install_tx_sa(&mut self, sak: &Sak, p: &SaParams) -> Result<(), ManageError> {
        let crypto = SaCrypto::new(&*self.backend, self.suite, sak, p).map_err(ManageError::Sa)?;
        let id = self.id();
        self.tx[p.an.index()] = Some(Arc::new(TxSaKey::new(p.an, crypto, p.pn, self.suite.max_pn(), id)));
        if self.encoding == Some(p.an) {
            self.publish();
        }
        Ok(())
    }

    /// Makes `an` the encoding SA (802.1X-2020 9.8: after the Rx SAs for it are in place).
    pub fn enable_tx_sa(&mut self, an: An) -> Result<(), ManageError> {
        if self.tx[an.index()].is_none() {
            return Err(ManageError::NoSuchTxSa(an));
        }
        self.encoding = Some(an);
        self.tx_enables += 1;
        self.publish();
        Ok(())
    }

    pub fn delete_tx_sa(&mut self, an: An) {
        self.tx[an.index()] = None;
        if self.encoding == Some(an) {
            self.encoding = None;
        }
        self.publish();
    }

    /// Installs (and enables for receive) an Rx SA of peer `sci`.
    pub fn install_rx_sa(&mut self, sci: Sci, sak: &Sak, p: &SaParams) -> Result<(), ManageError> {
        let crypto = SaCrypto::new(&*self.backend, self.suite, sak, p).map_err(ManageError::Sa)?;
        let slot = match self.rx.iter().position(|c| c.sci == sci) {
            Some(i) => i,
            None => self.new_channel(sci)?,
        };
        let id = self.id();
        self.rx[slot].sas[p.an.index()] = Some(Arc::new(RxSaKey { an: p.an, crypto, lowest_pn: p.pn, id }));
        self.publish();
        Ok(())
    }

    fn new_channel(&mut self, sci: Sci) -> Result<usize, ManageError> {
        let empty = RxChannelKeys { sci, sas: [None, None, None, None] };
        // Reuse the slot of a channel without SAs.
        if let Some(i) = self.rx.iter().position(|c| c.sas.iter().all(Option::is_none)) {
            self.rx[i] = empty;
            return Ok(i);
        }
        if self.rx.len() >= MAX_RX_SC {
            return Err(ManageError::TooManyRxSc);
        }
        self.rx.push(empty);
        Ok(self.rx.len() - 1)
    }

    pub fn delete_rx_sa(&mut self, sci: Sci, an: An) {
        if let Some(c) = self.rx.iter_mut().find(|c| c.sci == sci) {
            c.sas[an.index()] = None;
        }
        self.publish();
    }

    /// Deletes every SA (peer gone, MKA down, shutdown).
    pub fn clear(&mut self) {
        self.tx = [None, None, None, None];
        self.encoding = None;
        self.rx.clear();
        self.publish();
    }

    pub fn encoding_sa(&self) -> Option<&Arc<TxSaKey>> {
        self.tx[self.encoding?.index()].as_ref()
    }

    pub fn tx_sa(&self, an: An) -> Option<&Arc<TxSaKey>> {
        self.tx[an.index()].as_ref()
    }

    pub fn rx_channels(&self) -> &[RxChannelKeys] {
        &self.rx
    }

    /// Frees tables no worker reads any more (call from the service loop).
    pub fn reclaim(&mut self) -> usize {
        self.publisher.reclaim()
    }

    fn publish(&mut self) {
        let tx = self.encoding.and_then(|an| self.tx[an.index()].clone());
        self.publisher.publish(SaTable { tx, rx: self.rx.clone() });
    }

    /// The next PN of the encoding SA.
    pub fn tx_next_pn(&self) -> Option<Pn> {
        self.encoding_sa().map(|s| s.next_pn())
    }
}
