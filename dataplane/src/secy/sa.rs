//! Secure Channels and Secure Associations (IEEE 802.1AE-2018 7.1, 10.7): the transmit SC with
//! its encoding SA, and receive SCs with four AN-indexed SAs each.

use std::fmt;

use super::counters::{RxSaStats, RxScStats, TxSaStats, TxScStats};
use super::replay::ReplayWindow;
use super::xpn;
use super::{An, CipherSuite, GcmBackend, GcmKey, Iv, Pn, Sak, Salt, Sci, Ssci};

/// What a SA needs besides its key, as MKA distributes it (802.1X-2020 9.8, 9.10).
#[derive(Clone, Copy, Debug)]
pub struct SaParams {
    pub an: An,
    /// Tx: the next PN to send. Rx: the lowest acceptable PN.
    pub pn: Pn,
    /// XPN only: the SSCI of the transmitter of this SA.
    pub ssci: Option<Ssci>,
    /// XPN only.
    pub salt: Option<Salt>,
}

/// Why a SA could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaError {
    /// The SAK length does not fit the cipher suite.
    KeyLength { suite: CipherSuite, got: usize },
    /// XPN needs an SSCI and a salt.
    MissingXpnParams,
    /// PN 0 is never used (IEEE 802.1AE-2018 10.6.2), and a PN above the suite's maximum is
    /// exhausted.
    BadPn,
    /// The backend refused the key.
    KeySetup,
    /// No receive SC for that SCI.
    NoSuchSc,
}

impl fmt::Display for SaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength { suite, got } => {
                write!(f, "{suite} needs a {}-octet SAK, got {got} octets", suite.key_len())
            }
            Self::MissingXpnParams => f.write_str("XPN cipher suites need an SSCI and a 12-octet salt"),
            Self::BadPn => f.write_str("PN must be between 1 and the cipher suite's maximum PN"),
            Self::KeySetup => f.write_str("the AES-GCM backend refused the key"),
            Self::NoSuchSc => f.write_str("no receive secure channel for that SCI"),
        }
    }
}

impl std::error::Error for SaError {}

/// The key and IV material of one SA: what every core protecting or validating with the SA
/// shares (read-only).
pub struct SaCrypto {
    key: Box<dyn GcmKey>,
    /// XPN suites: the SSCI and salt, folded into what every IV of the SA shares.
    xpn: Option<xpn::XpnIv>,
}

impl SaCrypto {
    /// Expands the SAK for `suite`; XPN suites need the SSCI and salt of `p`.
    pub fn new(backend: &dyn GcmBackend, suite: CipherSuite, sak: &Sak, p: &SaParams) -> Result<Self, SaError> {
        if sak.len() != suite.key_len() {
            return Err(SaError::KeyLength { suite, got: sak.len() });
        }
        if p.pn.0 == 0 || p.pn.0 > suite.max_pn() {
            return Err(SaError::BadPn);
        }
        let xpn = if suite.is_xpn() {
            match (p.ssci, p.salt) {
                (Some(ssci), Some(salt)) => Some(xpn::XpnIv::new(ssci, &salt)),
                _ => return Err(SaError::MissingXpnParams),
            }
        } else {
            None
        };
        let key = backend.key(sak).map_err(|_| SaError::KeySetup)?;
        Ok(SaCrypto { key, xpn })
    }

    /// The IV of the frame with `pn` sent on channel `sci`.
    #[inline]
    pub fn iv(&self, sci: Sci, pn: Pn) -> Iv {
        match &self.xpn {
            Some(x) => x.iv(pn),
            None => xpn::iv_gcm(sci, pn.wire()),
        }
    }

    pub fn key(&self) -> &dyn GcmKey {
        &*self.key
    }
}

/// A transmit SA: key and next PN.
pub struct TxSa {
    pub(crate) crypto: SaCrypto,
    next_pn: u64,
    max_pn: u64,
    /// The PN `u64::MAX` (the last XPN PN) was used: there is no next PN.
    exhausted: bool,
    pub stats: TxSaStats,
}

impl TxSa {
    pub fn new(backend: &dyn GcmBackend, suite: CipherSuite, sak: &Sak, p: &SaParams) -> Result<Self, SaError> {
        let crypto = SaCrypto::new(backend, suite, sak, p)?;
        Ok(TxSa { crypto, next_pn: p.pn.0, max_pn: suite.max_pn(), exhausted: false, stats: TxSaStats::default() })
    }

    pub fn next_pn(&self) -> Pn {
        Pn(self.next_pn)
    }

    /// Takes the next PN, or `None` once the PN space is used up (IEEE 802.1AE-2018 10.5.2: a
    /// SA never reuses a PN).
    pub(crate) fn take_pn(&mut self) -> Option<Pn> {
        if self.exhausted || self.next_pn > self.max_pn {
            return None;
        }
        let pn = self.next_pn;
        // IEEE 802.1AE-2018 10.5.2, 10.6.2: with XPN the last PN is 2^64 - 1. After it the SA is
        // used up; nextPN must not wrap to 0 (that would reuse every IV of the SA).
        match pn.checked_add(1) {
            Some(next) => self.next_pn = next,
            None => self.exhausted = true,
        }
        Some(Pn(pn))
    }
}

/// A receive SA: key and replay state.
pub struct RxSa {
    pub(crate) crypto: SaCrypto,
    pub replay: ReplayWindow,
}

impl RxSa {
    pub fn new(backend: &dyn GcmBackend, suite: CipherSuite, sak: &Sak, p: &SaParams) -> Result<Self, SaError> {
        let crypto = SaCrypto::new(backend, suite, sak, p)?;
        Ok(RxSa { crypto, replay: ReplayWindow::new(p.pn) })
    }
}

/// The transmit SC: up to four SAs, one of them the encoding SA.
pub struct TxSc {
    pub sci: Sci,
    pub(crate) sas: [Option<TxSa>; 4],
    pub(crate) encoding_an: Option<An>,
    pub stats: TxScStats,
}

impl TxSc {
    pub fn new(sci: Sci) -> Self {
        TxSc { sci, sas: [None, None, None, None], encoding_an: None, stats: TxScStats::default() }
    }

    pub fn sa(&self, an: An) -> Option<&TxSa> {
        self.sas[an.index()].as_ref()
    }

    pub fn encoding_an(&self) -> Option<An> {
        self.encoding_an
    }
}

/// A receive SC: four SAs indexed by AN, with the per-AN SA counters.
pub struct RxSc {
    pub sci: Sci,
    pub(crate) sas: [Option<RxSa>; 4],
    pub sa_stats: [RxSaStats; 4],
    pub stats: RxScStats,
}

impl RxSc {
    pub fn new(sci: Sci) -> Self {
        RxSc { sci, sas: [None, None, None, None], sa_stats: [RxSaStats::default(); 4], stats: RxScStats::default() }
    }

    pub fn sa(&self, an: An) -> Option<&RxSa> {
        self.sas[an.index()].as_ref()
    }

    /// The SA counters of all four ANs added up.
    pub fn sa_stats_total(&self) -> RxSaStats {
        let mut total = RxSaStats::default();
        for s in &self.sa_stats {
            total.merge(s);
        }
        total
    }
}
