//! `macsecctl pcap-decrypt`: argument parsing and the run. The decryption itself is
//! `macsec_dataplane::pcap_decrypt`, the same receive path the dataplane uses.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use macsec_dataplane::pcap_decrypt::{self, Options, SsciMap, Summary};
use macsec_dataplane::secy::{CipherSuite, Sak, Salt, Sci, Ssci};

use super::UsageError;

pub const USAGE: &str = "usage: macsecctl pcap-decrypt (--sak HEX | --sak-file PATH) \
--cipher-suite gcm-aes-128|gcm-aes-256|gcm-aes-xpn-128|gcm-aes-xpn-256 \
[--ssci N | --ssci SCI=N ...] [--salt HEX] [--integrity-only] IN.pcap OUT.pcap";

/// Parsed arguments.
pub struct Args {
    pub options: Options,
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Parses the arguments after `pcap-decrypt`. Every error names the argument and the form it
/// expects, and never repeats key material.
pub fn parse(args: &[String]) -> Result<Args, UsageError> {
    let mut sak: Option<Sak> = None;
    let mut suite: Option<CipherSuite> = None;
    let mut ssci = SsciMap::default();
    let mut ssci_given = false;
    let mut salt: Option<Salt> = None;
    let mut integrity_only = false;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value =
            |name: &'static str| it.next().ok_or_else(|| UsageError::new(name, "a value after the option", "nothing"));
        match arg.as_str() {
            "--sak" => sak = Some(parse_sak("--sak", value("--sak")?)?),
            "--sak-file" => {
                let path = value("--sak-file")?;
                let text = std::fs::read_to_string(path).map_err(|e| {
                    UsageError::new("--sak-file", "a readable file holding the SAK in hex", &e.to_string())
                })?;
                sak = Some(parse_sak("--sak-file", &text)?);
            }
            "--cipher-suite" => {
                let v = value("--cipher-suite")?;
                suite = Some(v.parse().map_err(|e: macsec_dataplane::secy::UnknownCipherSuite| {
                    UsageError::bare("--cipher-suite", &format!("{e}, got {v}"))
                })?);
            }
            "--ssci" => {
                parse_ssci(value("--ssci")?, &mut ssci)?;
                ssci_given = true;
            }
            "--salt" => {
                let v = value("--salt")?;
                salt = Some(Salt::from_hex(v).ok_or_else(|| {
                    UsageError::new("--salt", "24 hex digits", &format!("{} characters", v.trim().len()))
                })?);
            }
            "--integrity-only" => integrity_only = true,
            s if s.starts_with("--") => {
                return Err(UsageError::new("pcap-decrypt", "one of the options in the usage", s))
            }
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let sak = sak.ok_or_else(|| UsageError::new("--sak", "32 or 64 hex digits", "nothing"))?;
    let suite = suite.ok_or_else(|| {
        UsageError::new(
            "--cipher-suite",
            "one of gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128, gcm-aes-xpn-256",
            "nothing",
        )
    })?;
    check_suite_params(suite, &sak, ssci_given, salt.is_some())?;
    let [input, output]: [PathBuf; 2] = files
        .try_into()
        .map_err(|f: Vec<PathBuf>| UsageError::new("files", "IN.pcap OUT.pcap", &format!("{} file names", f.len())))?;
    let options = Options { cipher_suite: suite, sak, ssci, salt, integrity_only };
    Ok(Args { options, input, output })
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

/// Runs the decryption; `Ok(summary)` even if frames failed (the caller picks the exit code).
pub fn run(args: &Args) -> Result<Summary, UsageError> {
    let input = File::open(&args.input)
        .map_err(|e| UsageError::new("IN.pcap", "a readable pcap file", &format!("{}: {e}", args.input.display())))?;
    let output = File::create(&args.output)
        .map_err(|e| UsageError::new("OUT.pcap", "a writable path", &format!("{}: {e}", args.output.display())))?;
    let mut out = BufWriter::new(output);
    let summary = pcap_decrypt::run(&args.options, BufReader::new(input), &mut out)
        .map_err(|e| UsageError::bare("pcap-decrypt", &e.to_string()))?;
    out.flush().map_err(|e| UsageError::new("OUT.pcap", "a writable path", &e.to_string()))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn err(s: &str) -> String {
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
        assert_eq!(a.options.ssci.default, Some(Ssci(16)));
        assert_eq!(a.options.ssci.per_sci.get(&Sci(0x0200_0000_000b_0001)), Some(&Ssci(2)));
        assert!(parse(&args(&format!(
            "--sak {k} --cipher-suite gcm-aes-xpn-256 --ssci 0200000000000b0001=2 --salt {} in out",
            "0c".repeat(12)
        )))
        .is_err());
    }
}
