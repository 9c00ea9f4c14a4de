//! Transmit: turn a plain frame into a MACsec frame in place (IEEE 802.1AE-2018 10.5).
//!
//! `DA | SA | User Data`  →  `DA | SA | SecTAG | Secure Data | ICV`. An 802.1Q tag is the start
//! of the User Data, so it ends up inside the protected (and encrypted) part.

use super::batch;
use super::counters::SecyStats;
use super::sa::{SaCrypto, TxSc};
use super::sectag::SECTAG_LEN_SCI;
use super::{An, FrameBuf, Pn, Sci, SecyConfig, ICV_LEN};

/// Octets DA and SA take in front of the SecTAG.
pub const MAC_ADDRS_LEN: usize = 12;

/// Moves DA and SA from `bytes[from..]` to `bytes[to..]` (the regions may overlap): a fixed
/// 12-octet copy through a register, where `copy_within` of a run-time range calls `memmove`
/// once per frame. Panics, like slice indexing, if either end is past `bytes`.
#[inline]
pub fn move_mac_addrs(bytes: &mut [u8], from: usize, to: usize) {
    let mut macs = [0u8; MAC_ADDRS_LEN];
    macs.copy_from_slice(&bytes[from..from + MAC_ADDRS_LEN]);
    bytes[to..to + MAC_ADDRS_LEN].copy_from_slice(&macs);
}

/// What protection adds to a frame: SecTAG with SCI and ICV.
pub const OVERHEAD: usize = SECTAG_LEN_SCI + ICV_LEN;

/// How a frame left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxVerdict {
    /// Encrypted (OutPktsEncrypted).
    Encrypted,
    /// Integrity-protected only (OutPktsProtected).
    Protected,
    /// Sent unprotected because protectFrames is off (OutPktsUntagged).
    Untagged,
}

/// Why a frame was not sent. Only `TooLong` has an 802.1AE counter (OutPktsTooLong); the
/// others are counted by the caller as drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxDrop {
    /// Shorter than DA, SA and an EtherType.
    Runt,
    /// No encoding SA is installed (10.5.1: the transmit SA is not in use).
    NoSa,
    /// The encoding SA has used every PN; a rekey is overdue.
    PnExhausted,
    /// The protected frame would exceed the maximum frame length.
    TooLong,
    /// The buffer has no room for the SecTAG or the ICV.
    NoRoom,
}

/// Protects `frame` in place with the encoding SA of `tx`, taking its next PN and counting.
pub fn protect<B: FrameBuf>(
    cfg: &SecyConfig,
    tx: &mut TxSc,
    stats: &mut SecyStats,
    frame: &mut B,
) -> Result<TxVerdict, TxDrop> {
    if !cfg.protect_frames {
        if frame.len() < MAC_ADDRS_LEN + 2 {
            return Err(TxDrop::Runt);
        }
        stats.out_pkts_untagged += 1;
        return Ok(TxVerdict::Untagged);
    }
    check_len(cfg, frame.len()).inspect_err(|d| {
        if *d == TxDrop::TooLong {
            stats.out_pkts_too_long += 1;
        }
    })?;
    let an = tx.encoding_an.ok_or(TxDrop::NoSa)?;
    let sci = tx.sci;
    let sa = tx.sas[an.index()].as_mut().ok_or(TxDrop::NoSa)?;
    let pn = sa.take_pn().ok_or(TxDrop::PnExhausted)?;
    let user_len = frame.len() - MAC_ADDRS_LEN;
    let verdict = protect_with(cfg, sci, an, pn, &sa.crypto, frame)?;
    let octets = user_len as u64;
    if verdict == TxVerdict::Encrypted {
        sa.stats.out_pkts_encrypted += 1;
        tx.stats.out_pkts_encrypted += 1;
        tx.stats.out_octets_encrypted += octets;
    } else {
        sa.stats.out_pkts_protected += 1;
        tx.stats.out_pkts_protected += 1;
        tx.stats.out_octets_protected += octets;
    }
    Ok(verdict)
}

/// A frame of `len` octets can be protected: not a runt, and not too long once protected.
pub fn check_len(cfg: &SecyConfig, len: usize) -> Result<(), TxDrop> {
    check_len_max(cfg.max_frame_len, len)
}

/// [`check_len`] against a maximum frame length of `max_frame_len` octets.
#[inline]
pub fn check_len_max(max_frame_len: usize, len: usize) -> Result<(), TxDrop> {
    if len < MAC_ADDRS_LEN + 2 {
        return Err(TxDrop::Runt);
    }
    if len + OVERHEAD > max_frame_len {
        return Err(TxDrop::TooLong);
    }
    Ok(())
}

/// Protects `frame` in place with SA `crypto`, AN `an` and packet number `pn` (the caller
/// reserved it). No state, no counters: the multi-core runtime calls this from any worker.
pub fn protect_with<B: FrameBuf>(
    cfg: &SecyConfig,
    sci: Sci,
    an: An,
    pn: Pn,
    crypto: &SaCrypto,
    frame: &mut B,
) -> Result<TxVerdict, TxDrop> {
    // The frame work is the batched path's (SecTAG, AAD split); only the AES-GCM call is per frame.
    let header = batch::TxHeader::new(cfg, sci, an);
    let (aad, data, icv_out) = header.write_parts(pn, frame)?;
    let icv = crypto.key().seal(&crypto.iv(sci, pn), aad, data);
    icv_out.copy_from_slice(&icv);
    Ok(header.verdict)
}
