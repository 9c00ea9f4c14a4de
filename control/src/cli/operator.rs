//! The verbs that talk to `macsec-control` over its operator socket (AWS Direct Connect names).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use zeroize::Zeroize;

use super::UsageError;
use crate::operator_proto::{OpReply, OpRequest};

pub const VERBS: &[&str] = &[
    "associate-mac-sec-key",
    "disassociate-mac-sec-key",
    "schedule-key-deletion",
    "update-connection",
    "describe-connections",
    "rekey",
    "status",
];

pub const USAGE: &str = "operator verbs (talk to macsec-control; --socket PATH or $MACSEC_CONTROL_SOCKET,
default /run/macsec/control.sock):
  associate-mac-sec-key    --connection-id ID --ckn HEX64 (--cak HEX64 | --cak-file PATH)
  disassociate-mac-sec-key --connection-id ID --ckn HEX64
  schedule-key-deletion    --connection-id ID --ckn HEX64 --days 7..30
  update-connection        --connection-id ID --encryption-mode must_encrypt|should_encrypt|no_encrypt
  describe-connections     [--connection-id ID]
  rekey                    --connection-id ID
  status                   [--json | --table]   (default: a table on a terminal, JSON otherwise)

Replies print as JSON (status: as a table when stdout is a terminal).";

/// Parses `--flag value` pairs; every flag must be one of `allowed`.
fn flags(args: &[String], allowed: &[&str]) -> Result<HashMap<String, String>, UsageError> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(f) = it.next() {
        let name = f.trim_start_matches("--");
        if !f.starts_with("--") || !allowed.contains(&name) {
            return Err(UsageError::new("argument", &format!("one of --{}", allowed.join(", --")), f));
        }
        let v = it.next().ok_or_else(|| UsageError::bare(f, "expected a value (missing)"))?;
        m.insert(name.to_owned(), v.clone());
    }
    Ok(m)
}

fn need(m: &mut HashMap<String, String>, k: &str, form: &str) -> Result<String, UsageError> {
    m.remove(k).ok_or_else(|| UsageError::bare(&format!("--{k}"), &format!("expected {form} (missing)")))
}

/// Builds the request of a verb. The CAK comes from `--cak` or a file (kept off `ps`).
pub fn request(verb: &str, args: &[String]) -> Result<(OpRequest, Option<String>), UsageError> {
    let mut all = vec!["socket"];
    all.extend(match verb {
        "associate-mac-sec-key" => vec!["connection-id", "ckn", "cak", "cak-file"],
        "disassociate-mac-sec-key" => vec!["connection-id", "ckn"],
        "schedule-key-deletion" => vec!["connection-id", "ckn", "days"],
        "update-connection" => vec!["connection-id", "encryption-mode"],
        "describe-connections" => vec!["connection-id"],
        "rekey" => vec!["connection-id"],
        _ => vec![],
    });
    // `status --json` / `--table` choose the output; switches, not `--flag value` pairs.
    let args: Vec<String> =
        args.iter().filter(|a| !(verb == "status" && (*a == "--json" || *a == "--table"))).cloned().collect();
    let mut m = flags(&args, &all)?;
    let socket = m.remove("socket");
    let id = |m: &mut HashMap<String, String>| need(m, "connection-id", "a connection id such as dxcon-fgabc123");
    let req = match verb {
        "associate-mac-sec-key" => {
            let connection_id = id(&mut m)?;
            let ckn = need(&mut m, "ckn", "64 hex digits")?;
            let cak = match (m.remove("cak"), m.remove("cak-file")) {
                (Some(c), None) => c,
                (None, Some(p)) => std::fs::read_to_string(&p)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| UsageError::bare("--cak-file", &format!("cannot read {p}: {e}")))?,
                _ => return Err(UsageError::bare("--cak", "expected either --cak HEX64 or --cak-file PATH")),
            };
            OpRequest::AssociateMacSecKey { connection_id, ckn, cak }
        }
        "disassociate-mac-sec-key" => {
            OpRequest::DisassociateMacSecKey { connection_id: id(&mut m)?, ckn: need(&mut m, "ckn", "64 hex digits")? }
        }
        "schedule-key-deletion" => {
            let connection_id = id(&mut m)?;
            let ckn = need(&mut m, "ckn", "64 hex digits")?;
            let d = need(&mut m, "days", "7 to 30")?;
            let days = d.parse().map_err(|_| UsageError::new("--days", "a number of days, 7 to 30", &d))?;
            OpRequest::ScheduleKeyDeletion { connection_id, ckn, days }
        }
        "update-connection" => OpRequest::UpdateConnection {
            connection_id: id(&mut m)?,
            encryption_mode: need(&mut m, "encryption-mode", "must_encrypt, should_encrypt or no_encrypt")?,
        },
        "describe-connections" => OpRequest::DescribeConnections { connection_id: m.remove("connection-id") },
        "rekey" => OpRequest::Rekey { connection_id: id(&mut m)? },
        "status" => OpRequest::Status,
        other => return Err(UsageError::new("VERB", "an operator verb", other)),
    };
    Ok((req, socket))
}

/// `macsecctl status` for people: one line per SecY (a LAG has one per member).
pub fn status_table(result: &serde_json::Value) -> String {
    const HEAD: [&str; 12] = [
        "CONNECTION",
        "MEMBER",
        "STATUS",
        "MODE",
        "CIPHER SUITE",
        "KEY SERVER",
        "CKN",
        "AN/KN",
        "TX PN",
        "RX PN",
        "PEERS",
        "LAST REKEY",
    ];
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut rows: Vec<Vec<String>> = vec![HEAD.iter().map(|h| (*h).to_owned()).collect()];
    for c in result["connections"].as_array().into_iter().flatten() {
        let ks = match (&c["keyServerSci"], c["keyServer"].as_bool()) {
            (serde_json::Value::String(sci), Some(true)) => format!("{sci} (us)"),
            (v, _) => text(v),
        };
        // A CKN is 64 digits: its ends are enough to tell keys apart.
        let ckn =
            c["ckn"].as_str().map_or("-".to_owned(), |k| match (k.get(..6), k.get(k.len().saturating_sub(4)..)) {
                (Some(a), Some(b)) if k.len() > 12 => format!("{a}…{b}"),
                _ => k.to_owned(),
            });
        rows.push(vec![
            text(&c["connectionId"]),
            text(&c["member"]),
            text(&c["portEncryptionStatus"]),
            text(&c["encryptionMode"]),
            text(&c["cipherSuite"]),
            ks,
            ckn,
            format!("{}/{}", text(&c["an"]), text(&c["kn"])),
            text(&c["txNextPn"]),
            text(&c["rxNextPn"]),
            text(&c["livePeers"]),
            text(&c["lastRekey"]),
        ]);
    }
    let widths: Vec<usize> =
        (0..HEAD.len()).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    if result["dataplaneConnected"] == serde_json::Value::Bool(false) {
        out.push_str("macsec-control: the dataplane is not connected\n");
    }
    for r in rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// How long to wait for macsec-control's reply. Verbs that change keys wait for the key store's
/// fsync.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends a request and returns the reply.
pub fn call(socket: &str, req: &OpRequest) -> Result<OpReply, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| format!("cannot reach macsec-control at {socket}: {e}"))?;
    let _ = s.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut line = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let w = s.write_all(&line);
    line.zeroize();
    w.map_err(|e| format!("cannot send to {socket}: {e}"))?;
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
            "no reply from {socket} within {} s (a key store write may be waiting on a slow disk); the request may \
             still complete: check with describe-connections",
            REPLY_TIMEOUT.as_secs()
        ),
        _ => format!("no reply from {socket}: {e}"),
    })?;
    serde_json::from_str(&reply).map_err(|e| format!("bad reply from {socket}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn status_table_has_a_row_per_secy() {
        let ckn = "c1".repeat(32);
        let r = json!({"dataplaneConnected": true, "connections": [
            {"connectionId": "dxlag-1", "member": 0, "portEncryptionStatus": "Encryption Up", "encryptionMode": "must_encrypt",
             "cipherSuite": "gcm-aes-xpn-256", "keyServerSci": "02000000000b0001", "keyServer": true, "ckn": ckn,
             "an": 1, "kn": 3, "txNextPn": 1200, "rxNextPn": 900, "livePeers": 1, "lastRekey": "2026-12-01T19:00:00Z"},
            {"connectionId": "dxlag-1", "member": 1, "portEncryptionStatus": "Encryption Down", "encryptionMode": "must_encrypt",
             "cipherSuite": "gcm-aes-xpn-256", "keyServerSci": null, "keyServer": null, "ckn": null,
             "an": null, "kn": null, "txNextPn": null, "rxNextPn": null, "livePeers": 0, "lastRekey": null}]});
        let t = status_table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(lines[0].starts_with("CONNECTION  MEMBER  STATUS"));
        assert!(lines[1].contains("Encryption Up") && lines[1].contains("02000000000b0001 (us)"), "{t}");
        assert!(lines[1].contains("c1c1c1…c1c1") && lines[1].contains("1/3") && lines[1].contains("1200"), "{t}");
        assert!(lines[2].contains("Encryption Down") && lines[2].contains("-/-"), "{t}");
        assert!(!t.contains(&ckn), "the table shortens CKNs");
    }

    #[test]
    fn status_takes_json_switch_only() {
        assert!(matches!(request("status", &["--json".to_owned()]), Ok((OpRequest::Status, None))));
        assert!(request("rekey", &["--json".to_owned()]).is_err());
    }
}
