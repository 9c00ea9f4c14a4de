//! Binds the system libdpdk (22.11) found by pkg-config: bindgen over wrapper.h, and the C shim
//! for DPDK's static inline functions compiled with the same flags.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=shim.h");
    println!("cargo:rerun-if-changed=shim.c");
    let dpdk = match pkg_config::Config::new().atleast_version("22.11").probe("libdpdk") {
        Ok(lib) => lib,
        Err(e) => {
            panic!("libdpdk >= 22.11 not found by pkg-config ({e}); run deploy/deps.sh (apt-get install libdpdk-dev)")
        }
    };
    let cflags = pkg_config_cflags();
    // The ring PMD's constructor API (rte_eth_from_rings) is a driver library, not in the
    // pkg-config link line of the shared build.
    println!("cargo:rustc-link-lib=rte_net_ring");

    let mut cc = cc::Build::new();
    cc.file("shim.c").flag_if_supported("-march=corei7").define("ALLOW_EXPERIMENTAL_API", None);
    for inc in &dpdk.include_paths {
        cc.include(inc);
    }
    // -I and -D only: `-include rte_config.h` is two tokens, and the headers include it anyway.
    for f in cflags.iter().filter(|f| f.starts_with("-I") || f.starts_with("-D")) {
        cc.flag(f);
    }
    cc.warnings(false).compile("macsec_dpdk_shim");

    let mut clang_args: Vec<String> = vec!["-march=corei7".into(), "-DALLOW_EXPERIMENTAL_API".into()];
    clang_args.extend(dpdk.include_paths.iter().map(|p| format!("-I{}", p.display())));
    clang_args.extend(cflags.iter().filter(|f| f.starts_with("-I") || f.starts_with("-D")).cloned());
    let bindings = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_args(&clang_args)
        .allowlist_function("rte_.*|shim_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|rte_.*")
        .opaque_type("rte_arp_ipv4|rte_arp_hdr|rte_l2tpv2_combined_msg_hdr")
        .no_debug("rte_gtp_psc_generic_hdr")
        .derive_default(true)
        .prepend_enum_name(false)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| panic!("bindgen over the DPDK headers failed: {e}"));
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    bindings.write_to_file(out.join("bindings.rs")).unwrap_or_else(|e| panic!("writing bindings.rs: {e}"));
}

/// `pkg-config --cflags libdpdk` (it carries -march and -include rte_config.h).
fn pkg_config_cflags() -> Vec<String> {
    let out = std::process::Command::new("pkg-config").args(["--cflags", "libdpdk"]).output();
    match out {
        Ok(o) if o.status.success() => {
            String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_owned).collect()
        }
        _ => Vec::new(),
    }
}
