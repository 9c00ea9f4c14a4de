//! `macsec-dataplane --config appliance.toml [--check-config]`: the MACsec bump-in-the-wire.

use std::path::PathBuf;
use std::process::ExitCode;

use macsec_dataplane::appliance::config::{Config, KeySource};
use macsec_dataplane::appliance::static_keys::StaticKeys;

const USAGE: &str = "usage: macsec-dataplane --config PATH [--check-config]

  --config PATH     the appliance config (TOML; see deploy/examples/appliance.toml)
  --check-config    check the config and the static key files, print a summary, exit
                    (0: good, 2: an error naming the key, the bad value and the expected form)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config: Option<PathBuf> = None;
    let mut check_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => match it.next() {
                Some(p) => config = Some(PathBuf::from(p)),
                None => return usage("--config: expected a path"),
            },
            "--check-config" => check_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("{other}: unknown argument")),
        }
    }
    let Some(path) = config else { return usage("--config: expected a path (missing)") };
    let cfg = match load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("macsec-dataplane: config error: {e}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        print_summary(&path, &cfg);
        return ExitCode::SUCCESS;
    }
    // SAKs live in this process: no core dumps, no swap (before EAL maps its memory, so that
    // MCL_FUTURE covers it).
    eprintln!("macsec-dataplane: {}", macsec_dataplane::appliance::hardening::harden());
    match macsec_dataplane::runtime::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("macsec-dataplane: {e}");
            ExitCode::from(1)
        }
    }
}

/// The config plus every static key file it names, checked.
fn load(path: &std::path::Path) -> Result<Config, String> {
    let cfg = Config::load(path).map_err(|e| e.to_string())?;
    for (i, c) in cfg.connections.iter().enumerate() {
        if let KeySource::Static(file) = &c.key_source {
            StaticKeys::load(file, c.cipher_suite).map_err(|e| format!("connections[{i}].static_key_file: {e}"))?;
        }
    }
    Ok(cfg)
}

fn print_summary(path: &std::path::Path, cfg: &Config) {
    println!("{}: ok", path.display());
    println!("  eal: lcores {}, {}", cfg.eal.lcores, if cfg.eal.huge_pages { "hugepages" } else { "no hugepages" });
    println!("  control socket {}, metrics http://{}/metrics", cfg.control_socket.display(), cfg.metrics_listen);
    for c in &cfg.connections {
        let wires: Vec<&str> = c.wire_ports.iter().map(|w| w.device.as_str()).collect();
        println!(
            "  connection {}: host {} <-> wire {} ({}), {} worker(s), {}, {}, replay window {}, keys from {}",
            c.id,
            c.host_port,
            wires.join(" + "),
            if wires.len() > 1 { "LAG" } else { "single port" },
            c.workers,
            c.cipher_suite,
            c.encryption_mode.name(),
            c.replay_window,
            match &c.key_source {
                KeySource::Control => "control (MKA)".to_owned(),
                KeySource::Static(f) => format!("static file {}", f.display()),
            }
        );
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("macsec-dataplane: {msg}\n{USAGE}");
    ExitCode::from(2)
}
