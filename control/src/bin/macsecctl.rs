//! `macsecctl`: the operator CLI of the MACsec appliance.

use std::io::IsTerminal;
use std::process::ExitCode;

use macsec_control::cli::{audit_keys, operator, pcap_decrypt, UsageError};

const USAGE: &str = "usage: macsecctl VERB [ARGS]

verbs:
  pcap-decrypt   validate and decrypt the MACsec frames of a pcap with a known SAK or CKN/CAK
                 (macsecctl pcap-decrypt --help)
  audit-keys     prove that logs and outputs hold no key material (macsecctl audit-keys --help)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((verb, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    match verb.as_str() {
        "pcap-decrypt" => pcap_decrypt_main(rest),
        "audit-keys" => audit_keys_main(rest),
        v if operator::VERBS.contains(&v) => operator_main(v, rest),
        "-h" | "--help" | "help" => {
            out(&format!("{USAGE}{}\n", operator::USAGE));
            ExitCode::SUCCESS
        }
        other => usage_error(&UsageError::new(
            "VERB",
            &format!("one of: pcap-decrypt, audit-keys, {}", operator::VERBS.join(", ")),
            other,
        )),
    }
}

fn pcap_decrypt_main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        out(&format!("{}\n", pcap_decrypt::USAGE));
        return ExitCode::SUCCESS;
    }
    let parsed = match pcap_decrypt::parse(args) {
        Ok(p) => p,
        Err(e) => return usage_error(&e),
    };
    let summary = match pcap_decrypt::run(&parsed) {
        Ok(s) => s,
        Err(e) => return usage_error(&e),
    };
    match serde_json::to_string(&summary) {
        Ok(json) => out(&format!("{json}\n")),
        Err(e) => eprintln!("macsecctl: cannot print the summary: {e}"),
    }
    if summary.invalid > 0 {
        eprintln!("macsecctl: {} of {} MACsec frames failed validation", summary.invalid, summary.macsec);
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Exit 1 when any key was found in any file.
fn audit_keys_main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        out(&format!("{}\n", audit_keys::USAGE));
        return ExitCode::SUCCESS;
    }
    let audit = match audit_keys::parse(args).and_then(|a| audit_keys::run(&a)) {
        Ok(a) => a,
        Err(e) => return usage_error(&e),
    };
    out(&format!("{}\n", serde_json::to_string(&audit).unwrap_or_default()));
    if audit.found.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &audit.found {
            eprintln!("macsecctl: {} holds the {} ({})", f.file, f.key, f.form);
        }
        ExitCode::from(1)
    }
}

/// An operator verb: prints the reply's result as JSON; exit 1 when macsec-control refused.
fn operator_main(verb: &str, args: &[String]) -> ExitCode {
    let (req, socket) = match operator::request(verb, args) {
        Ok(r) => r,
        Err(e) => return usage_error(&e),
    };
    let socket = socket
        .or_else(|| std::env::var("MACSEC_CONTROL_SOCKET").ok())
        .unwrap_or_else(|| "/run/macsec/control.sock".to_owned());
    match operator::call(&socket, &req) {
        Ok(r) => {
            for w in &r.warnings {
                eprintln!("macsecctl: warning: {w}");
            }
            if let Some(e) = &r.error {
                eprintln!("macsecctl: {e}");
                return ExitCode::from(1);
            }
            // People at a terminal get a table for `status`; scripts and pipes get JSON.
            let table = args.iter().any(|a| a == "--table");
            let json = !table && (args.iter().any(|a| a == "--json") || !std::io::stdout().is_terminal());
            if verb == "status" && !json {
                out(&operator::status_table(&r.result));
            } else {
                out(&format!("{}\n", serde_json::to_string_pretty(&r.result).unwrap_or_default()));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("macsecctl: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(e: &UsageError) -> ExitCode {
    eprintln!("macsecctl: {e}");
    ExitCode::from(2)
}

/// Writes to stdout; a closed pipe (`macsecctl ... | grep -q`, `| head`) is not an error.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
