//! `macsecctl pcap-decrypt`: argument parsing and the run. The decryption itself is
//! `macsec_dataplane::pcap_decrypt`, the same receive path the dataplane uses. The keys are one
//! known SAK (`--sak`), or learned from the capture's MKPDUs with the CAK (`--ckn --cak`, see
//! [`learn`]).

mod learn;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use macsec_dataplane::pcap_decrypt::{self, Options, SsciMap, Summary};
use macsec_dataplane::secy::{CipherSuite, Sak, Salt, Sci, Ssci};
use serde::Serialize;
use zeroize::Zeroize;

pub use learn::{LearnStats, MkaKeys};

use super::UsageError;
use crate::mka::keys::{Cak, Ckn};

pub const USAGE: &str = "usage: macsecctl pcap-decrypt (--sak HEX | --sak-file PATH) \
--cipher-suite gcm-aes-128|gcm-aes-256|gcm-aes-xpn-128|gcm-aes-xpn-256 \
[--ssci N | --ssci SCI=N ...] [--salt HEX] [--integrity-only] IN.pcap OUT.pcap
       macsecctl pcap-decrypt --ckn HEX (--cak HEX | --cak-file PATH) [--integrity-only] IN.pcap OUT.pcap
         (learns the SAKs, cipher suite, XPN salt and SSCIs from the MKPDUs in the capture)";

/// Where the keys come from.
pub enum Keys {
    /// One known SAK for every frame.
    Sak(Options),
    /// Learned from the MKPDUs of this CKN, with its CAK.
    Mka { ckn: Ckn, cak: Cak, integrity_only: bool },
}

/// Parsed arguments.
pub struct Args {
    pub keys: Keys,
    pub input: PathBuf,
    pub output: PathBuf,
}

/// The JSON summary: the frame counts of `macsec_dataplane::pcap_decrypt::Summary`, and with
/// `--ckn` what the MKPDUs gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub frames: u64,
    pub macsec: u64,
    pub ok: u64,
    pub invalid: u64,
    pub other: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mka: Option<LearnStats>,
}

impl From<Summary> for Report {
    fn from(s: Summary) -> Self {
        Report { frames: s.frames, macsec: s.macsec, ok: s.ok, invalid: s.invalid, other: s.other, mka: None }
    }
}

/// The options as given, before the checks that need all of them.
#[derive(Default)]
struct Given {
    sak: Option<Sak>,
    suite: Option<CipherSuite>,
    ssci: SsciMap,
    ssci_given: bool,
    salt: Option<Salt>,
    ckn: Option<Ckn>,
    cak: Option<Cak>,
    integrity_only: bool,
    files: Vec<PathBuf>,
}

/// Parses the arguments after `pcap-decrypt`. Every error names the argument and the form it
/// expects, and never repeats key material.
pub fn parse(args: &[String]) -> Result<Args, UsageError> {
    let mut g = Given::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value =
            |name: &'static str| it.next().ok_or_else(|| UsageError::new(name, "a value after the option", "nothing"));
        match arg.as_str() {
            "--sak" => g.sak = Some(parse_sak("--sak", value("--sak")?)?),
            "--sak-file" => {
                let mut text = read_key_file("--sak-file", value("--sak-file")?, "the SAK in hex")?;
                let sak = parse_sak("--sak-file", &text);
                text.zeroize();
                g.sak = Some(sak?);
            }
            "--ckn" => g.ckn = Some(parse_ckn(value("--ckn")?)?),
            "--cak" => g.cak = Some(parse_cak("--cak", value("--cak")?)?),
            "--cak-file" => {
                let mut text = read_key_file("--cak-file", value("--cak-file")?, "the CAK in hex")?;
                let cak = parse_cak("--cak-file", &text);
                text.zeroize();
                g.cak = Some(cak?);
            }
            "--cipher-suite" => {
                let v = value("--cipher-suite")?;
                g.suite = Some(v.parse().map_err(|e: macsec_dataplane::secy::UnknownCipherSuite| {
                    UsageError::bare("--cipher-suite", &format!("{e}, got {v}"))
                })?);
            }
            "--ssci" => {
                parse_ssci(value("--ssci")?, &mut g.ssci)?;
                g.ssci_given = true;
            }
            "--salt" => {
                let v = value("--salt")?;
                g.salt = Some(Salt::from_hex(v).ok_or_else(|| {
                    UsageError::new("--salt", "24 hex digits", &format!("{} characters", v.trim().len()))
                })?);
            }
            "--integrity-only" => g.integrity_only = true,
            s if s.starts_with("--") => {
                return Err(UsageError::new("pcap-decrypt", "one of the options in the usage", s))
            }
            _ => g.files.push(PathBuf::from(arg)),
        }
    }
    let keys = if g.ckn.is_some() || g.cak.is_some() { mka_keys(&mut g)? } else { sak_keys(&mut g)? };
    let [input, output]: [PathBuf; 2] = std::mem::take(&mut g.files)
        .try_into()
        .map_err(|f: Vec<PathBuf>| UsageError::new("files", "IN.pcap OUT.pcap", &format!("{} file names", f.len())))?;
    Ok(Args { keys, input, output })
}

/// `--ckn` and `--cak`: nothing else about keys (the MKPDUs carry the suite, salt and SSCIs).
fn mka_keys(g: &mut Given) -> Result<Keys, UsageError> {
    if g.sak.is_some() {
        return Err(UsageError::bare("--sak", "either --sak or --ckn with --cak, not both"));
    }
    if g.suite.is_some() || g.ssci_given || g.salt.is_some() {
        return Err(UsageError::bare(
            "--cipher-suite/--ssci/--salt",
            "only with --sak; with --ckn and --cak the MKPDUs give the cipher suite, SSCIs and salt",
        ));
    }
    let ckn = g.ckn.take().ok_or_else(|| UsageError::new("--ckn", CKN_FORM, "nothing"))?;
    let cak = g.cak.take().ok_or_else(|| UsageError::new("--cak", "32 or 64 hex digits (or --cak-file)", "nothing"))?;
    Ok(Keys::Mka { ckn, cak, integrity_only: g.integrity_only })
}

fn sak_keys(g: &mut Given) -> Result<Keys, UsageError> {
    let sak =
        g.sak.take().ok_or_else(|| UsageError::new("--sak", "32 or 64 hex digits (or --ckn and --cak)", "nothing"))?;
    let suite = g.suite.ok_or_else(|| {
        UsageError::new(
            "--cipher-suite",
            "one of gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128, gcm-aes-xpn-256",
            "nothing",
        )
    })?;
    check_suite_params(suite, &sak, g.ssci_given, g.salt.is_some())?;
    let ssci = std::mem::take(&mut g.ssci);
    Ok(Keys::Sak(Options { cipher_suite: suite, sak, ssci, salt: g.salt, integrity_only: g.integrity_only }))
}

const CKN_FORM: &str = "2 to 64 hex digits (an even count)";

/// IEEE 802.1X-2020 9.3.1: a CKN is 1 to 32 octets.
fn parse_ckn(text: &str) -> Result<Ckn, UsageError> {
    let t = text.trim();
    if t.len() < 2 || t.len() > 64 || t.len() % 2 != 0 {
        return Err(UsageError::new("--ckn", CKN_FORM, &format!("{} digits", t.len())));
    }
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UsageError::new("--ckn", CKN_FORM, "a character that is not a hex digit"));
    }
    Ckn::from_hex(t).map_err(|e| UsageError::bare("--ckn", &e.to_string()))
}

/// A 128- or 256-bit CAK; the error never repeats the text.
fn parse_cak(name: &str, text: &str) -> Result<Cak, UsageError> {
    let t = text.trim();
    if t.len() != 32 && t.len() != 64 {
        return Err(UsageError::new(name, "32 or 64 hex digits", &format!("{} digits", t.len())));
    }
    if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UsageError::new(name, "32 or 64 hex digits", "a character that is not a hex digit"));
    }
    Cak::from_hex(t).map_err(|e| UsageError::bare(name, &e.to_string()))
}

fn read_key_file(name: &str, path: &str, what: &str) -> Result<String, UsageError> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(name, &format!("a readable file holding {what}"), &format!("{path}: {e}")))
}

fn parse_sak(name: &'static str, text: &str) -> Result<Sak, UsageError> {
    Sak::from_hex(text).map_err(|e| UsageError::bare(name, &e.to_string()))
}

/// `N` (every SCI) or `SCI=N` (16 hex digits = decimal or 0x-hex number).
fn parse_ssci(v: &str, map: &mut SsciMap) -> Result<(), UsageError> {
    let bad = || UsageError::new("--ssci", "a 32-bit number, or SCI=NUMBER with a 16-hex-digit SCI", v);
    let number = |s: &str| match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse::<u32>().ok(),
    };
    match v.split_once('=') {
        None => map.default = Some(Ssci(number(v).ok_or_else(bad)?)),
        Some((sci, n)) => {
            let sci = u64::from_str_radix(sci, 16).ok().filter(|_| sci.len() == 16).ok_or_else(bad)?;
            map.per_sci.insert(Sci(sci), Ssci(number(n).ok_or_else(bad)?));
        }
    }
    Ok(())
}

fn check_suite_params(suite: CipherSuite, sak: &Sak, ssci: bool, salt: bool) -> Result<(), UsageError> {
    if sak.len() != suite.key_len() {
        let want = format!("{} hex digits for {suite}", suite.key_len() * 2);
        return Err(UsageError::new("--sak", &want, &format!("{}", sak.len() * 2)));
    }
    if suite.is_xpn() {
        if !ssci {
            return Err(UsageError::new("--ssci", &format!("the transmitter's SSCI for {suite}"), "nothing"));
        }
        if !salt {
            return Err(UsageError::new("--salt", &format!("24 hex digits for {suite}"), "nothing"));
        }
    } else if ssci || salt {
        return Err(UsageError::new("--ssci/--salt", "only with gcm-aes-xpn-128 or gcm-aes-xpn-256", suite.name()));
    }
    Ok(())
}

/// Runs the decryption; `Ok(report)` even if frames failed (the caller picks the exit code).
pub fn run(args: &Args) -> Result<Report, UsageError> {
    let input = File::open(&args.input)
        .map_err(|e| UsageError::new("IN.pcap", "a readable pcap file", &format!("{}: {e}", args.input.display())))?;
    let output = File::create(&args.output)
        .map_err(|e| UsageError::new("OUT.pcap", "a writable path", &format!("{}: {e}", args.output.display())))?;
    let mut out = BufWriter::new(output);
    let report = match &args.keys {
        Keys::Sak(o) => pcap_decrypt::run(o, BufReader::new(input), &mut out).map(Report::from),
        Keys::Mka { ckn, cak, integrity_only } => {
            decrypt_with_cak(ckn, cak, *integrity_only, BufReader::new(input), &mut out)
        }
    }
    .map_err(|e| UsageError::bare("pcap-decrypt", &e.to_string()))?;
    out.flush().map_err(|e| UsageError::new("OUT.pcap", "a writable path", &e.to_string()))?;
    Ok(report)
}

/// Decrypts `input` into `output` with the SAKs its MKPDUs distribute under `cak`.
pub fn decrypt_with_cak<R: Read, W: Write>(
    ckn: &Ckn,
    cak: &Cak,
    integrity_only: bool,
    input: R,
    output: W,
) -> Result<Report, pcap_decrypt::Error> {
    let mut keys = MkaKeys::new(ckn.clone(), cak);
    let summary = pcap_decrypt::run_with(&mut keys, integrity_only, input, output)?;
    Ok(Report { mka: Some(keys.stats), ..Report::from(summary) })
}

#[cfg(test)]
mod args_tests {
    use super::*;

    /// Also used by the `--ckn/--cak` tests in `pcap_decrypt/tests.rs`.
    pub(super) fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    pub(super) fn err(s: &str) -> String {
        match parse(&args(s)) {
            Ok(_) => panic!("accepted: {s}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_argument_and_the_form() {
        let k63 = "a".repeat(63);
        assert_eq!(
            err(&format!("--sak {k63} --cipher-suite gcm-aes-128 a b")),
            "--sak: expected 32 or 64 hex digits, got 63"
        );
        let k32 = "ab".repeat(16);
        assert!(
            err(&format!("--sak {k32} --cipher-suite gcm-aes-512 a b")).starts_with("--cipher-suite: expected one of")
        );
        assert_eq!(
            err(&format!("--sak {k32} --cipher-suite gcm-aes-256 a b")),
            "--sak: expected 64 hex digits for gcm-aes-256, got 32"
        );
        assert!(err(&format!("--sak {k32} --cipher-suite gcm-aes-xpn-128 a b")).starts_with("--ssci:"));
        assert!(err(&format!("--sak {k32} --cipher-suite gcm-aes-xpn-128 --ssci 1 --salt 00 a b"))
            .starts_with("--salt: expected 24 hex digits"));
        assert!(
            err(&format!("--sak {k32} --cipher-suite gcm-aes-128 a")).starts_with("files: expected IN.pcap OUT.pcap")
        );
        assert!(err(&format!("--sak {k32} --cipher-suite gcm-aes-128 --ssci x=1 a b")).starts_with("--ssci:"));
        let zz = "zz".repeat(16);
        assert!(!err(&format!("--sak {zz} --cipher-suite gcm-aes-128 a b")).contains("zz"));
    }

    #[test]
    fn xpn_arguments() {
        let k = "01".repeat(32);
        let a = parse(&args(&format!(
            "--sak {k} --cipher-suite gcm-aes-xpn-256 --ssci 0x10 --ssci 02000000000b0001=2 --salt {} in out",
            "0c".repeat(12)
        )))
        .unwrap();
        let Keys::Sak(o) = a.keys else { panic!("not --sak") };
        assert_eq!(o.ssci.default, Some(Ssci(16)));
        assert_eq!(o.ssci.per_sci.get(&Sci(0x0200_0000_000b_0001)), Some(&Ssci(2)));
        assert!(parse(&args(&format!(
            "--sak {k} --cipher-suite gcm-aes-xpn-256 --ssci 0200000000000b0001=2 --salt {} in out",
            "0c".repeat(12)
        )))
        .is_err());
    }
}
