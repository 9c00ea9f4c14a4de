//! Announcement parameter set (IEEE 802.1X-2020 11.12, parameter set type 7): a sequence of TLVs,
//! each a 7-bit type and a 9-bit length (the length of what follows the 2-octet TLV header).
//!
//! We decode the MACsec Cipher Suites TLV and keep every other TLV (Access Information, Key
//! Management Domain, NID, organizationally specific, reserved types) as
//! [`AnnouncementTlv::Unknown`], which [`Announcement::emit`] writes back unchanged.
//!
//! No-panic contract: [`Announcement::parse`] never panics on any input; each TLV is read within
//! the set body, and a TLV that runs past it (or a header cut short) is an error, never a read
//! into the next parameter set. [`Announcement::emit`] never panics.

use macsec_dataplane::secy::CipherSuite;

use super::mkpdu::MkpduError;

/// Announcement TLV types (IEEE 802.1X-2020 11.12); 0-110 (0x00-0x6e) and 115-125 are reserved.
pub mod tlv_type {
    pub const ACCESS_INFORMATION: u8 = 0x6f; // 111
    pub const MACSEC_CIPHER_SUITES: u8 = 0x70; // 112
    pub const KEY_MANAGEMENT_DOMAIN: u8 = 0x71; // 113
    pub const NID: u8 = 0x72; // 114
    pub const ORGANIZATIONALLY_SPECIFIC_SET: u8 = 0x7e; // 126
    pub const ORGANIZATIONALLY_SPECIFIC: u8 = 0x7f; // 127
}

/// The largest TLV body the 9-bit length field can describe.
pub const MAX_TLV_LEN: usize = 0x1ff;
const TLV_HEADER: usize = 2;
/// One entry of the MACsec Cipher Suites TLV: 2 octets of capability, 8 of cipher suite id.
const CIPHER_SUITE_ENTRY: usize = 10;

/// One cipher suite a system implements, as the MACsec Cipher Suites TLV lists it (IEEE
/// 802.1X-2020 11.12): the MACsec Capability it offers with that suite and its Cipher Suite
/// Reference Number (IEEE 802.1AE-2018 Table 14-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnouncedCipherSuite {
    /// As in the Basic Parameter Set: 0 not implemented, 1 integrity only, 2 integrity with or
    /// without confidentiality (offset 0), 3 also confidentiality offsets 30 and 50. The low two
    /// bits of the 2-octet field; the other 14 bits are reserved, sent as 0 and ignored.
    pub macsec_capability: u8,
    pub cipher_suite: u64,
}

/// One TLV of an Announcement.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnouncementTlv {
    /// MACsec Cipher Suites TLV (type 112): the suites the sender implements.
    CipherSuites(Vec<AnnouncedCipherSuite>),
    /// Any other type, kept as its body octets (`tlv_type` < 0x80).
    Unknown { tlv_type: u8, bytes: Vec<u8> },
}

/// A decoded Announcement parameter set body. An empty `tlvs` is a set of body length 0.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Announcement {
    pub tlvs: Vec<AnnouncementTlv>,
}

impl Announcement {
    /// What we announce: the cipher suite the connection is configured for, the only one its
    /// participant accepts a SAK for, with the MACsec Capability of our Basic Parameter Set.
    /// Listing suites we would refuse could lead a key server that chooses from announcements to
    /// distribute a SAK we then drop (counted as `sak_cipher_mismatch`).
    pub fn supporting(suite: CipherSuite, macsec_capability: u8) -> Self {
        let entry = AnnouncedCipherSuite { macsec_capability, cipher_suite: suite.id() };
        Announcement { tlvs: vec![AnnouncementTlv::CipherSuites(vec![entry])] }
    }

    /// The cipher suites the sender announced (from every MACsec Cipher Suites TLV, in order).
    pub fn cipher_suites(&self) -> impl Iterator<Item = &AnnouncedCipherSuite> {
        self.tlvs.iter().flat_map(|t| match t {
            AnnouncementTlv::CipherSuites(list) => list.as_slice(),
            AnnouncementTlv::Unknown { .. } => &[],
        })
    }

    /// Parses the body of an Announcement parameter set (its declared length, without padding).
    /// The TLVs must fill it exactly.
    pub fn parse(body: &[u8]) -> Result<Self, MkpduError> {
        let mut rest = body;
        let mut tlvs = Vec::new();
        while let Some(&first) = rest.first() {
            let tlv_type = first >> 1;
            let Some(&second) = rest.get(1) else {
                return Err(MkpduError::AnnouncementTlvOverrun { tlv_type });
            };
            let len = (usize::from(first & 0x01) << 8) | usize::from(second);
            let Some((value, next)) = rest.get(TLV_HEADER..).filter(|r| r.len() >= len).map(|r| r.split_at(len)) else {
                return Err(MkpduError::AnnouncementTlvOverrun { tlv_type });
            };
            tlvs.push(parse_tlv(tlv_type, value)?);
            rest = next;
        }
        Ok(Announcement { tlvs })
    }

    /// The encoded length of the set body (without the parameter set header and padding).
    pub fn buffer_len(&self) -> usize {
        self.tlvs.iter().filter_map(tlv_body_len).map(|len| TLV_HEADER + len).sum()
    }

    /// Appends the TLVs to `out`. A TLV whose body does not fit the 9-bit length (which no parsed
    /// TLV has) is left out rather than sent with a wrong length.
    pub fn emit(&self, out: &mut Vec<u8>) {
        for tlv in &self.tlvs {
            let Some(len) = tlv_body_len(tlv) else { continue };
            let kind = tlv_kind(tlv) & 0x7f;
            out.extend_from_slice(&[(kind << 1) | ((len >> 8) as u8 & 0x01), (len & 0xff) as u8]);
            match tlv {
                AnnouncementTlv::CipherSuites(list) => {
                    for cs in list {
                        out.extend_from_slice(&u16::from(cs.macsec_capability & 0x03).to_be_bytes());
                        out.extend_from_slice(&cs.cipher_suite.to_be_bytes());
                    }
                }
                AnnouncementTlv::Unknown { bytes, .. } => out.extend_from_slice(bytes),
            }
        }
    }
}

fn parse_tlv(tlv_type: u8, value: &[u8]) -> Result<AnnouncementTlv, MkpduError> {
    match tlv_type {
        // IEEE 802.1X-2020 11.12: one 10-octet entry per cipher suite.
        tlv_type::MACSEC_CIPHER_SUITES => {
            if value.len() % CIPHER_SUITE_ENTRY != 0 {
                return Err(MkpduError::AnnouncementTlvLength { tlv_type, len: value.len() });
            }
            let list = value
                .chunks_exact(CIPHER_SUITE_ENTRY)
                .map(|e| {
                    let (cap, id) = e.split_at(2);
                    let mut suite = [0u8; 8];
                    suite.copy_from_slice(id); // in bounds: chunks of 10 split at 2
                    AnnouncedCipherSuite { macsec_capability: cap[1] & 0x03, cipher_suite: u64::from_be_bytes(suite) }
                })
                .collect();
            Ok(AnnouncementTlv::CipherSuites(list))
        }
        _ => Ok(AnnouncementTlv::Unknown { tlv_type, bytes: value.to_vec() }),
    }
}

fn tlv_kind(tlv: &AnnouncementTlv) -> u8 {
    match tlv {
        AnnouncementTlv::CipherSuites(_) => tlv_type::MACSEC_CIPHER_SUITES,
        AnnouncementTlv::Unknown { tlv_type, .. } => *tlv_type,
    }
}

/// The TLV's body length, or `None` if it does not fit the 9-bit length field.
fn tlv_body_len(tlv: &AnnouncementTlv) -> Option<usize> {
    let len = match tlv {
        AnnouncementTlv::CipherSuites(list) => list.len().saturating_mul(CIPHER_SUITE_ENTRY),
        AnnouncementTlv::Unknown { bytes, .. } => bytes.len(),
    };
    (len <= MAX_TLV_LEN).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCM_AES_128: u64 = 0x0080_c200_0100_0001;
    const GCM_AES_XPN_256: u64 = 0x0080_c200_0100_0004;

    /// A hand-built body: a Cipher Suites TLV with two suites, then a 2-octet Access Information
    /// TLV, then a zero-length NID TLV.
    fn sample() -> Vec<u8> {
        let mut b = vec![0x70 << 1, 20];
        b.extend_from_slice(&[0x00, 0x03]);
        b.extend_from_slice(&GCM_AES_128.to_be_bytes());
        b.extend_from_slice(&[0xff, 0xfe]); // reserved bits set, capability 2
        b.extend_from_slice(&GCM_AES_XPN_256.to_be_bytes());
        b.extend_from_slice(&[0x6f << 1, 2, 0x12, 0x34]);
        b.extend_from_slice(&[0x72 << 1, 0]);
        b
    }

    #[test]
    fn parses_cipher_suites_and_keeps_unknown_tlvs() {
        let a = Announcement::parse(&sample()).unwrap();
        let suites = vec![
            AnnouncedCipherSuite { macsec_capability: 3, cipher_suite: GCM_AES_128 },
            AnnouncedCipherSuite { macsec_capability: 2, cipher_suite: GCM_AES_XPN_256 },
        ];
        assert_eq!(
            a.tlvs,
            vec![
                AnnouncementTlv::CipherSuites(suites.clone()),
                AnnouncementTlv::Unknown { tlv_type: tlv_type::ACCESS_INFORMATION, bytes: vec![0x12, 0x34] },
                AnnouncementTlv::Unknown { tlv_type: tlv_type::NID, bytes: vec![] },
            ]
        );
        assert_eq!(a.cipher_suites().copied().collect::<Vec<_>>(), suites);
    }

    #[test]
    fn round_trips() {
        let a = Announcement::parse(&sample()).unwrap();
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out.len(), a.buffer_len());
        // Only the reserved capability bits differ from the input.
        let mut want = sample();
        want[12] = 0;
        want[13] = 0x02;
        assert_eq!(out, want);
        assert_eq!(Announcement::parse(&out).unwrap(), a);
    }

    #[test]
    fn nine_bit_length_and_high_types() {
        // Type 127 with a 300-octet body: the length's ninth bit sits in the first octet.
        let mut b = vec![(0x7f << 1) | 1, (300 - 256) as u8];
        b.extend(std::iter::repeat(0xa5).take(300));
        let a = Announcement::parse(&b).unwrap();
        assert_eq!(a.tlvs, vec![AnnouncementTlv::Unknown { tlv_type: 0x7f, bytes: vec![0xa5; 300] }]);
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn empty_body_is_an_empty_announcement() {
        let a = Announcement::parse(&[]).unwrap();
        assert!(a.tlvs.is_empty());
        assert_eq!(a.buffer_len(), 0);
    }

    #[test]
    fn truncated_tlvs_are_errors() {
        let b = sample();
        for cut in 1..b.len() {
            // Cuts at a TLV boundary leave a well-formed (shorter) body.
            if [22, 26].contains(&cut) {
                assert!(Announcement::parse(&b[..cut]).is_ok(), "cut {cut}");
                continue;
            }
            let err = Announcement::parse(&b[..cut]).unwrap_err();
            assert!(matches!(err, MkpduError::AnnouncementTlvOverrun { .. }), "cut {cut}: {err:?}");
        }
        // A length claiming more than the body holds.
        let err = Announcement::parse(&[0x71 << 1, 5, 1, 2]).unwrap_err();
        assert_eq!(err, MkpduError::AnnouncementTlvOverrun { tlv_type: tlv_type::KEY_MANAGEMENT_DOMAIN });
    }

    #[test]
    fn cipher_suites_tlv_of_a_wrong_length_is_an_error() {
        let mut b = vec![0x70 << 1, 11];
        b.extend_from_slice(&[0; 11]);
        let err = Announcement::parse(&b).unwrap_err();
        assert_eq!(err, MkpduError::AnnouncementTlvLength { tlv_type: tlv_type::MACSEC_CIPHER_SUITES, len: 11 });
    }

    #[test]
    fn what_we_announce() {
        let a = Announcement::supporting(CipherSuite::GcmAesXpn256, 2);
        let mut out = Vec::new();
        a.emit(&mut out);
        let mut want = vec![0xe0, 0x0a, 0x00, 0x02];
        want.extend_from_slice(&GCM_AES_XPN_256.to_be_bytes());
        assert_eq!(out, want);
    }

    #[test]
    fn oversized_tlvs_are_not_emitted() {
        let a = Announcement {
            tlvs: vec![
                AnnouncementTlv::Unknown { tlv_type: 0x10, bytes: vec![0; MAX_TLV_LEN + 1] },
                AnnouncementTlv::Unknown { tlv_type: 0x11, bytes: vec![1] },
            ],
        };
        let mut out = Vec::new();
        a.emit(&mut out);
        assert_eq!(out, [0x22, 1, 1]);
        assert_eq!(a.buffer_len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(a) = Announcement::parse(&bytes) {
                let mut out = Vec::new();
                a.emit(&mut out);
                proptest::prop_assert_eq!(out.len(), a.buffer_len());
                proptest::prop_assert_eq!(Announcement::parse(&out).unwrap(), a);
            }
        }
    }
}
