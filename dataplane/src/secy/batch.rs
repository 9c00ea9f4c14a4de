//! Protect and validate split into "frame work" and "crypto", so the runtime can run one batched
//! AES-GCM call per burst ([`GcmKey::seal_batch`](super::GcmKey::seal_batch)). The frame work
//! here is [`protect::protect_with`] and [`validate::verify_with`] without their AES-GCM call;
//! the results are the same octets.

use super::protect::{self, TxDrop, TxVerdict, MAC_ADDRS_LEN};
use super::sectag::{SecTagRepr, Tci, SECTAG_LEN_SCI};
use super::validate::Classified;
use super::{An, FrameBuf, Pn, Sci, SecyConfig, ValidateFrames, ICV_LEN};

/// Everything of [`protect::protect_with`] but the AES-GCM: grows `frame`, writes the SecTAG
/// and returns the verdict and the AAD length. The frame is then `AAD | data | ICV slot`, ready
/// for [`GcmKey::seal`](super::GcmKey::seal) or a batch.
pub fn protect_header<B: FrameBuf>(
    cfg: &SecyConfig,
    sci: Sci,
    an: An,
    pn: Pn,
    frame: &mut B,
) -> Result<(TxVerdict, usize), TxDrop> {
    let len = frame.len();
    protect::check_len(cfg, len)?;
    grow(frame)?;
    let user_len = len - MAC_ADDRS_LEN;
    // 802.1AE-2018 9.5: E and C are both set for confidentiality, both clear for integrity only.
    let tci = Tci::default().with(Tci::E, cfg.confidentiality).with(Tci::C, cfg.confidentiality);
    let tag = SecTagRepr { tci, an, sl: SecTagRepr::short_length(user_len), pn: pn.wire(), sci: Some(sci) };
    let bytes = frame.bytes_mut();
    // The frame grew by SECTAG_LEN_SCI in front: move DA and SA back to the start.
    protect::move_mac_addrs(bytes, SECTAG_LEN_SCI, 0);
    tag.emit(&mut bytes[MAC_ADDRS_LEN..]).map_err(|_| TxDrop::NoRoom)?;
    // 802.1AE-2018 14.1: A = DA ‖ SA ‖ SecTAG (‖ the User Data left in clear), P = the rest.
    let clear = if cfg.confidentiality { cfg.confidentiality_offset.octets().min(user_len) } else { user_len };
    let verdict = if cfg.confidentiality { TxVerdict::Encrypted } else { TxVerdict::Protected };
    Ok((verdict, MAC_ADDRS_LEN + SECTAG_LEN_SCI + clear))
}

/// Splits a frame prepared by [`protect_header`] into `(AAD, data, ICV slot)`.
pub fn seal_parts(bytes: &mut [u8], aad_len: usize) -> Option<(&[u8], &mut [u8], &mut [u8; ICV_LEN])> {
    let (aad, rest) = bytes.split_at_mut_checked(aad_len)?;
    let (data, icv) = rest.split_last_chunk_mut::<ICV_LEN>()?;
    Some((aad, data, icv))
}

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
    use crate::secy::{CipherSuite, RingBackend, SaParams, Sak, SealItem};

    /// Header + batched seal gives the same octets as `protect_with`.
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
            let lens: Vec<usize> = got
                .iter_mut()
                .enumerate()
                .map(|(i, f)| protect_header(&cfg, sci, p.an, Pn(5 + i as u64), f).unwrap().1)
                .collect();
            let mut items: Vec<SealItem<'_>> = got
                .iter_mut()
                .zip(&lens)
                .enumerate()
                .map(|(i, (f, &l))| {
                    let (aad, data, icv) = seal_parts(f, l).unwrap();
                    SealItem { iv: crypto.iv(sci, Pn(5 + i as u64)), aad, data, icv }
                })
                .collect();
            crypto.key().seal_batch(&mut items);
            drop(items);
            assert_eq!(got, want);
        }
    }
}
