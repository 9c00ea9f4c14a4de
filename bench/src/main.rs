//! `macsec-bench`: the numbers behind issue 7. Parts: `crypto` (AES-GCM engines on one core),
//! `secy` (full protect/validate through the SecY pipeline), `dataplane` (the
//! `macsec-dataplane` binary against a DPDK generator over memif) and `scaling` (cores for
//! 100G/400G from the measured per-core figures).
//!
//! ```text
//! macsec-bench [--only crypto,secy,dataplane,scaling] [--quick] [--json] [--json-out PATH] [--runs N] [--cpu N] [--rt]
//! ```
//! `--rt` runs this process (after EAL pinned it to `--cpu`), the generator and the dataplane
//! SCHED_RR, ahead of everything else on a shared machine (the kernel keeps 5% for others).
//! The human table goes to stdout (JSON instead with `--json`, JSON to a file as well with
//! `--json-out`); progress goes to stderr.
#![forbid(unsafe_code)]

mod clock;
mod crypto;
mod dataplane;
mod report;
mod scaling;
mod secy;
mod sizes;
mod targets;

use std::time::Duration;

use crypto::Contender;

#[derive(Debug)]
struct Args {
    parts: Vec<String>,
    quick: bool,
    json: bool,
    runs: usize,
    cpu: usize,
    realtime: bool,
    json_out: Option<String>,
}

const PARTS: [&str; 4] = ["crypto", "secy", "dataplane", "scaling"];

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        parts: PARTS.iter().map(|s| s.to_string()).collect(),
        quick: false,
        json: false,
        runs: 0,
        cpu: 0,
        realtime: false,
        json_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--only" => {
                let v = it.next().ok_or("--only needs a list: crypto,secy,dataplane,scaling")?;
                a.parts = v.split(',').map(str::to_string).collect();
                if let Some(bad) = a.parts.iter().find(|p| !PARTS.contains(&p.as_str())) {
                    return Err(format!("--only: unknown part {bad:?}; expected crypto, secy, dataplane or scaling"));
                }
            }
            "--quick" => a.quick = true,
            "--json" => a.json = true,
            "--rt" => a.realtime = true,
            "--json-out" => a.json_out = Some(it.next().ok_or("--json-out needs a path")?),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).ok_or("--runs needs a number ≥ 1")?,
            "--cpu" => a.cpu = it.next().and_then(|v| v.parse().ok()).ok_or("--cpu needs a CPU number")?,
            "-h" | "--help" => {
                println!("macsec-bench [--only crypto,secy,dataplane,scaling] [--quick] [--json] [--json-out PATH] [--runs N] [--cpu N] [--rt]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    if a.runs == 0 {
        a.runs = if a.quick { 3 } else { 5 };
    }
    Ok(a)
}

#[derive(serde::Serialize)]
struct Output {
    machine: report::Machine,
    quick: bool,
    runs: usize,
    notes: Vec<String>,
    crypto: Vec<crypto::CryptoResult>,
    crypto_ratios: Vec<report::Ratio>,
    secy: Vec<secy::SecyResult>,
    dataplane: dataplane::DataplaneReport,
    scaling: Option<scaling::Scaling>,
    targets: Vec<targets::Target>,
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("gen") {
        let r = dataplane::gen::parse(std::env::args().skip(2)).and_then(dataplane::gen::main);
        if let Err(e) = r {
            eprintln!("macsec-bench gen: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("macsec-bench: {e}");
            std::process::exit(2);
        }
    };
    let mut notes = Vec::new();
    // EAL pins this thread to args.cpu; everything in this process then runs on that core.
    let ipsec = if args.parts.iter().any(|p| p == "crypto") {
        match crypto::ipsec_mb::IpsecMb::start(args.cpu) {
            Ok(d) => Some(d),
            Err(e) => {
                notes.push(format!("ipsec-mb skipped: {e}"));
                None
            }
        }
    } else {
        None
    };
    if args.realtime {
        let pid = std::process::id().to_string();
        match std::process::Command::new("chrt").args(["-r", "-a", "-p", "1", &pid]).status() {
            Ok(s) if s.success() => notes.push("--rt: SCHED_RR priority 1".into()),
            _ => notes.push("--rt: chrt failed; running SCHED_OTHER".into()),
        }
    }
    let core_hz = clock::core_hz();
    eprintln!("core clock ≈ {:.2} GHz", core_hz / 1e9);
    let mut out = Output {
        machine: report::Machine::probe(core_hz),
        quick: args.quick,
        runs: args.runs,
        notes,
        crypto: Vec::new(),
        crypto_ratios: Vec::new(),
        secy: Vec::new(),
        dataplane: dataplane::DataplaneReport::default(),
        scaling: None,
        targets: Vec::new(),
    };
    let o = crypto::Options {
        sizes: if args.quick {
            vec![sizes::Size::Fixed(64), sizes::Size::Fixed(1500), sizes::Size::Imix]
        } else {
            sizes::CRYPTO_SIZES.to_vec()
        },
        key_bits: vec![128, 256],
        runs: args.runs,
        duration: Duration::from_millis(if args.quick { 30 } else { 100 }),
        core_hz,
    };
    if args.parts.iter().any(|p| p == "crypto") {
        let mut contenders: Vec<Box<dyn Contender>> = Vec::new();
        for o in crypto::ours::Ours::all() {
            contenders.push(Box::new(o));
        }
        contenders.extend::<[Box<dyn Contender>; 4]>([
            Box::new(crypto::libs::SecyBackend),
            Box::new(crypto::libs::RingAead),
            Box::new(crypto::libs::AwsLc),
            Box::new(crypto::libs::RustCrypto),
        ]);
        if let Some(d) = ipsec {
            contenders.push(Box::new(d));
        }
        out.crypto = crypto::run(&contenders, &o);
        out.crypto_ratios = report::crypto_ratios(&out.crypto);
    }
    if args.parts.iter().any(|p| p == "secy") {
        out.secy = run_secy(&args, &o);
    }
    if args.parts.iter().any(|p| p == "dataplane") {
        let o = dataplane::DpOptions {
            sizes: vec![sizes::Size::Fixed(64), sizes::Size::Fixed(1518), sizes::Size::Imix],
            secs: if args.quick { 1.0 } else { 2.0 },
            runs: if args.quick { 1 } else { 3 },
            gen_cpu: args.cpu,
            realtime: args.realtime,
        };
        out.dataplane = dataplane::run(&dataplane::setups(), &o);
    }
    if args.parts.iter().any(|p| p == "scaling") {
        if out.dataplane.setups.is_empty() && out.secy.is_empty() {
            out.notes.push("scaling: needs the dataplane and/or secy parts in the same run".into());
        } else {
            out.scaling = Some(scaling::compute(&out.dataplane, &out.secy));
        }
    }
    out.targets = targets::judge(&out.crypto, &out.secy, &out.dataplane);
    if let Some(path) = &args.json_out {
        let j = serde_json::to_string_pretty(&out).unwrap_or_default();
        if let Err(e) = std::fs::write(path, j) {
            eprintln!("macsec-bench: --json-out {path}: {e}");
        }
    }
    // EAL leaves its runtime directory behind; this process's EAL (ipsec-mb) is done with it.
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/macsec-bench-{}", std::process::id()));
    if args.json {
        match serde_json::to_string_pretty(&out) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("macsec-bench: JSON: {e}"),
        }
        return;
    }
    print_human(&out);
}

fn run_secy(args: &Args, crypto: &crypto::Options) -> Vec<secy::SecyResult> {
    use macsec_dataplane::gcm::{Engine, EngineBackend};
    use macsec_dataplane::secy::{CipherSuite, RingBackend};
    // The engine's best path against the same path raw (32 frames per call), and the ring
    // backend against ring raw (one frame per call).
    let best = crypto::ours::Ours::all().pop();
    let mut backends = Vec::new();
    if let Some(o) = best {
        backends.push(secy::Backend {
            name: format!("EngineBackend ({})", o.path().name()),
            backend: std::sync::Arc::new(EngineBackend::new(Engine::best())),
            raw: Box::new(o),
        });
    }
    backends.push(secy::Backend {
        name: "secy::RingBackend".into(),
        backend: std::sync::Arc::new(RingBackend),
        raw: Box::new(crypto::libs::SecyBackend),
    });
    let o = secy::SecyOptions {
        suites: if args.quick {
            vec![CipherSuite::GcmAes256]
        } else {
            vec![CipherSuite::GcmAes128, CipherSuite::GcmAes256, CipherSuite::GcmAesXpn256]
        },
        sizes: if args.quick {
            vec![sizes::Size::Fixed(64), sizes::Size::Fixed(1518), sizes::Size::Imix]
        } else {
            secy::SECY_SIZES.to_vec()
        },
        crypto,
        tsc_hz: secy::tsc_hz(),
    };
    secy::run(&backends, &o)
}

fn print_human(o: &Output) {
    let m = &o.machine;
    println!(
        "macsec-bench on {} ({}, {} CPUs, core ≈ {:.2} GHz), kernel {}, commit {}",
        m.cpu_model, m.cpu_id, m.cpus, m.core_ghz, m.kernel, m.commit
    );
    println!("CPU flags the engine uses: {}; best engine path: {}", m.flags.join(" "), m.best_path);
    println!("median of {} runs{}", o.runs, if o.quick { " (quick)" } else { "" });
    for n in &o.notes {
        println!("note: {n}");
    }
    if !o.crypto.is_empty() {
        print!("{}", report::crypto_table(&o.crypto));
        print!(
            "{}",
            report::ratio_table("same-run ratios (vs the fastest of ring, aws-lc-rs, ipsec-mb)", &o.crypto_ratios)
        );
    }
    if !o.secy.is_empty() {
        print!("{}", report::secy_table(&o.secy));
    }
    if !o.dataplane.setups.is_empty() {
        print!("{}", report::dataplane_table(&o.dataplane.setups));
    }
    if !o.dataplane.capacity.is_empty() {
        print!("{}", report::capacity_table(&o.dataplane.capacity));
    }
    if let Some(s) = &o.scaling {
        print!("{}", report::scaling_table(s));
    }
    if !o.targets.is_empty() {
        print!("{}", report::targets_table(&o.targets));
    }
}
