//! Static-key mode for labs and tests: the SAs of a connection come from a key file instead of
//! from MKA. The file must be mode 0600; keys are never echoed in errors.
//!
//! ```toml
//! [[tx]]                 # the transmit SA(s); the first one is the encoding SA
//! an = 0
//! sak = "…64 hex digits…"
//! pn = 1                 # next PN to send (default 1)
//! ssci = 1               # XPN only: our SSCI
//! salt = "…24 hex…"      # XPN only
//!
//! [[rx]]                 # one per peer SCI and AN
//! sci = "525400000b0001"  # the peer's SCI, 16 hex digits
//! an = 0
//! sak = "…"
//! pn = 1                 # lowest acceptable PN (default 1)
//! ssci = 2               # XPN only: the peer's SSCI
//! salt = "…"
//! ```

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use zeroize::Zeroize;

use crate::secy::{An, CipherSuite, Pn, SaParams, Sak, Salt, Sci, Ssci};

/// One SA from the file.
pub struct StaticSa {
    pub sak: Sak,
    pub params: SaParams,
}

/// The SAs of one connection.
pub struct StaticKeys {
    pub tx: Vec<StaticSa>,
    pub rx: Vec<(Sci, StaticSa)>,
}

/// A key file error: the file, the entry and field, and what was expected. Never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError(pub String);

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyFileError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tx: Vec<RawSa>,
    #[serde(default)]
    rx: Vec<RawSa>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSa {
    sci: Option<String>,
    an: u8,
    sak: String,
    pn: Option<u64>,
    ssci: Option<u32>,
    salt: Option<String>,
}

impl Drop for RawSa {
    fn drop(&mut self) {
        self.sak.zeroize();
    }
}

impl StaticKeys {
    /// Reads `path` (must not be readable by group or others) for a connection using `suite`.
    pub fn load(path: &Path, suite: CipherSuite) -> Result<Self, KeyFileError> {
        let name = path.display();
        let meta =
            std::fs::metadata(path).map_err(|e| KeyFileError(format!("{name}: cannot read the key file: {e}")))?;
        check_mode(&name.to_string(), meta_mode(&meta))?;
        let mut text = std::fs::read_to_string(path).map_err(|e| KeyFileError(format!("{name}: {e}")))?;
        let keys = Self::parse(&text, suite).map_err(|e| KeyFileError(format!("{name}: {e}")));
        text.zeroize();
        keys
    }

    /// Parses the text of a key file.
    pub fn parse(text: &str, suite: CipherSuite) -> Result<Self, KeyFileError> {
        // toml's messages quote the offending line, which could hold a key: report the
        // position only.
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            KeyFileError(format!(
                "not a valid key file at line {}: expected [[tx]]/[[rx]] tables with an, sak, pn, ssci, salt",
                at.unwrap_or(0)
            ))
        })?;
        if raw.tx.is_empty() && raw.rx.is_empty() {
            return Err(KeyFileError("no [[tx]] or [[rx]] entry".to_owned()));
        }
        let tx =
            raw.tx.iter().enumerate().map(|(i, r)| entry(&format!("tx[{i}]"), r, suite)).collect::<Result<_, _>>()?;
        let mut rx = Vec::new();
        for (i, r) in raw.rx.iter().enumerate() {
            let at = format!("rx[{i}]");
            let sci = r
                .sci
                .as_deref()
                .ok_or_else(|| KeyFileError(format!("{at}.sci: expected the peer's SCI, 16 hex digits (missing)")))?;
            let sci = parse_sci(sci)
                // The value is not echoed: a SAK pasted into the wrong field must not be printed.
                .ok_or_else(|| {
                    KeyFileError(format!("{at}.sci: expected 16 hex digits, got {} characters", sci.len()))
                })?;
            rx.push((sci, entry(&at, r, suite)?));
        }
        Ok(StaticKeys { tx, rx })
    }
}

fn entry(at: &str, r: &RawSa, suite: CipherSuite) -> Result<StaticSa, KeyFileError> {
    let an = An::new(r.an).ok_or_else(|| KeyFileError(format!("{at}.an: expected 0..3, got {}", r.an)))?;
    let sak = Sak::from_hex(&r.sak).map_err(|e| KeyFileError(format!("{at}.sak: {e}")))?;
    sak.check_suite(suite).map_err(|e| KeyFileError(format!("{at}.sak: {e}")))?;
    let pn = r.pn.unwrap_or(1);
    if pn == 0 || pn > suite.max_pn() {
        return Err(KeyFileError(format!("{at}.pn: expected 1..={:#x} for {suite}, got {pn}", suite.max_pn())));
    }
    let (ssci, salt) = if suite.is_xpn() {
        let ssci =
            r.ssci.ok_or_else(|| KeyFileError(format!("{at}.ssci: expected a 32-bit SSCI for {suite} (missing)")))?;
        let salt = r
            .salt
            .as_deref()
            .ok_or_else(|| KeyFileError(format!("{at}.salt: expected 24 hex digits for {suite} (missing)")))?;
        let salt = Salt::from_hex(salt)
            .ok_or_else(|| KeyFileError(format!("{at}.salt: expected 24 hex digits, got {} characters", salt.len())))?;
        (Some(Ssci(ssci)), Some(salt))
    } else {
        (None, None)
    };
    Ok(StaticSa { sak, params: SaParams { an, pn: Pn(pn), ssci, salt } })
}

/// 16 hex digits and nothing else (`from_str_radix` alone would take a leading `+`).
fn parse_sci(s: &str) -> Option<Sci> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .map(Sci)
}

#[cfg(unix)]
fn meta_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

/// Key files are the owner's alone.
fn check_mode(name: &str, mode: u32) -> Result<(), KeyFileError> {
    if mode & 0o077 != 0 {
        return Err(KeyFileError(format!("{name}: mode {:04o}: expected 0600 or stricter (chmod 600)", mode & 0o7777)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn file(sak: &str) -> String {
        format!(
            "[[tx]]\nan = 0\nsak = \"{sak}\"\nssci = 1\nsalt = \"0c0d0e0f1011121314151617\"\n\
             [[rx]]\nsci = \"52540000000b0001\"\nan = 0\nsak = \"{sak}\"\nssci = 2\nsalt = \"0c0d0e0f1011121314151617\"\n"
        )
    }

    fn err(text: &str, suite: CipherSuite) -> String {
        match StaticKeys::parse(text, suite) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_tx_and_rx() {
        let k = StaticKeys::parse(&file(SAK), CipherSuite::GcmAesXpn256).unwrap();
        assert_eq!(k.tx.len(), 1);
        assert_eq!(k.rx[0].0, Sci(0x5254_0000_000b_0001));
        assert_eq!(k.rx[0].1.params.ssci, Some(Ssci(2)));
    }

    #[test]
    fn errors_never_echo_the_key() {
        let short = &SAK[..63];
        let e = err(&file(short), CipherSuite::GcmAesXpn256);
        assert_eq!(e, "tx[0].sak: expected 32 or 64 hex digits, got 63");
        let e = err(&file(SAK), CipherSuite::GcmAes128);
        assert!(e.starts_with("tx[0].sak: gcm-aes-128 needs a 16-octet key"), "{e}");
        let broken = file(SAK).replace("an = 0\nsak", "an = 0\nsak = 1\nsak");
        let e = err(&broken, CipherSuite::GcmAesXpn256);
        assert!(!e.contains(SAK) && e.contains("line"), "{e}");
        assert_eq!(
            check_mode("k", 0o100644).unwrap_err().to_string(),
            "k: mode 0644: expected 0600 or stricter (chmod 600)"
        );
        assert!(check_mode("k", 0o100600).is_ok());
    }
}
