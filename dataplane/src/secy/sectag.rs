//! The MACsec Security TAG (IEEE 802.1AE-2018 9.3): a zero-copy view [`SecTag`] and an owned
//! [`SecTagRepr`].
//!
//! The view starts at the MACsec EtherType (octet 12 of a frame without clear tags):
//! `88e5 | TCI/AN | SL | PN (4) | [SCI (8)]`.
//!
//! No-panic contract: once [`SecTag::new_checked`] returns `Ok`, no accessor panics;
//! [`SecTagRepr::parse`] never panics on any input; [`SecTagRepr::emit`] into a buffer of at least
//! [`SecTagRepr::buffer_len`] octets never panics (shorter buffers return `Err`).

use super::{An, Sci};

/// The MACsec EtherType (IEEE 802.1AE-2018 9.2).
pub const ETHERTYPE_MACSEC: u16 = 0x88e5;
/// SecTAG length with an SCI, EtherType included.
pub const SECTAG_LEN_SCI: usize = 16;
/// SecTAG length without an SCI, EtherType included.
pub const SECTAG_LEN_NO_SCI: usize = 8;
/// IEEE 802.1AE-2018 9.7: a Secure Data length below this goes in the SL field.
pub const SHORT_LENGTH_LIMIT: usize = 48;

mod field {
    use std::ops::Range;
    pub const ETHERTYPE: Range<usize> = 0..2;
    pub const TCI_AN: usize = 2;
    pub const SL: usize = 3;
    pub const PN: Range<usize> = 4..8;
    pub const SCI: Range<usize> = 8..16;
}

/// The one error of the wire layer: the bytes are not a SecTAG we can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError;

/// The TCI bits of the TCI/AN octet (IEEE 802.1AE-2018 9.5).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Tci(u8);

impl Tci {
    /// Version: must be 0.
    pub const V: u8 = 0x80;
    /// End Station: the SCI is the source MAC address ‖ 0x0001.
    pub const ES: u8 = 0x40;
    /// SCI present in the SecTAG.
    pub const SC: u8 = 0x20;
    /// Single Copy Broadcast.
    pub const SCB: u8 = 0x10;
    /// Encryption.
    pub const E: u8 = 0x08;
    /// Changed text.
    pub const C: u8 = 0x04;

    pub fn from_bits(bits: u8) -> Self {
        Tci(bits & 0xfc)
    }
    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn with(self, bit: u8, on: bool) -> Self {
        if on {
            Tci(self.0 | bit)
        } else {
            Tci(self.0 & !bit)
        }
    }
    pub fn version(self) -> bool {
        self.has(Self::V)
    }
    pub fn es(self) -> bool {
        self.has(Self::ES)
    }
    pub fn sc(self) -> bool {
        self.has(Self::SC)
    }
    pub fn scb(self) -> bool {
        self.has(Self::SCB)
    }
    pub fn e(self) -> bool {
        self.has(Self::E)
    }
    pub fn c(self) -> bool {
        self.has(Self::C)
    }
}

/// A read (and, over `AsMut`, write) view of a SecTAG.
#[derive(Debug, Clone)]
pub struct SecTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SecTag<T> {
    pub fn new_unchecked(buffer: T) -> Self {
        SecTag { buffer }
    }

    /// Checks that the buffer holds the whole SecTAG its SC bit announces.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let tag = Self::new_unchecked(buffer);
        tag.check_len()?;
        Ok(tag)
    }

    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < SECTAG_LEN_NO_SCI {
            return Err(WireError);
        }
        if Tci::from_bits(b[field::TCI_AN]).sc() && b.len() < SECTAG_LEN_SCI {
            return Err(WireError);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    // The accessors below index within the first 8 (or, with SC, 16) octets: in bounds once
    // check_len() passed.
    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn tci(&self) -> Tci {
        Tci::from_bits(self.buffer.as_ref()[field::TCI_AN])
    }
    pub fn an(&self) -> An {
        An::from_tci(self.buffer.as_ref()[field::TCI_AN])
    }
    /// The whole Short Length octet, reserved bits included.
    pub fn sl_octet(&self) -> u8 {
        self.buffer.as_ref()[field::SL]
    }
    pub fn pn(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::PN];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The SCI if the SC bit is set.
    pub fn sci(&self) -> Option<Sci> {
        if !self.tci().sc() {
            return None;
        }
        let b = &self.buffer.as_ref()[field::SCI];
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(Sci::from_bytes(a))
    }
    /// Octets this SecTAG occupies, EtherType included.
    pub fn header_len(&self) -> usize {
        if self.tci().sc() {
            SECTAG_LEN_SCI
        } else {
            SECTAG_LEN_NO_SCI
        }
    }
}

/// Whether the TCI bits `t` pass IEEE 802.1AE-2018 9.12: V is 0, SC is not set with ES or
/// with SCB, and C is set only with E.
const fn tci_ok(t: u8) -> bool {
    let sc = t & Tci::SC != 0;
    t & Tci::V == 0 && !(sc && t & (Tci::ES | Tci::SCB) != 0) && !(t & Tci::C != 0 && t & Tci::E == 0)
}

/// Bit `tci >> 2` is set when [`tci_ok`] holds for that TCI: one shift and mask per frame.
const TCI_OK: u64 = {
    let mut ok = 0u64;
    let mut i = 0;
    while i < 64 {
        if tci_ok((i as u8) << 2) {
            ok |= 1 << i;
        }
        i += 1;
    }
    ok
};

/// The decoded SecTAG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecTagRepr {
    pub tci: Tci,
    pub an: An,
    /// The whole SL octet as carried; 0 when the Secure Data is 48 octets or longer.
    pub sl: u8,
    /// The low 32 bits of the PN (all of it without XPN).
    pub pn: u32,
    pub sci: Option<Sci>,
}

/// Why a SecTAG is not valid (IEEE 802.1AE-2018 9.12). Each maps to InPktsBadTag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadTag {
    Version,
    EsWithSc,
    ScbWithSc,
    ChangedTextWithoutEncryption,
    SlReservedBits,
    SlMismatch,
    ShortFrameWithoutSl,
    ZeroPn,
    Truncated,
}

impl SecTagRepr {
    /// Decodes the SecTAG at the start of `buffer` (the MACsec EtherType first).
    pub fn parse<T: AsRef<[u8]>>(tag: &SecTag<T>) -> Result<Self, WireError> {
        tag.check_len()?;
        if tag.ethertype() != ETHERTYPE_MACSEC {
            return Err(WireError);
        }
        Ok(SecTagRepr { tci: tag.tci(), an: tag.an(), sl: tag.sl_octet(), pn: tag.pn(), sci: tag.sci() })
    }

    pub fn buffer_len(&self) -> usize {
        if self.sci.is_some() {
            SECTAG_LEN_SCI
        } else {
            SECTAG_LEN_NO_SCI
        }
    }

    /// Writes the SecTAG; the SC bit follows `sci`.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let len = self.buffer_len();
        let out = buffer.get_mut(..len).ok_or(WireError)?;
        out[field::ETHERTYPE].copy_from_slice(&ETHERTYPE_MACSEC.to_be_bytes());
        let tci = self.tci.with(Tci::SC, self.sci.is_some());
        out[field::TCI_AN] = tci.bits() | self.an.get();
        out[field::SL] = self.sl;
        out[field::PN].copy_from_slice(&self.pn.to_be_bytes());
        if let Some(sci) = self.sci {
            out[field::SCI].copy_from_slice(&sci.to_bytes());
        }
        Ok(())
    }

    /// The SL value for a Secure Data length (IEEE 802.1AE-2018 9.7).
    pub fn short_length(secure_data_len: usize) -> u8 {
        if secure_data_len < SHORT_LENGTH_LIMIT {
            secure_data_len as u8
        } else {
            0
        }
    }

    /// IEEE 802.1AE-2018 9.12: the checks a received SecTAG must pass before any crypto.
    /// `secure_data_len` is the number of octets between the SecTAG and the ICV. Without XPN a
    /// PN of 0 is never used (10.6.2); with XPN only the low half is carried, which may be 0.
    pub fn check(&self, secure_data_len: usize, xpn: bool) -> Result<(), BadTag> {
        // The receive fast path: a good SecTAG passes in one test; `reason` names what is wrong
        // with any other (the two agree on every input: `check_agrees_with_reason`).
        let sl_ok = match self.sl {
            0 => secure_data_len >= SHORT_LENGTH_LIMIT,
            sl => sl & 0xc0 == 0 && usize::from(sl) == secure_data_len,
        };
        if (TCI_OK >> (self.tci.0 >> 2)) & 1 != 0 && sl_ok && (self.pn != 0 || xpn) {
            return Ok(());
        }
        self.reason(secure_data_len, xpn)
    }

    /// The first check of 9.12 that the SecTAG fails, in the order of the standard.
    fn reason(&self, secure_data_len: usize, xpn: bool) -> Result<(), BadTag> {
        let tci = self.tci;
        if tci.version() {
            return Err(BadTag::Version);
        }
        if tci.es() && tci.sc() {
            return Err(BadTag::EsWithSc);
        }
        if tci.scb() && tci.sc() {
            return Err(BadTag::ScbWithSc);
        }
        if tci.c() && !tci.e() {
            return Err(BadTag::ChangedTextWithoutEncryption);
        }
        if self.sl & 0xc0 != 0 {
            return Err(BadTag::SlReservedBits);
        }
        if self.sl != 0 && usize::from(self.sl) != secure_data_len {
            return Err(BadTag::SlMismatch);
        }
        if self.sl == 0 && secure_data_len < SHORT_LENGTH_LIMIT {
            return Err(BadTag::ShortFrameWithoutSl);
        }
        if self.pn == 0 && !xpn {
            return Err(BadTag::ZeroPn);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // IEEE 802.1AE-2018 Annex C.1 (Table C-1): TCI 0x22, SL 0x2a, PN b2c28465, SCI 12153524c0895e81.
    const C1_SECTAG: [u8; 16] =
        [0x88, 0xe5, 0x22, 0x2a, 0xb2, 0xc2, 0x84, 0x65, 0x12, 0x15, 0x35, 0x24, 0xc0, 0x89, 0x5e, 0x81];

    #[test]
    fn deconstruct() {
        let tag = SecTag::new_checked(&C1_SECTAG[..]).unwrap();
        assert_eq!(tag.an().get(), 2);
        assert!(tag.tci().sc() && !tag.tci().e());
        assert_eq!(tag.sl_octet(), 0x2a);
        assert_eq!(tag.pn(), 0xb2c2_8465);
        assert_eq!(tag.sci(), Some(Sci(0x1215_3524_c089_5e81)));
        assert_eq!(tag.header_len(), 16);
    }

    #[test]
    fn construct_round_trips() {
        let repr = SecTagRepr::parse(&SecTag::new_checked(&C1_SECTAG[..]).unwrap()).unwrap();
        let mut out = [0u8; 16];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, C1_SECTAG);
        assert_eq!(repr.emit(&mut [0u8; 15]), Err(WireError));
    }

    #[test]
    fn check_len() {
        assert_eq!(SecTag::new_checked(&C1_SECTAG[..7]).err(), Some(WireError));
        assert_eq!(SecTag::new_checked(&C1_SECTAG[..15]).err(), Some(WireError)); // SC=1 needs 16
        let mut no_sci = C1_SECTAG;
        no_sci[2] = 0x40; // ES, no SC
        assert!(SecTag::new_checked(&no_sci[..8]).is_ok());
    }

    #[test]
    fn short_length_rule() {
        assert_eq!(SecTagRepr::short_length(47), 47);
        assert_eq!(SecTagRepr::short_length(48), 0);
        let repr = SecTagRepr::parse(&SecTag::new_checked(&C1_SECTAG[..]).unwrap()).unwrap();
        assert_eq!(repr.check(0x2a, false), Ok(()));
        assert_eq!(repr.check(0x2b, false), Err(BadTag::SlMismatch));
        let long = SecTagRepr { sl: 0, ..repr };
        assert_eq!(long.check(47, false), Err(BadTag::ShortFrameWithoutSl));
        assert_eq!(long.check(48, false), Ok(()));
        assert_eq!(SecTagRepr { pn: 0, ..long }.check(48, false), Err(BadTag::ZeroPn));
        assert_eq!(SecTagRepr { pn: 0, ..long }.check(48, true), Ok(()));
    }

    /// The one-test fast path of `check` accepts exactly what the step-by-step checks accept.
    #[test]
    fn check_agrees_with_reason() {
        for tci_an in 0..=255u8 {
            for sl in 0..=255u8 {
                for len in [0, 1, 15, 46, 47, 48, 49, 63, 64, 65, 200, 1500] {
                    for (pn, xpn) in [(0, false), (0, true), (1, false), (7, true)] {
                        let tag =
                            SecTagRepr { tci: Tci::from_bits(tci_an), an: An::from_tci(tci_an), sl, pn, sci: None };
                        assert_eq!(
                            tag.check(len, xpn).is_ok(),
                            tag.reason(len, xpn).is_ok(),
                            "tci/an {tci_an:#04x} sl {sl} len {len} pn {pn} xpn {xpn}"
                        );
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(tag) = SecTag::new_checked(&bytes[..]) {
                let _ = (tag.an(), tag.tci(), tag.sl_octet(), tag.pn(), tag.sci(), tag.header_len());
                if let Ok(repr) = SecTagRepr::parse(&tag) {
                    let _ = repr.check(bytes.len(), false);
                    let mut out = vec![0u8; repr.buffer_len()];
                    repr.emit(&mut out).unwrap();
                    prop_assert_eq!(&out[..], &bytes[..repr.buffer_len()]);
                }
            }
        }
    }
}
