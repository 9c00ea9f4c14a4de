//! Protect and validate split into "frame work" and "crypto", so the runtime can run one batched
//! AES-GCM call per burst ([`GcmKey::seal_batch`](super::GcmKey::seal_batch)). The frame work
//! here is [`protect::protect_with`] and [`validate::verify_with`] without their AES-GCM call;
//! the results are the same octets.

use super::protect::{self, TxDrop, TxVerdict, MAC_ADDRS_LEN};
use super::sectag::{SecTagRepr, Tci, SECTAG_LEN_SCI};
use super::validate::Classified;
use super::{An, FrameBuf, Pn, Sci, SecyConfig, ValidateFrames, ICV_LEN};

/// Everything of [`protect::protect_with`] but the AES-GCM, with what is the same for every
/// frame of a burst worked out once: the SecTAG but its SL and PN, the verdict and the AAD rule.
/// [`TxHeader::write_parts`] then costs one bounds check and three stores per frame.
#[derive(Clone, Copy, Debug)]
pub struct TxHeader {
    /// `88e5 | TCI/AN | SL=0 | PN=0 | SCI`: SL and PN are filled in per frame.
    tag: [u8; SECTAG_LEN_SCI],
    max_frame_len: usize,
    /// Octets of User Data left in clear (the confidentiality offset), if encrypting.
    offset: Option<usize>,
    pub verdict: TxVerdict,
}

impl TxHeader {
    pub fn new(cfg: &SecyConfig, sci: Sci, an: An) -> Self {
        // 802.1AE-2018 9.5: E and C are both set for confidentiality, both clear for integrity
        // only; the SCI is always sent (SC set).
        let tci = Tci::default().with(Tci::E, cfg.confidentiality).with(Tci::C, cfg.confidentiality);
        let repr = SecTagRepr { tci, an, sl: 0, pn: 0, sci: Some(sci) };
        let mut tag = [0u8; SECTAG_LEN_SCI];
        // SECTAG_LEN_SCI octets is what a SecTAG with an SCI needs: emit cannot fail.
        let _ = repr.emit(&mut tag);
        let confidentiality = cfg.confidentiality;
        TxHeader {
            tag,
            max_frame_len: cfg.max_frame_len,
            offset: confidentiality.then(|| cfg.confidentiality_offset.octets()),
            verdict: if confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected },
        }
    }

    /// Grows `frame` by the SecTAG in front and the ICV slot behind, writes the SecTAG with
    /// `pn` and returns the grown frame as `(AAD, data, ICV slot)` for AES-GCM, split from the
    /// one slice the SecTAG went into. On error the frame is unchanged.
    #[inline]
    pub fn write_parts<'f, B: FrameBuf>(&self, pn: Pn, frame: &'f mut B) -> Result<SealParts<'f>, TxDrop> {
        let len = frame.len();
        protect::check_len_max(self.max_frame_len, len)?;
        grow(frame)?;
        let user_len = len - MAC_ADDRS_LEN;
        let mut tag = self.tag;
        // 802.1AE-2018 9.7 and 9.8: SL (the Secure Data length when below 48) and the PN's
        // low 32 bits, big-endian.
        tag[3] = SecTagRepr::short_length(user_len);
        tag[4..8].copy_from_slice(&pn.wire().to_be_bytes());
        // 802.1AE-2018 14.1: A = DA ‖ SA ‖ SecTAG (‖ the User Data left in clear), P = the rest.
        let clear = self.offset.map_or(user_len, |o| o.min(user_len));
        let aad_len = MAC_ADDRS_LEN + SECTAG_LEN_SCI + clear;
        // check_len_max let through DA and SA at least, so the grown frame holds the AAD and
        // the ICV slot: none of these splits fails.
        let (head, rest) = frame.bytes_mut().split_at_mut_checked(aad_len).ok_or(TxDrop::NoRoom)?;
        let (data, icv) = rest.split_last_chunk_mut::<ICV_LEN>().ok_or(TxDrop::NoRoom)?;
        let (macs_and_tag, _) =
            head.split_first_chunk_mut::<{ MAC_ADDRS_LEN + SECTAG_LEN_SCI }>().ok_or(TxDrop::NoRoom)?;
        // The frame grew by SECTAG_LEN_SCI in front: DA and SA move back to the start, and the
        // SecTAG goes behind them.
        let mut macs = [0u8; MAC_ADDRS_LEN];
        macs.copy_from_slice(&macs_and_tag[SECTAG_LEN_SCI..]);
        macs_and_tag[..MAC_ADDRS_LEN].copy_from_slice(&macs);
        macs_and_tag[MAC_ADDRS_LEN..].copy_from_slice(&tag);
        Ok((head, data, icv))
    }
}

/// A protected frame's AAD, the data AES-GCM encrypts (or only authenticates) and its ICV slot.
pub type SealParts<'f> = (&'f [u8], &'f mut [u8], &'f mut [u8; ICV_LEN]);

/// The AAD length [`validate::verify_with`](super::validate::verify_with) would authenticate,
/// or `None` when it would not check the frame (validateFrames Disabled and C clear).
#[inline]
pub fn open_aad_len(cfg: &SecyConfig, c: &Classified) -> Option<usize> {
    if !c.tci.c() && cfg.validate_frames == ValidateFrames::Disabled {
        return None;
    }
    let clear =
        if c.tci.e() { cfg.confidentiality_offset.octets().min(c.secure_data_len()) } else { c.secure_data_len() };
    Some(MAC_ADDRS_LEN + c.tag_len() + clear)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secy::sa::SaCrypto;
    use crate::secy::{CipherSuite, ConfidentialityOffset, RingBackend, SaParams, Sak, SealItem};
    use proptest::prelude::*;

    /// What the batched path did before `TxHeader`: the SecTAG through `SecTagRepr::emit`.
    fn by_repr(cfg: &SecyConfig, sci: Sci, an: An, pn: Pn, frame: &mut Vec<u8>) -> Result<(TxVerdict, usize), TxDrop> {
        let len = frame.len();
        protect::check_len(cfg, len)?;
        grow(frame)?;
        let user_len = len - MAC_ADDRS_LEN;
        let tci = Tci::default().with(Tci::E, cfg.confidentiality).with(Tci::C, cfg.confidentiality);
        let tag = SecTagRepr { tci, an, sl: SecTagRepr::short_length(user_len), pn: pn.wire(), sci: Some(sci) };
        protect::move_mac_addrs(frame, SECTAG_LEN_SCI, 0);
        tag.emit(&mut frame[MAC_ADDRS_LEN..]).map_err(|_| TxDrop::NoRoom)?;
        let clear = if cfg.confidentiality { cfg.confidentiality_offset.octets().min(user_len) } else { user_len };
        let verdict = if cfg.confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected };
        Ok((verdict, MAC_ADDRS_LEN + SECTAG_LEN_SCI + clear))
    }

    proptest! {
        #[test]
        fn tx_header_is_the_repr_path(
            len in 0usize..120,
            an in 0u8..4,
            pn in any::<u64>(),
            sci in any::<u64>(),
            confidentiality in any::<bool>(),
            offset in prop::sample::select(vec![0usize, 30, 50]),
            max_frame_len in prop::sample::select(vec![64usize, 100, 1518]),
        ) {
            let mut cfg = SecyConfig::new(CipherSuite::GcmAes256);
            cfg.confidentiality = confidentiality;
            cfg.confidentiality_offset = ConfidentialityOffset::from_octets(offset).unwrap();
            cfg.max_frame_len = max_frame_len;
            let frame: Vec<u8> = (0..len).map(|b| b as u8 ^ 0x5a).collect();
            let (sci, an) = (Sci(sci), An::new(an).unwrap());
            let (mut want, mut got) = (frame.clone(), frame);
            let w = by_repr(&cfg, sci, an, Pn(pn), &mut want);
            let header = TxHeader::new(&cfg, sci, an);
            let g = header.write_parts(Pn(pn), &mut got).map(|(aad, _, _)| (header.verdict, aad.len()));
            prop_assert_eq!(g, w);
            prop_assert_eq!(got, want);
        }
    }

    /// `write_parts` + batched seal gives the same octets as `protect_with`.
    #[test]
    fn header_then_batch_equals_protect_with() {
        for confidentiality in [true, false] {
            let mut cfg = SecyConfig::new(CipherSuite::GcmAes256);
            cfg.confidentiality = confidentiality;
            let p = SaParams { an: An::new(1).unwrap(), pn: Pn(5), ssci: None, salt: None };
            let crypto =
                SaCrypto::new(&RingBackend, cfg.cipher_suite, &Sak::from_slice(&[9; 32]).unwrap(), &p).unwrap();
            let sci = Sci(0x0102_0304_0506_0001);
            let frames: Vec<Vec<u8>> = (0..5).map(|i| (0..60 + 37 * i).map(|b| b as u8).collect()).collect();
            let mut want = frames.clone();
            for (i, f) in want.iter_mut().enumerate() {
                protect::protect_with(&cfg, sci, p.an, Pn(5 + i as u64), &crypto, f).unwrap();
            }
            let mut got = frames.clone();
            let header = TxHeader::new(&cfg, sci, p.an);
            let mut items: Vec<SealItem<'_>> = got
                .iter_mut()
                .enumerate()
                .map(|(i, f)| {
                    let pn = Pn(5 + i as u64);
                    let (aad, data, icv) = header.write_parts(pn, f).unwrap();
                    SealItem { iv: crypto.iv(sci, pn), aad, data, icv }
                })
                .collect();
            crypto.key().seal_batch(&mut items);
            drop(items);
            assert_eq!(got, want);
        }
    }
}
