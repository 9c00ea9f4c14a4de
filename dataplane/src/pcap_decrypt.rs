//! Validate and decrypt the MACsec frames of a classic pcap: the library behind `macsecctl
//! pcap-decrypt`.
//!
//! Every MACsec frame goes through the same [`Secy`] receive path as live traffic (SecTAG
//! checks, XPN PN recovery, ICV). A valid frame is written as the original Ethernet frame
//! (SecTAG and ICV removed, inner EtherType in place); a frame that fails is counted and not
//! written; every other frame is copied unchanged.
//!
//! The keys come from a [`KeySource`]: [`run`] takes one known SAK for every AN ([`Options`]);
//! [`run_with`] asks the source for the candidate keys of each frame's SCI and AN and lets it see
//! every frame first, in capture order, so it can learn keys as they appear (MKA distributes a
//! SAK in an MKPDU before anyone transmits with it).

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;
use serde::Serialize;

/// The pcap crate this module reads and writes with, for callers that build captures (tests).
pub use pcap_file;

use crate::secy::sectag::{SecTag, ETHERTYPE_MACSEC};
use crate::secy::{An, CipherSuite, Pn, RingBackend, RxVerdict, SaParams, Sak, Salt, Sci, Secy, SecyConfig, Ssci};

/// Which SSCI a transmitter uses (XPN only).
#[derive(Clone, Debug, Default)]
pub struct SsciMap {
    /// Used for every SCI without its own entry.
    pub default: Option<Ssci>,
    pub per_sci: HashMap<Sci, Ssci>,
}

impl SsciMap {
    fn get(&self, sci: Sci) -> Option<Ssci> {
        self.per_sci.get(&sci).copied().or(self.default)
    }
}

/// What to decrypt with: one SAK for every SCI and AN.
pub struct Options {
    pub cipher_suite: CipherSuite,
    pub sak: Sak,
    pub ssci: SsciMap,
    pub salt: Option<Salt>,
    /// Only integrity-protected frames (E=0) are expected; an encrypted one counts as invalid.
    pub integrity_only: bool,
}

/// One key to try on a frame, with the XPN parameters of the frame's transmitter.
pub struct KeyRef<'a> {
    /// Names the key within a run: the receiver sets up one SA per (id, SCI, AN) and keeps it, so
    /// the same id must always come with the same SAK, suite, SSCI and salt.
    pub id: u64,
    pub cipher_suite: CipherSuite,
    pub sak: &'a Sak,
    pub ssci: Option<Ssci>,
    pub salt: Option<Salt>,
}

/// Where the keys of a run come from.
pub trait KeySource {
    /// Sees every frame of the capture, in order, before it is decrypted or copied.
    fn observe(&mut self, _frame: &[u8]) {}

    /// The keys to try on a frame from `sci` with `an`, the most likely first (none: the frame
    /// counts as invalid).
    fn candidates(&self, sci: Sci, an: An) -> Vec<KeyRef<'_>>;
}

impl KeySource for Options {
    fn candidates(&self, sci: Sci, _an: An) -> Vec<KeyRef<'_>> {
        let ssci = self.ssci.get(sci);
        if self.cipher_suite.is_xpn() && ssci.is_none() {
            return Vec::new();
        }
        let ssci = if self.cipher_suite.is_xpn() { ssci } else { None };
        vec![KeyRef { id: 0, cipher_suite: self.cipher_suite, sak: &self.sak, ssci, salt: self.salt }]
    }
}

/// Counts of one run, printed as the JSON summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// All frames read.
    pub frames: u64,
    /// Frames with the MACsec EtherType.
    pub macsec: u64,
    /// MACsec frames that validated and were written decrypted.
    pub ok: u64,
    /// MACsec frames that failed (bad SecTAG, ICV, missing SSCI, ...); not written.
    pub invalid: u64,
    /// Non-MACsec frames, copied unchanged.
    pub other: u64,
}

/// Why the run could not be done (not: why a frame failed; that is counted).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a classic pcap file.
    NotPcap(pcap_file::PcapError),
    /// The input is not Ethernet (link type 1).
    NotEthernet(DataLink),
    /// The SAK does not fit the cipher suite.
    KeyLength {
        suite: CipherSuite,
        got: usize,
    },
    /// An XPN suite without a salt.
    MissingSalt,
    Read(pcap_file::PcapError),
    Write(pcap_file::PcapError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPcap(e) => {
                write!(f, "input: not a classic pcap file ({e}); convert pcapng with `editcap -F pcap`")
            }
            Self::NotEthernet(dl) => write!(f, "input: link type {dl:?}, expected Ethernet"),
            Self::KeyLength { suite, got } => {
                write!(f, "--sak: {suite} needs {} hex digits, got {}", suite.key_len() * 2, got * 2)
            }
            Self::MissingSalt => f.write_str("--salt: XPN cipher suites need the 24-hex-digit salt"),
            Self::Read(e) => write!(f, "input: {e}"),
            Self::Write(e) => write!(f, "output: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Reads `input`, writes `output`, returns the counts: every MACsec frame with the one SAK of
/// `opts`.
pub fn run<R: Read, W: Write>(opts: &Options, input: R, output: W) -> Result<Summary, Error> {
    if opts.sak.len() != opts.cipher_suite.key_len() {
        return Err(Error::KeyLength { suite: opts.cipher_suite, got: opts.sak.len() });
    }
    if opts.cipher_suite.is_xpn() && opts.salt.is_none() {
        return Err(Error::MissingSalt);
    }
    run_with(&mut Static(opts), opts.integrity_only, input, output)
}

/// Reads `input`, writes `output`, returns the counts: every MACsec frame with the keys `keys`
/// offers for it, after `keys` has seen every earlier frame. `integrity_only`: an encrypted frame
/// (E=1) counts as invalid.
pub fn run_with<K, R, W>(keys: &mut K, integrity_only: bool, input: R, output: W) -> Result<Summary, Error>
where
    K: KeySource + ?Sized,
    R: Read,
    W: Write,
{
    let mut reader = PcapReader::new(input).map_err(Error::NotPcap)?;
    let header = reader.header();
    if header.datalink != DataLink::ETHERNET {
        return Err(Error::NotEthernet(header.datalink));
    }
    let mut writer = PcapWriter::with_header(output, header).map_err(Error::Write)?;
    let mut rx = Receiver { integrity_only, secys: HashMap::new() };
    let mut summary = Summary::default();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(Error::Read)?;
        summary.frames += 1;
        keys.observe(&packet.data);
        let Some(frame) = rx.handle(&*keys, &packet.data, &mut summary) else { continue };
        let orig_len = if packet.orig_len as usize == packet.data.len() { frame.len() as u32 } else { packet.orig_len };
        let out = PcapPacket::new_owned(packet.timestamp, orig_len, frame);
        writer.write_packet(&out).map_err(Error::Write)?;
    }
    Ok(summary)
}

/// The one SAK of [`Options`] as a key source.
struct Static<'a>(&'a Options);

impl KeySource for Static<'_> {
    fn candidates(&self, sci: Sci, an: An) -> Vec<KeyRef<'_>> {
        self.0.candidates(sci, an)
    }
}

/// One SecY per key; their receive SCs and SAs appear as frames of new SCIs and ANs show up.
struct Receiver {
    integrity_only: bool,
    secys: HashMap<u64, Secy>,
}

impl Receiver {
    /// The frame to write, if any.
    fn handle<K: KeySource + ?Sized>(&mut self, keys: &K, frame: &[u8], summary: &mut Summary) -> Option<Vec<u8>> {
        if frame.len() < 14 || frame[12..14] != ETHERTYPE_MACSEC.to_be_bytes() {
            summary.other += 1;
            return Some(frame.to_vec());
        }
        summary.macsec += 1;
        match self.decrypt(keys, frame) {
            Some(plain) => {
                summary.ok += 1;
                Some(plain)
            }
            None => {
                summary.invalid += 1;
                None
            }
        }
    }

    /// The first candidate key that validates the frame wins.
    fn decrypt<K: KeySource + ?Sized>(&mut self, keys: &K, frame: &[u8]) -> Option<Vec<u8>> {
        let tag = SecTag::new_checked(frame.get(12..)?).ok()?;
        if self.integrity_only && tag.tci().e() {
            return None;
        }
        // IEEE 802.1AE-2018 9.9: the SCI is in the SecTAG or, with ES=1, the source address ‖ 1.
        let es_sci = || frame.get(6..12).and_then(|m| m.try_into().ok()).map(Sci::end_station);
        let sci = tag.sci().or_else(|| tag.tci().es().then(es_sci).flatten())?;
        let an = tag.an();
        for key in keys.candidates(sci, an) {
            let Some(secy) = self.secy_with_sa(&key, sci, an) else { continue };
            let mut buf = frame.to_vec();
            if matches!(secy.validate(&mut buf), RxVerdict::Ok | RxVerdict::Delayed) {
                return Some(buf);
            }
        }
        None
    }

    /// The SecY of `key` with the SC of `sci` and the SA of `an`, created on first sight (the
    /// lowest acceptable PN starts at 1 and follows the frames; no replay check, since a capture
    /// can hold both directions and repeats).
    fn secy_with_sa(&mut self, key: &KeyRef<'_>, sci: Sci, an: An) -> Option<&mut Secy> {
        let secy = self.secys.entry(key.id).or_insert_with(|| {
            let mut cfg = SecyConfig::new(key.cipher_suite);
            cfg.replay_protect = false;
            Secy::new(cfg, Sci(0), Arc::new(RingBackend))
        });
        if !secy.rx_sc(sci).is_some_and(|sc| sc.sa(an).is_some()) {
            secy.add_rx_sc(sci);
            let params = SaParams { an, pn: Pn(1), ssci: key.ssci, salt: key.salt };
            secy.install_rx_sa(sci, key.sak, &params).ok()?;
        }
        Some(secy)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pcap_file::pcap::PcapHeader;

    use super::*;
    use crate::secy::TxVerdict;

    /// A pcap with `n` frames protected by our own SecY, plus one ARP frame and one frame whose
    /// ICV is broken.
    fn capture(suite: CipherSuite, sak: &Sak, n: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut tx = Secy::new(SecyConfig::new(suite), Sci(0x0200_0000_000a_0001), Arc::new(RingBackend));
        let an = An::new(0).unwrap();
        tx.install_tx_sa(sak, &SaParams { an, pn: Pn(1), ssci: Some(Ssci(1)), salt: Some(Salt([2; 12])) }).unwrap();
        tx.enable_tx_sa(an).unwrap();
        let header = PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        let mut plain = Vec::new();
        for i in 0..n {
            let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00];
            f.extend((0..40 + i).map(|b| b as u8));
            plain.push(f.clone());
            assert_eq!(tx.protect(&mut f), Ok(TxVerdict::Encrypted));
            if i == n - 1 {
                let last = f.len() - 1;
                f[last] ^= 1;
            }
            w.write_packet(&PcapPacket::new(Duration::from_secs(i as u64), f.len() as u32, &f)).unwrap();
        }
        let arp = [vec![0xff; 6], vec![0x02, 0, 0, 0, 0, 0x0a], vec![0x08, 0x06], vec![0; 28]].concat();
        w.write_packet(&PcapPacket::new(Duration::ZERO, arp.len() as u32, &arp)).unwrap();
        plain.push(arp);
        (w.into_writer(), plain)
    }

    fn opts(suite: CipherSuite, sak: &Sak) -> Options {
        let ssci = SsciMap { default: Some(Ssci(1)), ..Default::default() };
        Options { cipher_suite: suite, sak: sak.duplicate(), ssci, salt: Some(Salt([2; 12])), integrity_only: false }
    }

    #[test]
    fn decrypts_every_suite() {
        for suite in CipherSuite::ALL {
            let sak = Sak::from_slice(&vec![9; suite.key_len()]).unwrap();
            let (pcap, plain) = capture(suite, &sak, 5);
            let mut out = Vec::new();
            let mut o = opts(suite, &sak);
            if !suite.is_xpn() {
                (o.ssci, o.salt) = (SsciMap::default(), None);
            }
            let s = run(&o, &pcap[..], &mut out).unwrap();
            assert_eq!(s, Summary { frames: 6, macsec: 5, ok: 4, invalid: 1, other: 1 }, "{suite}");
            let mut r = PcapReader::new(&out[..]).unwrap();
            let mut written = Vec::new();
            while let Some(p) = r.next_packet() {
                written.push(p.unwrap().data.into_owned());
            }
            let expect: Vec<Vec<u8>> = [&plain[..4], &plain[5..]].concat();
            assert_eq!(written, expect, "{suite}");
        }
    }

    #[test]
    fn wrong_key_fails_every_frame_and_bad_input_is_an_error() {
        let suite = CipherSuite::GcmAes256;
        let (pcap, _) = capture(suite, &Sak::from_slice(&[9; 32]).unwrap(), 3);
        let o = Options { ssci: SsciMap::default(), salt: None, ..opts(suite, &Sak::from_slice(&[8; 32]).unwrap()) };
        let s = run(&o, &pcap[..], Vec::new()).unwrap();
        assert_eq!((s.ok, s.invalid), (0, 3));
        assert!(matches!(run(&o, &b"not a pcap at all"[..], Vec::new()), Err(Error::NotPcap(_))));
        let short = Options { sak: Sak::from_slice(&[8; 16]).unwrap(), ..o };
        assert_eq!(
            run(&short, &pcap[..], Vec::new()).unwrap_err().to_string(),
            "--sak: gcm-aes-256 needs 64 hex digits, got 32"
        );
    }

    /// Keys per AN, and for AN 1 a wrong key offered before the right one.
    struct PerAn {
        keys: Vec<(An, Sak)>,
        seen: u64,
    }

    impl KeySource for PerAn {
        fn observe(&mut self, _frame: &[u8]) {
            self.seen += 1;
        }

        fn candidates(&self, _sci: Sci, an: An) -> Vec<KeyRef<'_>> {
            let suite = CipherSuite::GcmAesXpn128;
            let salt = Some(Salt([2; 12]));
            let keys = self.keys.iter().enumerate().filter(|(_, (a, _))| *a == an);
            keys.map(|(i, (_, sak))| KeyRef { id: i as u64, cipher_suite: suite, sak, ssci: Some(Ssci(1)), salt })
                .collect()
        }
    }

    #[test]
    fn per_an_keys_and_fallback_to_the_next_candidate() {
        let suite = CipherSuite::GcmAesXpn128;
        let (k0, k1) = (Sak::from_slice(&[1; 16]).unwrap(), Sak::from_slice(&[2; 16]).unwrap());
        let mut tx = Secy::new(SecyConfig::new(suite), Sci(0x0200_0000_000a_0001), Arc::new(RingBackend));
        let header = PcapHeader { datalink: DataLink::ETHERNET, ..Default::default() };
        let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
        for (an, sak) in [(0, &k0), (1, &k1)] {
            let an = An::new(an).unwrap();
            tx.install_tx_sa(sak, &SaParams { an, pn: Pn(1), ssci: Some(Ssci(1)), salt: Some(Salt([2; 12])) }).unwrap();
            tx.enable_tx_sa(an).unwrap();
            for i in 0..3u8 {
                let mut f = [vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00], vec![i; 50]].concat();
                tx.protect(&mut f).unwrap();
                w.write_packet(&PcapPacket::new(Duration::ZERO, f.len() as u32, &f)).unwrap();
            }
        }
        let pcap = w.into_writer();
        let wrong = Sak::from_slice(&[3; 16]).unwrap();
        let (a0, a1) = (An::new(0).unwrap(), An::new(1).unwrap());
        let mut keys = PerAn { keys: vec![(a0, k0.duplicate()), (a1, wrong), (a1, k1.duplicate())], seen: 0 };
        let s = run_with(&mut keys, false, &pcap[..], Vec::new()).unwrap();
        assert_eq!(s, Summary { frames: 6, macsec: 6, ok: 6, invalid: 0, other: 0 });
        assert_eq!(keys.seen, 6, "the source sees every frame");
        // Only the AN 0 key: the AN 1 frames fail.
        let mut only0 = PerAn { keys: vec![(a0, k0)], seen: 0 };
        let s = run_with(&mut only0, false, &pcap[..], Vec::new()).unwrap();
        assert_eq!((s.ok, s.invalid), (3, 3));
    }
}
