//! `macsec-control --config appliance.toml`: the MKA control daemon (see `macsec_control::daemon`).

fn main() -> std::process::ExitCode {
    macsec_control::daemon::main()
}
