//! Validate and decrypt the MACsec frames of a classic pcap with a known SAK: the library
//! behind `macsecctl pcap-decrypt`.
//!
//! Every MACsec frame goes through the same [`Secy`] receive path as live traffic (SecTAG
//! checks, XPN PN recovery, ICV). A valid frame is written as the original Ethernet frame
//! (SecTAG and ICV removed, inner EtherType in place); a frame that fails is counted and not
//! written; every other frame is copied unchanged.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;
use serde::Serialize;

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

/// What to decrypt with.
pub struct Options {
    pub cipher_suite: CipherSuite,
    pub sak: Sak,
    pub ssci: SsciMap,
    pub salt: Option<Salt>,
    /// Only integrity-protected frames (E=0) are expected; an encrypted one counts as invalid.
    pub integrity_only: bool,
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

/// Reads `input`, writes `output`, returns the counts.
pub fn run<R: Read, W: Write>(opts: &Options, input: R, output: W) -> Result<Summary, Error> {
    if opts.sak.len() != opts.cipher_suite.key_len() {
        return Err(Error::KeyLength { suite: opts.cipher_suite, got: opts.sak.len() });
    }
    if opts.cipher_suite.is_xpn() && opts.salt.is_none() {
        return Err(Error::MissingSalt);
    }
    let mut reader = PcapReader::new(input).map_err(Error::NotPcap)?;
    let header = reader.header();
    if header.datalink != DataLink::ETHERNET {
        return Err(Error::NotEthernet(header.datalink));
    }
    let mut writer = PcapWriter::with_header(output, header).map_err(Error::Write)?;
    let mut rx = Receiver::new(opts);
    let mut summary = Summary::default();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(Error::Read)?;
        summary.frames += 1;
        let Some(frame) = rx.handle(&packet.data, &mut summary) else { continue };
        let orig_len = if packet.orig_len as usize == packet.data.len() { frame.len() as u32 } else { packet.orig_len };
        let out = PcapPacket::new_owned(packet.timestamp, orig_len, frame);
        writer.write_packet(&out).map_err(Error::Write)?;
    }
    Ok(summary)
}

/// One SecY whose receive SCs and SAs appear as frames of new SCIs and ANs show up.
struct Receiver<'a> {
    opts: &'a Options,
    secy: Secy,
}

impl<'a> Receiver<'a> {
    fn new(opts: &'a Options) -> Self {
        let mut cfg = SecyConfig::new(opts.cipher_suite);
        // A capture can hold both directions and repeats: validate every frame on its own.
        cfg.replay_protect = false;
        Receiver { opts, secy: Secy::new(cfg, Sci(0), Arc::new(RingBackend)) }
    }

    /// The frame to write, if any.
    fn handle(&mut self, frame: &[u8], summary: &mut Summary) -> Option<Vec<u8>> {
        if frame.len() < 14 || frame[12..14] != ETHERTYPE_MACSEC.to_be_bytes() {
            summary.other += 1;
            return Some(frame.to_vec());
        }
        summary.macsec += 1;
        match self.decrypt(frame) {
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

    fn decrypt(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let tag = SecTag::new_checked(frame.get(12..)?).ok()?;
        if self.opts.integrity_only && tag.tci().e() {
            return None;
        }
        // IEEE 802.1AE-2018 9.9: the SCI is in the SecTAG or, with ES=1, the source address ‖ 1.
        let es_sci = || frame.get(6..12).and_then(|m| m.try_into().ok()).map(Sci::end_station);
        let sci = tag.sci().or_else(|| tag.tci().es().then(es_sci).flatten())?;
        self.ensure_sa(sci, tag.an())?;
        let mut buf = frame.to_vec();
        matches!(self.secy.validate(&mut buf), RxVerdict::Ok | RxVerdict::Delayed).then_some(buf)
    }

    /// Creates the SC and the SA of `an` on first sight (every SA of a static capture shares
    /// the SAK; the lowest acceptable PN starts at 1 and follows the frames).
    fn ensure_sa(&mut self, sci: Sci, an: An) -> Option<()> {
        if self.secy.rx_sc(sci).is_some_and(|sc| sc.sa(an).is_some()) {
            return Some(());
        }
        let ssci = if self.opts.cipher_suite.is_xpn() { Some(self.opts.ssci.get(sci)?) } else { None };
        self.secy.add_rx_sc(sci);
        let params = SaParams { an, pn: Pn(1), ssci, salt: self.opts.salt };
        self.secy.install_rx_sa(sci, &self.opts.sak, &params).ok()
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
}
