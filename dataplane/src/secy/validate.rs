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
use super::sectag::{SecTagRepr, Tci, ETHERTYPE_MACSEC, SECTAG_LEN_NO_SCI, SECTAG_LEN_SCI};
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

/// A frame that passed [`classify`]: what the later phases need to know about it. Kept small
/// (32 octets): the runtime stores one per frame of a burst between its stages.
#[derive(Clone, Copy, Debug)]
pub struct Classified {
    /// The SCI of the receive SC the frame belongs to.
    pub sci: Sci,
    /// The full PN (recovered with XPN, 10.6.2).
    pub pn: Pn,
    pub sc_index: usize,
    secure_data_len: u32,
    pub tci: Tci,
    pub an: An,
    tag_len: u8,
}

impl Classified {
    /// `tag` and its lengths as [`parse_tag`] returned them.
    pub fn new(sci: Sci, sc_index: usize, pn: Pn, tag: &SecTagRepr, tag_len: usize, secure_data_len: usize) -> Self {
        // parse_tag bounds both: a SecTAG is 8 or 16 octets, and the Secure Data fits a u32.
        let (tag_len, secure_data_len) = (tag_len as u8, secure_data_len as u32);
        Classified { sci, pn, sc_index, secure_data_len, tci: tag.tci, an: tag.an, tag_len }
    }

    /// Octets between the SecTAG and the ICV.
    pub fn secure_data_len(&self) -> usize {
        self.secure_data_len as usize
    }

    /// SecTAG octets, EtherType included.
    pub fn tag_len(&self) -> usize {
        usize::from(self.tag_len)
    }
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
    Ok(Classified::new(sci, sc_index, pn, &tag, tag_len, secure_data_len))
}

/// Verifies the ICV and decrypts in place (10.6.4, 14.1). `None` when validation is skipped
/// (validateFrames Disabled and nothing to decrypt).
pub fn verify<B: FrameBuf>(cfg: &SecyConfig, sc: &RxSc, c: &Classified, frame: &mut B) -> Option<bool> {
    let sa = sc.sas[c.an.index()].as_ref()?;
    verify_with(cfg, &sa.crypto, c, frame)
}

/// [`verify`] with the SA's key material given directly (the multi-core runtime shares it).
pub fn verify_with<B: FrameBuf>(cfg: &SecyConfig, crypto: &SaCrypto, c: &Classified, frame: &mut B) -> Option<bool> {
    let aad_len = super::batch::open_aad_len(cfg, c)?;
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
    let state = RxState { replay: &mut sa.replay, sa: &mut sc.sa_stats[c.an.index()], sc: &mut sc.stats };
    let verdict = decide(cfg, c, valid, state);
    if verdict.delivered() {
        strip(frame, c.tag_len());
    }
    verdict
}

/// What the ordered stage updates for a frame: its receive SA's replay window and counters,
/// and its receive SC's counters.
pub struct RxState<'a> {
    pub replay: &'a mut ReplayWindow,
    pub sa: &'a mut RxSaStats,
    pub sc: &'a mut RxScStats,
}

/// 10.6.5, in arrival order: the second replay check, the counters of the outcome, and the
/// window update for a valid frame. Leaves the frame alone.
#[inline]
pub fn decide(cfg: &SecyConfig, c: &Classified, valid: Option<bool>, state: RxState<'_>) -> RxVerdict {
    // The usual case first: a valid frame with the next PN. It is neither late nor below the
    // window (the lowest acceptable PN never passes nextPN), so the general path would reach
    // the same counters and window update.
    if valid == Some(true) && state.replay.is_next(c.pn) {
        count_octets(c, state.sc);
        state.sa.in_pkts_ok += 1;
        state.replay.accept(c.pn, cfg.replay_window);
        return RxVerdict::Ok;
    }
    decide_any(cfg, c, valid, state)
}

/// Frames of one receive SA that [`decide`] takes its usual path for, one after the other:
/// valid, each with the PN after the one before, the first with nextPN. Each is counted as it
/// joins; the window and the SA's InPktsOK are updated once for the run, by
/// [`finish`](Self::finish), with what `decide` on each in turn would leave.
#[must_use = "the run's window and counters are recorded by `finish`"]
pub struct InOrderRun<'a> {
    state: RxState<'a>,
    frames: u64,
}

impl<'a> InOrderRun<'a> {
    pub fn new(state: RxState<'a>) -> Self {
        InOrderRun { state, frames: 0 }
    }

    /// Adds the frame if `decide` would accept it after the run's frames, and says whether it
    /// did; the caller delivers it (SecTAG and ICV removed).
    #[inline]
    pub fn push(&mut self, c: &Classified, valid: Option<bool>) -> bool {
        if valid != Some(true) || !self.state.replay.is_next_after(c.pn, self.frames) {
            return false;
        }
        count_octets(c, self.state.sc);
        self.frames += 1;
        true
    }

    /// Records the run (10.6.5) and returns how many frames it has.
    pub fn finish(self, cfg: &SecyConfig) -> u64 {
        self.state.sa.in_pkts_ok += self.frames;
        self.state.replay.accept_next(self.frames, cfg.replay_window);
        self.frames
    }
}

/// [`decide`] for any frame.
#[inline]
fn decide_any(cfg: &SecyConfig, c: &Classified, valid: Option<bool>, state: RxState<'_>) -> RxVerdict {
    let RxState { replay, sa: sa_stats, sc: sc_stats } = state;
    if cfg.replay_protect && replay.check(c.pn).is_err() {
        sc_stats.in_pkts_late += 1;
        return RxVerdict::Late;
    }
    if valid.is_some() {
        count_octets(c, sc_stats);
    }
    let below = replay.is_below(c.pn);
    match valid {
        Some(false) if c.tci.c() || cfg.validate_frames == ValidateFrames::Strict => {
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

/// 10.6.5: the octets of a frame that went through validation, by whether it was encrypted.
#[inline]
fn count_octets(c: &Classified, sc_stats: &mut RxScStats) {
    if c.tci.e() {
        sc_stats.in_octets_decrypted += u64::from(c.secure_data_len);
    } else {
        sc_stats.in_octets_validated += u64::from(c.secure_data_len);
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
///
/// Reads the fixed offsets in one pass (the receive fast path): the same result as
/// [`SecTag::new_checked`](super::sectag::SecTag::new_checked), [`SecTagRepr::parse`] and
/// [`SecTagRepr::check`] in turn (`parse_tag_is_the_view_and_repr_path`).
#[inline]
pub fn parse_tag(bytes: &[u8], xpn: bool) -> Option<(SecTagRepr, usize, usize)> {
    // 9.3: DA | SA | EtherType | TCI/AN | SL | PN (4) | [SCI (8)].
    let (head, rest) = bytes.split_first_chunk::<{ MAC_ADDRS_LEN + SECTAG_LEN_NO_SCI }>()?;
    let [.., e0, e1, tci_an, sl, p0, p1, p2, p3] = *head;
    if u16::from_be_bytes([e0, e1]) != ETHERTYPE_MACSEC {
        return None;
    }
    let tci = Tci::from_bits(tci_an);
    let (sci, tag_len) = if tci.sc() {
        (Some(Sci::from_bytes(*rest.first_chunk::<8>()?)), SECTAG_LEN_SCI)
    } else {
        (None, SECTAG_LEN_NO_SCI)
    };
    let secure_data_len = bytes.len().checked_sub(MAC_ADDRS_LEN + tag_len + ICV_LEN)?;
    if secure_data_len > u32::MAX as usize {
        return None;
    }
    let repr = SecTagRepr { tci, an: An::from_tci(tci_an), sl, pn: u32::from_be_bytes([p0, p1, p2, p3]), sci };
    repr.check(secure_data_len, xpn).ok()?;
    Some((repr, tag_len, secure_data_len))
}

/// The SecTAG a receive SC's frames usually carry: the MACsec EtherType, SC, E and C set, V,
/// ES and SCB clear, and the SC's SCI. Recognised with three compares, without the general
/// parse: what [`PeerTag::parse`] returns is what [`parse_tag`] returns for the frame
/// (`peer_tag_is_parse_tag`), and any other frame gets `None` and goes to `parse_tag`.
#[derive(Clone, Copy, Debug)]
pub struct PeerTag {
    sci: [u8; 8],
}

impl PeerTag {
    /// 9.5: E and C both set (confidentiality); 9.9: the SCI is sent.
    const TCI: u8 = Tci::SC | Tci::E | Tci::C;

    pub fn new(sci: Sci) -> Self {
        PeerTag { sci: sci.to_bytes() }
    }

    /// The SecTAG, if the frame carries this one and passes 9.12, and the Secure Data length.
    #[inline]
    pub fn parse(&self, bytes: &[u8], xpn: bool) -> Option<(SecTagRepr, usize)> {
        let head = bytes.first_chunk::<{ MAC_ADDRS_LEN + SECTAG_LEN_SCI }>()?;
        let [.., e0, e1, tci_an, sl, p0, p1, p2, p3, _, _, _, _, _, _, _, _] = *head;
        let sci = head.last_chunk::<8>()?;
        if [e0, e1] != ETHERTYPE_MACSEC.to_be_bytes() || tci_an & 0xfc != Self::TCI || *sci != self.sci {
            return None;
        }
        let secure_data_len = bytes.len().checked_sub(MAC_ADDRS_LEN + SECTAG_LEN_SCI + ICV_LEN)?;
        if secure_data_len > u32::MAX as usize {
            return None;
        }
        let tci = Tci::from_bits(tci_an);
        let pn = u32::from_be_bytes([p0, p1, p2, p3]);
        let repr = SecTagRepr { tci, an: An::from_tci(tci_an), sl, pn, sci: Some(Sci::from_bytes(*sci)) };
        repr.check(secure_data_len, xpn).ok()?;
        Some((repr, secure_data_len))
    }
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
#[inline]
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

#[cfg(test)]
mod tests {
    use super::super::sectag::SecTag;
    use super::*;
    use proptest::prelude::*;

    /// What `parse_tag` computed before its fast path: the view, then the repr, then 9.12.
    fn by_view_and_repr(bytes: &[u8], xpn: bool) -> Option<(SecTagRepr, usize, usize)> {
        let tag = SecTag::new_checked(bytes.get(MAC_ADDRS_LEN..)?).ok()?;
        let tag_len = tag.header_len();
        let repr = SecTagRepr::parse(&tag).ok()?;
        let secure_data_len = bytes.len().checked_sub(MAC_ADDRS_LEN + tag_len + ICV_LEN)?;
        repr.check(secure_data_len, xpn).ok()?;
        Some((repr, tag_len, secure_data_len))
    }

    #[test]
    fn classified_is_small() {
        assert!(std::mem::size_of::<Classified>() <= 32);
    }

    /// A frame of SA AN 0 with PN `pn` and the given E and C bits.
    fn classified(pn: u64, tci: u8) -> Classified {
        let tag = SecTagRepr { tci: Tci::from_bits(tci & 0x0c), an: An::from_tci(0), sl: 0, pn: pn as u32, sci: None };
        Classified::new(Sci(1), 0, Pn(pn), &tag, SECTAG_LEN_SCI, 100)
    }

    /// A receiver for the property tests: its configuration, with one SA's window and counters.
    fn cfg_with(replay_protect: bool, window: u32, frames_mode: ValidateFrames) -> SecyConfig {
        let mut cfg = SecyConfig::new(super::super::CipherSuite::GcmAes128);
        (cfg.replay_protect, cfg.replay_window, cfg.validate_frames) = (replay_protect, window, frames_mode);
        cfg
    }

    struct Rx {
        window: ReplayWindow,
        sa: RxSaStats,
        sc: RxScStats,
    }

    impl Rx {
        fn new() -> Self {
            Rx { window: ReplayWindow::new(Pn(1)), sa: RxSaStats::default(), sc: RxScStats::default() }
        }

        fn state(&mut self) -> RxState<'_> {
            RxState { replay: &mut self.window, sa: &mut self.sa, sc: &mut self.sc }
        }

        /// Same counters, window bounds, and replay check on every PN below `end`.
        fn same_as(&self, o: &Rx, end: u64) -> bool {
            (self.sa, self.sc) == (o.sa, o.sc)
                && (self.window.next_pn(), self.window.lowest_pn()) == (o.window.next_pn(), o.window.lowest_pn())
                && (0..end).all(|pn| self.window.check(Pn(pn)) == o.window.check(Pn(pn)))
        }
    }

    proptest! {
        #[test]
        fn decide_fast_path_is_decide_any(
            frames in proptest::collection::vec((1u64..80, prop::sample::select(vec![Some(true), Some(false), None]), any::<u8>()), 1..120),
            replay_protect in any::<bool>(),
            window in 0u32..40,
            frames_mode in prop::sample::select(vec![ValidateFrames::Strict, ValidateFrames::Check, ValidateFrames::Disabled]),
        ) {
            let cfg = cfg_with(replay_protect, window, frames_mode);
            let (mut fast, mut any) = (Rx::new(), Rx::new());
            for (pn, valid, tci) in frames {
                let c = classified(pn, tci);
                let v = decide(&cfg, &c, valid, fast.state());
                let w = decide_any(&cfg, &c, valid, any.state());
                prop_assert_eq!(v, w);
                prop_assert!(fast.same_as(&any, 0), "pn {}", pn);
            }
            prop_assert!(fast.same_as(&any, 90));
        }

        /// Frames taken in runs where they can be, `decide` on each of the others, as
        /// `finish_burst` does: the same verdicts, counters and window as `decide` on each.
        #[test]
        fn in_order_runs_are_decide_in_turn(
            frames in proptest::collection::vec((prop_oneof![6 => Just(0i64), 2 => -5i64..5], prop_oneof![6 => Just(Some(true)), 1 => Just(Some(false)), 1 => Just(None)], any::<u8>()), 1..150),
            replay_protect in any::<bool>(),
            window in 0u32..40,
            frames_mode in prop::sample::select(vec![ValidateFrames::Strict, ValidateFrames::Check, ValidateFrames::Disabled]),
        ) {
            let cfg = cfg_with(replay_protect, window, frames_mode);
            let (mut runs, mut each) = (Rx::new(), Rx::new());
            // PNs mostly one after the other, some steps back and forward.
            let mut pn = 1u64;
            let frames: Vec<_> = frames.into_iter().map(|(step, valid, tci)| {
                pn = pn.saturating_add_signed(step).max(1);
                let c = classified(pn, tci);
                pn += 1;
                (c, valid)
            }).collect();
            let mut expected = Vec::new();
            for (c, valid) in &frames {
                expected.push(decide(&cfg, c, *valid, each.state()));
            }
            let mut got = Vec::new();
            let mut i = 0;
            while i < frames.len() {
                let mut run = InOrderRun::new(runs.state());
                let taken = frames[i..].iter().take_while(|(c, valid)| run.push(c, *valid)).count();
                prop_assert_eq!(run.finish(&cfg), taken as u64);
                got.extend(std::iter::repeat_n(RxVerdict::Ok, taken));
                i += taken;
                if taken == 0 {
                    let (c, valid) = &frames[i];
                    got.push(decide(&cfg, c, *valid, runs.state()));
                    i += 1;
                }
            }
            prop_assert_eq!(got, expected);
            prop_assert!(runs.same_as(&each, pn + 10));
        }

        /// Frames near the usual SecTAG (each octet of it sometimes changed): where `PeerTag`
        /// recognises one, `parse_tag` parses it the same, and names the same SCI.
        #[test]
        fn peer_tag_is_parse_tag(
            tci_an in prop_oneof![4 => Just(0x2cu8), 1 => any::<u8>()],
            sl in prop_oneof![2 => Just(0u8), 1 => any::<u8>()],
            pn in prop_oneof![2 => 1u32.., 1 => Just(0u32)],
            flip in prop::option::of((0usize..28, any::<u8>())),
            len in prop_oneof![40usize..120, Just(92)],
            xpn in any::<bool>(),
        ) {
            let sci = Sci(0x0200_0000_000b_0001);
            let mut bytes = vec![0x5au8; len];
            bytes[12..14].copy_from_slice(&ETHERTYPE_MACSEC.to_be_bytes());
            (bytes[14], bytes[15]) = (tci_an, sl);
            bytes[16..20].copy_from_slice(&pn.to_be_bytes());
            bytes[20..28].copy_from_slice(&sci.to_bytes());
            if let Some((at, value)) = flip {
                bytes[at] = value;
            }
            let peer = PeerTag::new(sci).parse(&bytes, xpn);
            if let Some((tag, secure_data_len)) = peer {
                prop_assert_eq!(parse_tag(&bytes, xpn), Some((tag, SECTAG_LEN_SCI, secure_data_len)));
                prop_assert_eq!(explicit_sci(&tag, &bytes), Some(sci));
                prop_assert!(tag.tci.c());
            }
            // The usual frame is recognised.
            if flip.is_none() && tci_an == 0x2c && (pn != 0 || xpn) && parse_tag(&bytes, xpn).is_some() {
                prop_assert!(peer.is_some());
            }
        }

        #[test]
        fn parse_tag_is_the_view_and_repr_path(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..120),
            macsec in any::<bool>(),
            xpn in any::<bool>(),
        ) {
            if macsec && bytes.len() >= 14 {
                bytes[12..14].copy_from_slice(&ETHERTYPE_MACSEC.to_be_bytes());
            }
            prop_assert_eq!(parse_tag(&bytes, xpn), by_view_and_repr(&bytes, xpn));
        }
    }
}
