//! `macsecctl audit-keys`: proves that files (logs, metrics scrapes, `describe-connections`
//! output, error messages) hold no key material. From a CKN/CAK pair it derives the ICK and KEK
//! (IEEE 802.1X-2020 9.3.3), learns every SAK distributed in the given captures (unwrapped with
//! the KEK, as `pcap-decrypt --ckn --cak` does) and looks for each key in each file as raw
//! octets and as hex in either case. The report names files and keys (CKN, "SAK AN 1 KN 3"),
//! never key bytes. Exit 1 when a key was found, 2 on bad arguments.

use std::fs::File;
use std::io::BufReader;

use serde::Serialize;
use zeroize::Zeroize;

use super::pcap_decrypt::MkaKeys;
use super::UsageError;
use crate::mka::keys::{Cak, Ckn};

pub const USAGE: &str =
    "usage: macsecctl audit-keys --ckn HEX (--cak HEX | --cak-file PATH) [--pcap CAPTURE]... FILE...

Looks for the CAK, its ICK and KEK and every SAK distributed in the CAPTUREs (EAPOL-MKA frames
of that CKN) in each FILE, as raw octets and as hex. --ckn/--cak may be repeated in pairs (a
keychain). Prints a JSON report naming files and keys (never key bytes); exit 1 if any key was
found.";

/// One key found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    /// The key's name: `CAK`, `ICK`, `KEK` or `SAK AN a KN k`, with its CKN.
    pub key: String,
    /// `raw`, `hex` or `HEX`.
    pub form: &'static str,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    pub files: usize,
    pub keys: usize,
    pub saks: usize,
    pub found: Vec<Finding>,
}

pub struct Args {
    pairs: Vec<(Ckn, Cak)>,
    pcaps: Vec<String>,
    files: Vec<String>,
}

/// Parses the arguments; a CAK is read from `--cak` or `--cak-file` and never echoed.
pub fn parse(args: &[String]) -> Result<Args, UsageError> {
    let mut out = Args { pairs: Vec::new(), pcaps: Vec::new(), files: Vec::new() };
    let mut ckn: Option<Ckn> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().ok_or_else(|| UsageError::bare(name, "expected a value (missing)"));
        match a.as_str() {
            "--ckn" => {
                let v = value("--ckn")?;
                ckn = Some(Ckn::from_hex(&v).map_err(|e| UsageError::bare("--ckn", &e.to_string()))?);
            }
            "--cak" | "--cak-file" => {
                let mut text = if a == "--cak" {
                    value("--cak")?
                } else {
                    let p = value("--cak-file")?;
                    std::fs::read_to_string(&p)
                        .map_err(|e| UsageError::bare("--cak-file", &format!("cannot read {p}: {e}")))?
                };
                let cak = Cak::from_hex(text.trim()).map_err(|e| UsageError::bare("--cak", &e.to_string()));
                text.zeroize();
                let c = ckn.take().ok_or_else(|| UsageError::bare("--cak", "expected --ckn HEX before it"))?;
                out.pairs.push((c, cak?));
            }
            "--pcap" => out.pcaps.push(value("--pcap")?),
            f if f.starts_with("--") => {
                return Err(UsageError::new("argument", "--ckn, --cak, --cak-file, --pcap or a FILE", f))
            }
            f => out.files.push(f.to_owned()),
        }
    }
    if out.pairs.is_empty() || ckn.is_some() {
        return Err(UsageError::bare("--ckn/--cak", "expected at least one --ckn HEX --cak HEX pair"));
    }
    if out.files.is_empty() {
        return Err(UsageError::bare("FILE", "expected at least one file to audit"));
    }
    Ok(out)
}

/// A key to look for: its name and octets (zeroized on drop).
struct Needle {
    name: String,
    bytes: Vec<u8>,
}

impl Drop for Needle {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

pub fn run(args: &Args) -> Result<Audit, UsageError> {
    let mut needles = Vec::new();
    let mut saks = 0;
    for (ckn, cak) in &args.pairs {
        needles.push(Needle { name: format!("CAK of CKN {ckn}"), bytes: cak.expose().to_vec() });
        let mut keys = MkaKeys::new(ckn.clone(), cak);
        for p in &args.pcaps {
            let f = File::open(p).map_err(|e| UsageError::bare("--pcap", &format!("cannot open {p}: {e}")))?;
            macsec_dataplane::pcap_decrypt::run_with(&mut keys, false, BufReader::new(f), std::io::sink())
                .map_err(|e| UsageError::bare("--pcap", &format!("{p}: {e}")))?;
        }
        keys.each_key(|name, bytes| {
            saks += usize::from(name.starts_with("SAK"));
            needles.push(Needle { name: format!("{name} of CKN {ckn}"), bytes: bytes.to_vec() });
        });
    }
    let mut audit = Audit { files: args.files.len(), keys: needles.len(), saks, found: Vec::new() };
    for file in &args.files {
        let mut content =
            std::fs::read(file).map_err(|e| UsageError::bare("FILE", &format!("cannot read {file}: {e}")))?;
        for n in &needles {
            if let Some(form) = holds(&content, &n.bytes) {
                audit.found.push(Finding { file: file.clone(), key: n.name.clone(), form });
            }
        }
        content.zeroize();
    }
    Ok(audit)
}

/// Whether `haystack` holds `key` as raw octets or as hex digits (lower or upper case).
fn holds(haystack: &[u8], key: &[u8]) -> Option<&'static str> {
    let find = |needle: &[u8]| !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle);
    if find(key) {
        return Some("raw");
    }
    let mut lower = hex::encode(key).into_bytes();
    let mut upper = lower.to_ascii_uppercase();
    let form = if find(&lower) {
        Some("hex")
    } else if find(&upper) {
        Some("HEX")
    } else {
        None
    };
    lower.zeroize();
    upper.zeroize();
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_raw_and_hex_and_names_only_the_key() {
        let dir = std::env::temp_dir().join(format!("audit-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cak = "0f".repeat(16) + &"e1".repeat(16);
        let clean = dir.join("clean.log");
        std::fs::write(&clean, "macsec-control: encryption up with CKN abab\n").unwrap();
        let leaky = dir.join("leaky.log");
        std::fs::write(&leaky, format!("debug: cak={}\n", cak.to_uppercase())).unwrap();
        let raw = dir.join("raw.bin");
        std::fs::write(&raw, [b"x".as_slice(), &hex::decode(&cak).unwrap(), b"y"].concat()).unwrap();
        let s = |p: &std::path::Path| p.display().to_string();
        let args: Vec<String> = ["--ckn", &"ab".repeat(32), "--cak", &cak, &s(&clean), &s(&leaky), &s(&raw)]
            .iter()
            .map(|a| a.to_string())
            .collect();
        let audit = run(&parse(&args).unwrap()).unwrap();
        assert_eq!((audit.files, audit.keys, audit.saks), (3, 3, 0));
        let found: Vec<_> = audit.found.iter().map(|f| (f.file.as_str(), f.form)).collect();
        assert_eq!(found, vec![(s(&leaky).as_str(), "HEX"), (s(&raw).as_str(), "raw")]);
        let report = serde_json::to_string(&audit).unwrap();
        assert!(!report.to_lowercase().contains(&cak), "the report never holds key bytes");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let a = |v: &[&str]| parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).err().map(|e| e.to_string());
        assert_eq!(a(&["--cak", &"1".repeat(64), "f"]).unwrap(), "--cak: expected --ckn HEX before it");
        assert!(a(&["--ckn", "abab", "--cak", &"1".repeat(63), "f"]).unwrap().starts_with("--cak: "));
        assert!(!a(&["--ckn", "abab", "--cak", &"7".repeat(63), "f"]).unwrap().contains(&"7".repeat(10)));
        assert_eq!(
            a(&["--ckn", "abab", "--cak", &"1".repeat(64)]).unwrap(),
            "FILE: expected at least one file to audit"
        );
    }
}
