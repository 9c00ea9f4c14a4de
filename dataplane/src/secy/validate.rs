//! Receive: verify and decrypt a MACsec frame in place (IEEE 802.1AE-2018 10.6).
//!
//! `DA | SA | SecTAG | Secure Data | ICV`  →  `DA | SA | User Data`. Every outcome is exactly
//! one [`RxVerdict`], and each verdict is exactly one 802.1AE MIB counter.
//!
//! The work is split in phases so the runtime can run the expensive middle one on several
//! cores and the last one in arrival order: [`classify`] (parse, SecTAG checks, SC and SA
//! lookup, early replay check) → [`verify`] (crypto) → [`finish`] (replay check and window
//! update, counters, SecTAG and ICV removal).

use super::counters::SecyStats;
use super::counters::{RxSaStats, RxScStats};
use super::protect::MAC_ADDRS_LEN;
use super::replay::ReplayWindow;
use super::sa::{RxSc, SaCrypto};
use super::sectag::{SecTag, SecTagRepr, ETHERTYPE_MACSEC};
use super::{xpn, An, FrameBuf, Pn, Sci, SecyConfig, ValidateFrames, ICV_LEN};

/// The outcome of receiving one frame, named after the counter it increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RxVerdict {
    /// Valid; delivered (InPktsOK).
    Ok,
    /// Not validated (validateFrames Disabled); delivered (InPktsUnchecked).
    Unchecked,
    /// PN below the window with replayProtect off; delivered (InPktsDelayed).
    Delayed,
    /// Failed validation in Check mode, not encrypted; delivered (InPktsInvalid).
    Invalid,
    /// No SA for the AN, not Strict and C=0; delivered unvalidated (InPktsUnusedSA).
    UnusedSa,
    /// No SC for the SCI, not Strict and C=0; delivered unvalidated (InPktsUnknownSCI).
    UnknownSci,
    /// No SecTAG, not Strict; delivered unchanged (InPktsUntagged).
    Untagged,
    /// No SecTAG in Strict mode; discarded (InPktsNoTag).
    NoTag,
    /// Malformed SecTAG or frame; discarded (InPktsBadTag).
    BadTag,
    /// Unknown SCI; discarded (InPktsNoSCI).
    NoSci,
    /// No SA in use for the AN; discarded (InPktsNotUsingSA).
    NotUsingSa,
    /// Replayed or below the window; discarded (InPktsLate).
    Late,
    /// Failed validation; discarded (InPktsNotValid).
    NotValid,
}

impl RxVerdict {
    /// Whether the frame goes on to the controlled port.
    pub fn delivered(self) -> bool {
        matches!(
            self,
            Self::Ok
                | Self::Unchecked
                | Self::Delayed
                | Self::Invalid
                | Self::UnusedSa
                | Self::UnknownSci
                | Self::Untagged
        )
    }
}

/// A frame that passed [`classify`]: what the later phases need to know about it.
#[derive(Clone, Copy, Debug)]
pub struct Classified {
    pub sci: Sci,
    pub sc_index: usize,
    pub an: An,
    pub pn: Pn,
    pub tag: SecTagRepr,
    pub tag_len: usize,
    pub secure_data_len: usize,
}

/// Parses and checks the SecTAG, finds the SC and SA, and applies the early replay check
/// (10.6.2). Returns the final verdict for frames that need no crypto.
pub fn classify<B: FrameBuf>(
    cfg: &SecyConfig,
    scs: &mut [RxSc],
    stats: &mut SecyStats,
    frame: &mut B,
) -> Result<Classified, RxVerdict> {
    let strict = cfg.validate_frames == ValidateFrames::Strict;
    let bytes = frame.bytes();
    // 10.6.1: a frame without the MACsec EtherType is untagged.
    if bytes.len() < MAC_ADDRS_LEN + 2 || bytes[12..14] != ETHERTYPE_MACSEC.to_be_bytes() {
        return Err(untagged(strict, stats));
    }
    let Some((tag, tag_len, secure_data_len)) = parse_tag(bytes, cfg.cipher_suite.is_xpn()) else {
        stats.in_pkts_bad_tag += 1;
        return Err(RxVerdict::BadTag);
    };
    let sci = frame_sci(&tag, bytes, scs);
    let discard = strict || tag.tci.c();
    let Some(sc_index) = scs.iter().position(|sc| Some(sc.sci) == sci) else {
        // 10.6.1: no receive SC for the SCI.
        if discard {
            stats.in_pkts_no_sci += 1;
            return Err(RxVerdict::NoSci);
        }
        stats.in_pkts_unknown_sci += 1;
        strip(frame, tag_len);
        return Err(RxVerdict::UnknownSci);
    };
    let sc = &mut scs[sc_index];
    let Some(sa) = sc.sas[tag.an.index()].as_ref() else {
        // 10.6.1: no receive SA in use for the AN.
        if discard {
            sc.sa_stats[tag.an.index()].in_pkts_not_using_sa += 1;
            return Err(RxVerdict::NotUsingSa);
        }
        sc.sa_stats[tag.an.index()].in_pkts_unused_sa += 1;
        strip(frame, tag_len);
        return Err(RxVerdict::UnusedSa);
    };
    let pn =
        if cfg.cipher_suite.is_xpn() { xpn::recover(tag.pn, sa.replay.lowest_pn()) } else { Pn(u64::from(tag.pn)) };
    // 10.6.2: discard a frame below the window before spending any crypto on it.
    if cfg.replay_protect && sa.replay.check(pn).is_err() {
        sc.stats.in_pkts_late += 1;
        return Err(RxVerdict::Late);
    }
    let sci = sc.sci;
    Ok(Classified { sci, sc_index, an: tag.an, pn, tag, tag_len, secure_data_len })
}

/// Verifies the ICV and decrypts in place (10.6.4, 14.1). `None` when validation is skipped
/// (validateFrames Disabled and nothing to decrypt).
pub fn verify<B: FrameBuf>(cfg: &SecyConfig, sc: &RxSc, c: &Classified, frame: &mut B) -> Option<bool> {
    let sa = sc.sas[c.an.index()].as_ref()?;
    verify_with(cfg, &sa.crypto, c, frame)
}

/// [`verify`] with the SA's key material given directly (the multi-core runtime shares it).
pub fn verify_with<B: FrameBuf>(cfg: &SecyConfig, crypto: &SaCrypto, c: &Classified, frame: &mut B) -> Option<bool> {
    if !c.tag.tci.c() && cfg.validate_frames == ValidateFrames::Disabled {
        return None;
    }
    let clear =
        if c.tag.tci.e() { cfg.confidentiality_offset.octets().min(c.secure_data_len) } else { c.secure_data_len };
    let aad_len = MAC_ADDRS_LEN + c.tag_len + clear;
    let (aad, data_and_icv) = frame.bytes_mut().split_at_mut(aad_len);
    Some(crypto.key().open(&crypto.iv(c.sci, c.pn), aad, data_and_icv).is_ok())
}

/// Applies the replay check in order, updates the window and counters, and removes SecTAG and
/// ICV from a frame that is delivered (10.6.5).
pub fn finish<B: FrameBuf>(
    cfg: &SecyConfig,
    sc: &mut RxSc,
    c: &Classified,
    valid: Option<bool>,
    frame: &mut B,
) -> RxVerdict {
    let Some(sa) = sc.sas[c.an.index()].as_mut() else {
        // The SA was removed between the phases: its frames can no longer be accepted.
        sc.sa_stats[c.an.index()].in_pkts_not_using_sa += 1;
        return RxVerdict::NotUsingSa;
    };
    let verdict = decide(cfg, c, valid, &mut sa.replay, &mut sc.sa_stats[c.an.index()], &mut sc.stats);
    if verdict.delivered() {
        strip(frame, c.tag_len);
    }
    verdict
}

/// 10.6.5, in arrival order: the second replay check, the counters of the outcome, and the
/// window update for a valid frame. Leaves the frame alone.
pub fn decide(
    cfg: &SecyConfig,
    c: &Classified,
    valid: Option<bool>,
    replay: &mut ReplayWindow,
    sa_stats: &mut RxSaStats,
    sc_stats: &mut RxScStats,
) -> RxVerdict {
    if cfg.replay_protect && replay.check(c.pn).is_err() {
        sc_stats.in_pkts_late += 1;
        return RxVerdict::Late;
    }
    if valid.is_some() {
        if c.tag.tci.e() {
            sc_stats.in_octets_decrypted += c.secure_data_len as u64;
        } else {
            sc_stats.in_octets_validated += c.secure_data_len as u64;
        }
    }
    let below = replay.is_below(c.pn);
    match valid {
        Some(false) if c.tag.tci.c() || cfg.validate_frames == ValidateFrames::Strict => {
            sa_stats.in_pkts_not_valid += 1;
            RxVerdict::NotValid
        }
        Some(false) if cfg.validate_frames == ValidateFrames::Check => {
            sa_stats.in_pkts_invalid += 1;
            RxVerdict::Invalid
        }
        _ if below => {
            sc_stats.in_pkts_delayed += 1;
            RxVerdict::Delayed
        }
        Some(true) => {
            sa_stats.in_pkts_ok += 1;
            replay.accept(c.pn, cfg.replay_window);
            RxVerdict::Ok
        }
        _ => {
            sc_stats.in_pkts_unchecked += 1;
            RxVerdict::Unchecked
        }
    }
}

/// 10.6.1: a frame without a SecTAG.
pub fn untagged(strict: bool, stats: &mut SecyStats) -> RxVerdict {
    if strict {
        stats.in_pkts_no_tag += 1;
        RxVerdict::NoTag
    } else {
        stats.in_pkts_untagged += 1;
        RxVerdict::Untagged
    }
}

/// The SecTAG, its length and the Secure Data length, if the frame is long enough and the
/// SecTAG passes the checks of 9.12.
pub fn parse_tag(bytes: &[u8], xpn: bool) -> Option<(SecTagRepr, usize, usize)> {
    let tag = SecTag::new_checked(bytes.get(MAC_ADDRS_LEN..)?).ok()?;
    let tag_len = tag.header_len();
    let repr = SecTagRepr::parse(&tag).ok()?;
    let secure_data_len = bytes.len().checked_sub(MAC_ADDRS_LEN + tag_len + ICV_LEN)?;
    repr.check(secure_data_len, xpn).ok()?;
    Some((repr, tag_len, secure_data_len))
}

/// 9.9: the SCI is in the SecTAG (SC=1), or the source address ‖ 0x0001 (ES=1), or else that of
/// the only receive SC.
fn frame_sci(tag: &SecTagRepr, bytes: &[u8], scs: &[RxSc]) -> Option<Sci> {
    explicit_sci(tag, bytes).or(match scs {
        [only] => Some(only.sci),
        _ => None,
    })
}

/// The SCI a frame names itself: in the SecTAG (SC=1) or by ES=1 (source address ‖ 0x0001).
pub fn explicit_sci(tag: &SecTagRepr, bytes: &[u8]) -> Option<Sci> {
    if let Some(sci) = tag.sci {
        return Some(sci);
    }
    let mac: [u8; 6] = bytes.get(6..12)?.try_into().ok()?;
    tag.tci.es().then(|| Sci::end_station(mac))
}

/// Removes the SecTAG and the ICV: DA and SA move up against the User Data.
pub fn strip<B: FrameBuf>(frame: &mut B, tag_len: usize) {
    super::protect::move_mac_addrs(frame.bytes_mut(), 0, tag_len);
    frame.trim_front(tag_len);
    frame.trim_back(ICV_LEN);
}
