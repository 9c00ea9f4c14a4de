//! MKPDU codec (IEEE 802.1X-2020 11.11): an EAPOL-MKA frame with its parameter sets.
//!
//! No-panic contract: [`Mkpdu::parse`] never panics on any input; every parameter set is read with
//! a [`Reader`] bounded to the set's own length, so a bad length field cannot make one set read
//! into the next. [`Mkpdu::emit`] never panics.
//!
//! The parse result does not prove the MKPDU authentic: the caller looks up the CAK by the CKN in
//! the Basic Parameter Set and checks the ICV over [`ParsedMkpdu::signed`] before acting on
//! anything else (IEEE 802.1X-2020 11.11.2).

use std::fmt;

use macsec_dataplane::secy::Sci;

use super::announcement::Announcement;
use super::icv::{self, ICV_LEN};
use super::keys::{Ckn, Ick};

/// The PAE group address MKPDUs are sent to (IEEE 802.1X-2020 Table 11-1, nearest customer bridge).
pub const PAE_GROUP_ADDR: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03];
pub const ETHERTYPE_EAPOL: u16 = 0x888e;
/// EAPOL Packet Type of an MKPDU (IEEE 802.1X-2020 Table 11-3).
pub const EAPOL_TYPE_MKA: u8 = 0x05;
/// EAPOL protocol version we send (IEEE 802.1X-2010 and later use 3).
pub const EAPOL_VERSION: u8 = 0x03;
/// MKA version we send: 3 (IEEE 802.1X-2020 11.11.2; version 3 adds the XPN parameter set).
pub const MKA_VERSION: u8 = 3;
/// Algorithm Agility for the AES-CMAC KDF and ICV (IEEE 802.1X-2020 Table 11-4).
pub const ALGORITHM_AGILITY: u32 = 0x0080_c201;

const ETH_HEADER: usize = 14;
const EAPOL_HEADER: usize = 4;
const BASIC_FIXED: usize = 28;

/// Parameter set types (IEEE 802.1X-2020 Table 11-7).
pub mod set_type {
    pub const LIVE_PEER_LIST: u8 = 1;
    pub const POTENTIAL_PEER_LIST: u8 = 2;
    pub const SAK_USE: u8 = 3;
    pub const DISTRIBUTED_SAK: u8 = 4;
    pub const DISTRIBUTED_CAK: u8 = 5;
    pub const KMD: u8 = 6;
    pub const ANNOUNCEMENT: u8 = 7;
    pub const XPN: u8 = 8;
    pub const ICV_INDICATOR: u8 = 255;
}

/// Member Identifier: 96 random bits (IEEE 802.1X-2020 9.4.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mi(pub [u8; 12]);

impl fmt::Debug for Mi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mi({})", hex::encode(self.0))
    }
}

impl fmt::Display for Mi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Key Number, with the key server's MI the Key Identifier of a SAK (IEEE 802.1X-2020 9.8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Kn(pub u32);

/// Why a frame is not a well-formed MKPDU. One variant per check; the messages name the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MkpduError {
    /// Shorter than an Ethernet + EAPOL header.
    TooShort,
    /// The EtherType is not 0x888E.
    NotEapol,
    /// An EAPOL frame that is not EAPOL-MKA (type 5).
    NotMka { eapol_type: u8 },
    /// The EAPOL body length runs past the frame.
    BodyLength { declared: usize, available: usize },
    /// The body is not a multiple of 4 octets (IEEE 802.1X-2020 11.11.2 b).
    NotMultipleOf4 { len: usize },
    /// The body is too short for a Basic Parameter Set and an ICV.
    BasicTooShort,
    /// The MKA Version is 0.
    MkaVersion(u8),
    /// The CKN is empty or longer than 32 octets (IEEE 802.1X-2020 11.11.2 c).
    CknLength(usize),
    /// A parameter set's length runs past the body.
    SetOverrun { set_type: u8 },
    /// A parameter set's length is wrong for its type.
    SetLength { set_type: u8, len: usize },
    /// A parameter set type appears twice.
    Duplicate { set_type: u8 },
    /// Octets after the ICV Indicator.
    TrailingAfterIcv,
    /// An Announcement TLV (or its 2-octet header) runs past the parameter set body.
    AnnouncementTlvOverrun { tlv_type: u8 },
    /// An Announcement TLV's length is wrong for its type.
    AnnouncementTlvLength { tlv_type: u8, len: usize },
}

impl fmt::Display for MkpduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("frame shorter than the Ethernet and EAPOL headers"),
            Self::NotEapol => f.write_str("EtherType is not EAPOL (0x888e)"),
            Self::NotMka { eapol_type } => write!(f, "EAPOL packet type {eapol_type}, expected 5 (EAPOL-MKA)"),
            Self::BodyLength { declared, available } => {
                write!(f, "EAPOL body length {declared} exceeds the {available} octets present")
            }
            Self::NotMultipleOf4 { len } => write!(f, "MKPDU body length {len} is not a multiple of 4"),
            Self::BasicTooShort => f.write_str("MKPDU too short for a Basic Parameter Set and an ICV"),
            Self::MkaVersion(v) => write!(f, "MKA version {v}, expected 1 or later"),
            Self::CknLength(n) => write!(f, "CKN of {n} octets, expected 1 to 32"),
            Self::SetOverrun { set_type } => write!(f, "parameter set {set_type} runs past the MKPDU body"),
            Self::SetLength { set_type, len } => write!(f, "parameter set {set_type} has invalid body length {len}"),
            Self::Duplicate { set_type } => write!(f, "parameter set {set_type} appears twice"),
            Self::TrailingAfterIcv => f.write_str("octets after the ICV Indicator"),
            Self::AnnouncementTlvOverrun { tlv_type } => {
                write!(f, "announcement TLV {tlv_type} runs past the Announcement parameter set")
            }
            Self::AnnouncementTlvLength { tlv_type, len } => {
                write!(f, "announcement TLV {tlv_type} has invalid length {len}")
            }
        }
    }
}

impl std::error::Error for MkpduError {}

/// Basic Parameter Set (IEEE 802.1X-2020 Figure 11-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basic {
    pub mka_version: u8,
    pub key_server_priority: u8,
    pub key_server: bool,
    pub macsec_desired: bool,
    /// 0 not implemented, 1 integrity only, 2 integrity or confidentiality offset 0, 3 with offsets.
    pub macsec_capability: u8,
    pub sci: Sci,
    pub mi: Mi,
    pub mn: u32,
    pub algorithm_agility: u32,
    pub ckn: Ckn,
}

/// One (MI, MN) entry of a Live or Potential Peer List.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerEntry {
    pub mi: Mi,
    pub mn: u32,
}

/// Live or Potential Peer List (IEEE 802.1X-2020 Figure 11-9).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PeerList {
    /// Octet 2: the key server's SSCI assignment in a Live Peer List with XPN, else 0.
    pub octet2: u8,
    pub peers: Vec<PeerEntry>,
}

/// One key of a SAK Use parameter set: Key Identifier and Lowest Acceptable PN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyUse {
    pub server_mi: Mi,
    pub kn: Kn,
    /// Lower 32 bits; the upper 32 bits of an XPN PN travel in the XPN parameter set.
    pub lowest_pn: u32,
}

/// MACsec SAK Use (IEEE 802.1X-2020 Figure 11-10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SakUse {
    pub latest_an: u8,
    pub latest_tx: bool,
    pub latest_rx: bool,
    pub old_an: u8,
    pub old_tx: bool,
    pub old_rx: bool,
    pub plain_tx: bool,
    pub plain_rx: bool,
    pub delay_protect: bool,
    /// `None` when the body is empty (no SAK in use).
    pub keys: Option<(KeyUse, KeyUse)>,
}

/// Distributed SAK (IEEE 802.1X-2020 Figures 11-11 and 11-12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedSak {
    pub an: u8,
    pub confidentiality_offset: u8,
    pub kn: Kn,
    /// `None`: the default GCM-AES-128 (body 28 octets, no cipher suite field).
    pub cipher_suite: Option<u64>,
    /// The AES Key Wrap of the SAK, 24 or 40 octets.
    pub wrapped: Vec<u8>,
}

/// XPN parameter set (IEEE 802.1X-2020 Figure 11-14): upper PN halves of the SAK Use keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Xpn {
    pub suspension_time: u8,
    pub latest_lowest_pn_hi: u32,
    pub old_lowest_pn_hi: u32,
}

/// A decoded MKPDU. Unknown parameter set types are skipped (IEEE 802.1X-2020 11.11.3) and listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mkpdu {
    pub basic: Basic,
    pub live_peers: Option<PeerList>,
    pub potential_peers: Option<PeerList>,
    pub sak_use: Option<SakUse>,
    pub distributed_sak: Option<DistributedSak>,
    pub xpn: Option<Xpn>,
    /// The Announcement parameter set (IEEE 802.1X-2020 11.12), decoded into its TLVs.
    pub announcement: Option<Announcement>,
    pub unknown_sets: Vec<u8>,
    /// Whether the ICV came in an ICV Indicator parameter set.
    pub icv_indicator: bool,
}

/// An MKPDU and what its ICV covers.
#[derive(Debug)]
pub struct ParsedMkpdu<'a> {
    pub mkpdu: Mkpdu,
    pub src: [u8; 6],
    /// The octets the ICV covers: destination address up to the ICV.
    pub signed: &'a [u8],
    pub icv: [u8; ICV_LEN],
}

impl ParsedMkpdu<'_> {
    pub fn verify_icv(&self, ick: &Ick) -> bool {
        icv::verify(ick, self.signed, &self.icv)
    }
}

/// A reader bounded to one slice; every read checks the remaining length.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.array::<4>().map(u32::from_be_bytes)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }
}

fn set_len(b2: u8, b3: u8) -> usize {
    (usize::from(b2 & 0x0f) << 8) | usize::from(b3)
}

fn padded(len: usize) -> usize {
    (len + 3) & !3
}

impl Mkpdu {
    /// Parses an Ethernet frame (no VLAN tag) holding an MKPDU.
    pub fn parse(frame: &[u8]) -> Result<ParsedMkpdu<'_>, MkpduError> {
        if frame.len() < ETH_HEADER + EAPOL_HEADER {
            return Err(MkpduError::TooShort);
        }
        if frame[12..14] != ETHERTYPE_EAPOL.to_be_bytes() {
            return Err(MkpduError::NotEapol);
        }
        if frame[15] != EAPOL_TYPE_MKA {
            return Err(MkpduError::NotMka { eapol_type: frame[15] });
        }
        let declared = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        let available = frame.len() - ETH_HEADER - EAPOL_HEADER;
        if declared > available {
            return Err(MkpduError::BodyLength { declared, available });
        }
        if declared % 4 != 0 {
            return Err(MkpduError::NotMultipleOf4 { len: declared });
        }
        let end = ETH_HEADER + EAPOL_HEADER + declared;
        let body = &frame[ETH_HEADER + EAPOL_HEADER..end];
        let (mkpdu, icv_at) = Self::parse_body(body)?;
        let icv_start = ETH_HEADER + EAPOL_HEADER + icv_at;
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&frame[icv_start..icv_start + ICV_LEN]);
        let mut src = [0u8; 6];
        src.copy_from_slice(&frame[6..12]);
        // With an ICV Indicator the ICV covers up to and including its 4-octet header.
        Ok(ParsedMkpdu { mkpdu, src, signed: &frame[..icv_start], icv })
    }

    /// Parses the MKPDU body; returns the offset of the ICV in it.
    fn parse_body(body: &[u8]) -> Result<(Mkpdu, usize), MkpduError> {
        if body.len() < 4 + BASIC_FIXED + ICV_LEN {
            return Err(MkpduError::BasicTooShort);
        }
        let basic_len = set_len(body[2], body[3]);
        let basic_end = 4 + padded(basic_len);
        if basic_len < BASIC_FIXED + 1 || basic_end + ICV_LEN > body.len() {
            return Err(MkpduError::SetLength { set_type: 0, len: basic_len });
        }
        let basic = parse_basic(&body[..4 + basic_len])?;
        let mut mkpdu = Mkpdu {
            basic,
            live_peers: None,
            potential_peers: None,
            sak_use: None,
            distributed_sak: None,
            xpn: None,
            announcement: None,
            unknown_sets: Vec::new(),
            icv_indicator: false,
        };
        let mut at = basic_end;
        // Without an ICV Indicator, the last 16 octets are the ICV (IEEE 802.1X-2020 11.11.2).
        let mut icv_at = body.len() - ICV_LEN;
        while at < icv_at {
            if at + 4 > body.len() {
                return Err(MkpduError::SetOverrun { set_type: body[at] });
            }
            let (kind, len) = (body[at], set_len(body[at + 2], body[at + 3]));
            if kind == set_type::ICV_INDICATOR {
                if len != ICV_LEN {
                    return Err(MkpduError::SetLength { set_type: kind, len });
                }
                if at + 4 + ICV_LEN != body.len() {
                    return Err(MkpduError::TrailingAfterIcv);
                }
                mkpdu.icv_indicator = true;
                icv_at = at + 4;
                break;
            }
            let next = at + 4 + padded(len);
            if next > icv_at {
                return Err(MkpduError::SetOverrun { set_type: kind });
            }
            mkpdu.parse_set(kind, body[at + 1], &body[at + 2..at + 4], &body[at + 4..at + 4 + len])?;
            at = next;
        }
        Ok((mkpdu, icv_at))
    }

    fn parse_set(&mut self, kind: u8, octet2: u8, len_octets: &[u8], set: &[u8]) -> Result<(), MkpduError> {
        let bad = MkpduError::SetLength { set_type: kind, len: set.len() };
        let dup = MkpduError::Duplicate { set_type: kind };
        let octet3 = len_octets.first().copied().unwrap_or(0);
        match kind {
            set_type::LIVE_PEER_LIST | set_type::POTENTIAL_PEER_LIST => {
                let list = parse_peers(octet2, set).ok_or(bad)?;
                let slot =
                    if kind == set_type::LIVE_PEER_LIST { &mut self.live_peers } else { &mut self.potential_peers };
                put(slot, list, dup)
            }
            set_type::SAK_USE => put(&mut self.sak_use, parse_sak_use(octet2, octet3, set).ok_or(bad)?, dup),
            set_type::DISTRIBUTED_SAK => put(&mut self.distributed_sak, parse_dist_sak(octet2, set).ok_or(bad)?, dup),
            set_type::XPN => put(&mut self.xpn, parse_xpn(octet2, set).ok_or(bad)?, dup),
            // IEEE 802.1X-2020 11.12: a sequence of TLVs; one running past the set is malformed.
            set_type::ANNOUNCEMENT => put(&mut self.announcement, Announcement::parse(set)?, dup),
            // IEEE 802.1X-2020 11.11.3: parameter sets of unknown type are skipped.
            _ => {
                self.unknown_sets.push(kind);
                Ok(())
            }
        }
    }
}

fn put<T>(slot: &mut Option<T>, value: T, dup: MkpduError) -> Result<(), MkpduError> {
    if slot.is_some() {
        return Err(dup);
    }
    *slot = Some(value);
    Ok(())
}

fn parse_basic(set: &[u8]) -> Result<Basic, MkpduError> {
    let mut r = Reader { buf: set };
    let short = MkpduError::BasicTooShort;
    let version = r.u8().ok_or(short)?;
    if version == 0 {
        return Err(MkpduError::MkaVersion(version));
    }
    let priority = r.u8().ok_or(short)?;
    let flags = r.u8().ok_or(short)?;
    let _len_lo = r.u8().ok_or(short)?;
    let sci = Sci::from_bytes(r.array::<8>().ok_or(short)?);
    let mi = Mi(r.array::<12>().ok_or(short)?);
    let mn = r.u32().ok_or(short)?;
    let algorithm_agility = r.u32().ok_or(short)?;
    let ckn = Ckn::from_slice(r.buf).map_err(|_| MkpduError::CknLength(r.buf.len()))?;
    Ok(Basic {
        mka_version: version,
        key_server_priority: priority,
        key_server: flags & 0x80 != 0,
        macsec_desired: flags & 0x40 != 0,
        macsec_capability: (flags >> 4) & 0x03,
        sci,
        mi,
        mn,
        algorithm_agility,
        ckn,
    })
}

fn parse_peers(octet2: u8, set: &[u8]) -> Option<PeerList> {
    if set.len() % 16 != 0 {
        return None;
    }
    let peers = set
        .chunks_exact(16)
        .filter_map(|c| {
            let mut r = Reader { buf: c };
            Some(PeerEntry { mi: Mi(r.array::<12>()?), mn: r.u32()? })
        })
        .collect();
    Some(PeerList { octet2, peers })
}

fn parse_key_use(r: &mut Reader<'_>) -> Option<KeyUse> {
    Some(KeyUse { server_mi: Mi(r.array::<12>()?), kn: Kn(r.u32()?), lowest_pn: r.u32()? })
}

fn parse_sak_use(octet2: u8, octet3: u8, set: &[u8]) -> Option<SakUse> {
    let mut r = Reader { buf: set };
    let keys = match set.len() {
        0 => None,
        40 => Some((parse_key_use(&mut r)?, parse_key_use(&mut r)?)),
        _ => return None,
    };
    Some(SakUse {
        latest_an: octet2 >> 6,
        latest_tx: octet2 & 0x20 != 0,
        latest_rx: octet2 & 0x10 != 0,
        old_an: (octet2 >> 2) & 0x03,
        old_tx: octet2 & 0x02 != 0,
        old_rx: octet2 & 0x01 != 0,
        plain_tx: octet3 & 0x80 != 0,
        plain_rx: octet3 & 0x40 != 0,
        delay_protect: octet3 & 0x10 != 0,
        keys,
    })
}

fn parse_dist_sak(octet2: u8, set: &[u8]) -> Option<DistributedSak> {
    let mut r = Reader { buf: set };
    let an = octet2 >> 6;
    let confidentiality_offset = (octet2 >> 4) & 0x03;
    // IEEE 802.1X-2020 11.11.1: body 0 = plain text; 28 = GCM-AES-128; 36 or 52 with a cipher suite.
    let (kn, cipher_suite, wrapped) = match set.len() {
        28 => (r.u32()?, None, r.take(24)?),
        36 | 52 => (r.u32()?, Some(u64::from_be_bytes(r.array::<8>()?)), r.buf),
        _ => return None,
    };
    Some(DistributedSak { an, confidentiality_offset, kn: Kn(kn), cipher_suite, wrapped: wrapped.to_vec() })
}

fn parse_xpn(octet2: u8, set: &[u8]) -> Option<Xpn> {
    let mut r = Reader { buf: set };
    if set.len() != 8 {
        return None;
    }
    Some(Xpn { suspension_time: octet2, latest_lowest_pn_hi: r.u32()?, old_lowest_pn_hi: r.u32()? })
}

/// Builds MKPDU frames.
impl Mkpdu {
    /// Encodes this MKPDU as an Ethernet frame from `src` to the PAE group address, with the ICV
    /// computed under `ick`. The ICV is sent without an ICV Indicator (as AWS asks); unknown sets
    /// are not re-sent.
    pub fn emit(&self, src: [u8; 6], ick: &Ick) -> Vec<u8> {
        let mut f = Vec::with_capacity(128);
        f.extend_from_slice(&PAE_GROUP_ADDR);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ETHERTYPE_EAPOL.to_be_bytes());
        f.extend_from_slice(&[EAPOL_VERSION, EAPOL_TYPE_MKA, 0, 0]);
        self.emit_basic(&mut f);
        for (kind, list) in
            [(set_type::LIVE_PEER_LIST, &self.live_peers), (set_type::POTENTIAL_PEER_LIST, &self.potential_peers)]
        {
            if let Some(list) = list {
                let start = begin_set(&mut f, kind, list.octet2);
                for p in &list.peers {
                    f.extend_from_slice(&p.mi.0);
                    f.extend_from_slice(&p.mn.to_be_bytes());
                }
                end_set(&mut f, start, 0);
            }
        }
        if let Some(u) = &self.sak_use {
            emit_sak_use(&mut f, u);
        }
        if let Some(d) = &self.distributed_sak {
            let start =
                begin_set(&mut f, set_type::DISTRIBUTED_SAK, (d.an << 6) | ((d.confidentiality_offset & 3) << 4));
            f.extend_from_slice(&d.kn.0.to_be_bytes());
            if let Some(cs) = d.cipher_suite {
                f.extend_from_slice(&cs.to_be_bytes());
            }
            f.extend_from_slice(&d.wrapped);
            end_set(&mut f, start, 0);
        }
        // Parameter sets go in ascending order of type (IEEE 802.1X-2020 11.11.3), so 7 before 8.
        if let Some(a) = &self.announcement {
            let start = begin_set(&mut f, set_type::ANNOUNCEMENT, 0);
            a.emit(&mut f);
            end_set(&mut f, start, 0);
        }
        if let Some(x) = &self.xpn {
            let start = begin_set(&mut f, set_type::XPN, x.suspension_time);
            f.extend_from_slice(&x.latest_lowest_pn_hi.to_be_bytes());
            f.extend_from_slice(&x.old_lowest_pn_hi.to_be_bytes());
            end_set(&mut f, start, 0);
        }
        let body_len = f.len() - ETH_HEADER - EAPOL_HEADER + ICV_LEN;
        let body_len = u16::try_from(body_len).unwrap_or(u16::MAX);
        f[16..18].copy_from_slice(&body_len.to_be_bytes());
        let icv = icv::compute(ick, &f);
        f.extend_from_slice(&icv);
        f
    }

    fn emit_basic(&self, f: &mut Vec<u8>) {
        let b = &self.basic;
        let start = f.len();
        f.push(b.mka_version);
        f.push(b.key_server_priority);
        let flags =
            (u8::from(b.key_server) << 7) | (u8::from(b.macsec_desired) << 6) | ((b.macsec_capability & 3) << 4);
        f.extend_from_slice(&[flags, 0]);
        f.extend_from_slice(&b.sci.to_bytes());
        f.extend_from_slice(&b.mi.0);
        f.extend_from_slice(&b.mn.to_be_bytes());
        f.extend_from_slice(&b.algorithm_agility.to_be_bytes());
        f.extend_from_slice(b.ckn.as_bytes());
        end_set(f, start, flags);
    }
}

fn emit_sak_use(f: &mut Vec<u8>, u: &SakUse) {
    let octet2 = ((u.latest_an & 3) << 6)
        | (u8::from(u.latest_tx) << 5)
        | (u8::from(u.latest_rx) << 4)
        | ((u.old_an & 3) << 2)
        | (u8::from(u.old_tx) << 1)
        | u8::from(u.old_rx);
    let octet3 = (u8::from(u.plain_tx) << 7) | (u8::from(u.plain_rx) << 6) | (u8::from(u.delay_protect) << 4);
    let start = begin_set(f, set_type::SAK_USE, octet2);
    if let Some((latest, old)) = &u.keys {
        for k in [latest, old] {
            f.extend_from_slice(&k.server_mi.0);
            f.extend_from_slice(&k.kn.0.to_be_bytes());
            f.extend_from_slice(&k.lowest_pn.to_be_bytes());
        }
    }
    end_set(f, start, octet3);
}

fn begin_set(f: &mut Vec<u8>, kind: u8, octet2: u8) -> usize {
    let start = f.len();
    f.extend_from_slice(&[kind, octet2, 0, 0]);
    start
}

/// Writes the 12-bit body length (with the high nibble of octet 3 from `octet3_flags`) and pads to
/// a multiple of 4 (IEEE 802.1X-2020 11.11.1).
fn end_set(f: &mut Vec<u8>, start: usize, octet3_flags: u8) {
    let len = f.len() - start - 4;
    f[start + 2] = (octet3_flags & 0xf0) | ((len >> 8) as u8 & 0x0f);
    f[start + 3] = (len & 0xff) as u8;
    f.resize(start + 4 + padded(len), 0);
}

#[cfg(test)]
mod tests {
    use super::super::announcement::{tlv_type, AnnouncedCipherSuite, AnnouncementTlv};
    use super::super::kdf;
    use super::super::keys::Cak;
    use super::*;

    const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

    fn ick() -> Ick {
        kdf::derive_ick(&Cak::from_hex(&"ab".repeat(32)).unwrap(), &Ckn::from_hex(&"cd".repeat(32)).unwrap())
    }

    fn basic_only() -> Mkpdu {
        Mkpdu {
            basic: Basic {
                mka_version: MKA_VERSION,
                key_server_priority: 16,
                key_server: false,
                macsec_desired: true,
                macsec_capability: 2,
                sci: Sci(0x0200_0000_000a_0001),
                mi: Mi([7; 12]),
                mn: 1,
                algorithm_agility: ALGORITHM_AGILITY,
                ckn: Ckn::from_hex(&"cd".repeat(32)).unwrap(),
            },
            live_peers: None,
            potential_peers: None,
            sak_use: None,
            distributed_sak: None,
            xpn: None,
            announcement: None,
            unknown_sets: Vec::new(),
            icv_indicator: false,
        }
    }

    /// A Basic-only MKPDU with `sets` (raw parameter sets, padded) before a fresh ICV.
    fn with_raw_sets(sets: &[u8]) -> Vec<u8> {
        let mut f = basic_only().emit(SRC, &ick());
        f.truncate(f.len() - ICV_LEN);
        f.extend_from_slice(sets);
        let body_len = (f.len() - ETH_HEADER - EAPOL_HEADER + ICV_LEN) as u16;
        f[16..18].copy_from_slice(&body_len.to_be_bytes());
        let icv = icv::compute(&ick(), &f);
        f.extend_from_slice(&icv);
        f
    }

    /// An Announcement set (IEEE 802.1X-2020 11.12) holding a MACsec Cipher Suites TLV (GCM-AES-256,
    /// capability 3) and a 3-octet Key Management Domain TLV: body 17 octets, 3 of padding.
    fn announcement_set() -> Vec<u8> {
        let mut s = vec![set_type::ANNOUNCEMENT, 0, 0, 17];
        s.extend_from_slice(&[0x70 << 1, 10, 0x00, 0x03]);
        s.extend_from_slice(&0x0080_c200_0100_0002u64.to_be_bytes());
        s.extend_from_slice(&[0x71 << 1, 3, b'a', b'w', b's', 0, 0, 0]);
        s
    }

    fn xpn_set() -> Vec<u8> {
        vec![set_type::XPN, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2]
    }

    #[test]
    fn announcement_is_parsed_into_tlvs() {
        let f = with_raw_sets(&[announcement_set(), xpn_set()].concat());
        let p = Mkpdu::parse(&f).unwrap();
        assert!(p.verify_icv(&ick()));
        let a = p.mkpdu.announcement.as_ref().unwrap();
        assert_eq!(
            a.tlvs,
            vec![
                AnnouncementTlv::CipherSuites(vec![AnnouncedCipherSuite {
                    macsec_capability: 3,
                    cipher_suite: 0x0080_c200_0100_0002
                }]),
                AnnouncementTlv::Unknown { tlv_type: tlv_type::KEY_MANAGEMENT_DOMAIN, bytes: b"aws".to_vec() },
            ]
        );
        // The set's padding is skipped: the XPN set after it is read as such.
        assert_eq!(p.mkpdu.xpn, Some(Xpn { suspension_time: 0, latest_lowest_pn_hi: 1, old_lowest_pn_hi: 2 }));
        assert!(p.mkpdu.unknown_sets.is_empty());
    }

    #[test]
    fn announcement_round_trips_through_emit() {
        let frame = with_raw_sets(&[announcement_set(), xpn_set()].concat());
        let p = Mkpdu::parse(&frame).unwrap();
        let again = p.mkpdu.emit(SRC, &ick());
        // Sent in order of type (announcement 7 before XPN 8), the octets are the same.
        assert_eq!(again, frame);
        let back = Mkpdu::parse(&again).unwrap();
        assert!(back.verify_icv(&ick()));
        assert_eq!(back.mkpdu, p.mkpdu);
    }

    #[test]
    fn zero_length_announcement_is_an_empty_one() {
        let f = with_raw_sets(&[set_type::ANNOUNCEMENT, 0, 0, 0]);
        let p = Mkpdu::parse(&f).unwrap();
        assert_eq!(p.mkpdu.announcement, Some(Announcement::default()));
        assert_eq!(p.mkpdu.emit(SRC, &ick()), f);
    }

    #[test]
    fn announcement_tlv_running_past_the_set_is_malformed() {
        // The KMD TLV claims 4 octets where the set holds 3 (its padding must not be read).
        let mut s = announcement_set();
        s[17] = 4;
        let err = Mkpdu::parse(&with_raw_sets(&s)).unwrap_err();
        assert_eq!(err, MkpduError::AnnouncementTlvOverrun { tlv_type: tlv_type::KEY_MANAGEMENT_DOMAIN });
        // A TLV header cut in half by the set length.
        let err = Mkpdu::parse(&with_raw_sets(&[set_type::ANNOUNCEMENT, 0, 0, 1, 0x70 << 1, 0, 0, 0])).unwrap_err();
        assert_eq!(err, MkpduError::AnnouncementTlvOverrun { tlv_type: tlv_type::MACSEC_CIPHER_SUITES });
        // A Cipher Suites TLV that is not a whole number of 10-octet entries.
        let mut s = vec![set_type::ANNOUNCEMENT, 0, 0, 14, 0x70 << 1, 12];
        s.extend_from_slice(&[0; 14]);
        let err = Mkpdu::parse(&with_raw_sets(&s)).unwrap_err();
        assert_eq!(err, MkpduError::AnnouncementTlvLength { tlv_type: tlv_type::MACSEC_CIPHER_SUITES, len: 12 });
    }

    #[test]
    fn two_announcements_are_refused() {
        let f = with_raw_sets(&[announcement_set(), announcement_set()].concat());
        assert_eq!(Mkpdu::parse(&f).unwrap_err(), MkpduError::Duplicate { set_type: set_type::ANNOUNCEMENT });
    }
}
