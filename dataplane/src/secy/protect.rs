//! Transmit: turn a plain frame into a MACsec frame in place (IEEE 802.1AE-2018 10.5).
//!
//! `DA | SA | User Data`  →  `DA | SA | SecTAG | Secure Data | ICV`. An 802.1Q tag is the start
//! of the User Data, so it ends up inside the protected (and encrypted) part.

use super::counters::SecyStats;
use super::sa::{SaCrypto, TxSc};
use super::sectag::{SecTagRepr, Tci, SECTAG_LEN_SCI};
use super::{An, FrameBuf, Pn, Sci, SecyConfig, ICV_LEN};

/// Octets DA and SA take in front of the SecTAG.
pub const MAC_ADDRS_LEN: usize = 12;
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
    if len < MAC_ADDRS_LEN + 2 {
        return Err(TxDrop::Runt);
    }
    if len + OVERHEAD > cfg.max_frame_len {
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
    let len = frame.len();
    check_len(cfg, len)?;
    grow(frame)?;
    let user_len = len - MAC_ADDRS_LEN;
    // 802.1AE-2018 9.5: E and C are both set for confidentiality, both clear for integrity only.
    let tci = Tci::default().with(Tci::E, cfg.confidentiality).with(Tci::C, cfg.confidentiality);
    let tag = SecTagRepr { tci, an, sl: SecTagRepr::short_length(user_len), pn: pn.wire(), sci: Some(sci) };
    let bytes = frame.bytes_mut();
    // The frame grew by SECTAG_LEN_SCI in front: move DA and SA back to the start.
    bytes.copy_within(SECTAG_LEN_SCI..SECTAG_LEN_SCI + MAC_ADDRS_LEN, 0);
    tag.emit(&mut bytes[MAC_ADDRS_LEN..]).map_err(|_| TxDrop::NoRoom)?;

    // 802.1AE-2018 14.1: A = DA ‖ SA ‖ SecTAG (‖ the User Data left in clear), P = the rest.
    let clear = if cfg.confidentiality { cfg.confidentiality_offset.octets().min(user_len) } else { user_len };
    let aad_len = MAC_ADDRS_LEN + SECTAG_LEN_SCI + clear;
    let (aad, rest) = bytes.split_at_mut(aad_len);
    let data_len = rest.len() - ICV_LEN;
    let (data, icv_out) = rest.split_at_mut(data_len);
    let icv = crypto.key().seal(&crypto.iv(sci, pn), aad, data);
    icv_out.copy_from_slice(&icv);
    Ok(if cfg.confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected })
}

/// Makes room for the SecTAG in front and the ICV behind, or leaves the frame unchanged.
fn grow<B: FrameBuf>(frame: &mut B) -> Result<(), TxDrop> {
    frame.prepend(SECTAG_LEN_SCI).map_err(|_| TxDrop::NoRoom)?;
    if frame.append(ICV_LEN).is_err() {
        frame.trim_front(SECTAG_LEN_SCI);
        return Err(TxDrop::NoRoom);
    }
    Ok(())
}
