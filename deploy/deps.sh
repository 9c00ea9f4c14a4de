#!/bin/bash
# Installs everything the build, the tests and the demo need on a fresh Debian 12 machine.
# Idempotent: a second run checks the package list and returns in well under a second.
# Called by `make deps`, and by `make build`, `make test` and `make demo` before they build.
set -euo pipefail

PKGS=(
    # DPDK 22.11 (libdpdk-dev pulls every PMD and the ipsec-mb crypto PMD) and bindgen's libclang
    libdpdk-dev dpdk pkg-config clang libclang-dev
    # network namespaces, veth, captures, traffic
    iproute2 tcpdump tshark iperf3 iputils-ping ethtool
    # the real MACsec peer in ../shared/peer (qemu VM with the Linux macsec driver + wpa_supplicant)
    qemu-system-x86 busybox-static cpio kmod socat gzip binutils
    # vector cross-check (../shared/vectors/verify.py), scripts
    python3 python3-cryptography python3-yaml jq curl
    # checking deploy/: promtool (prometheus), systemd-analyze (systemd)
    prometheus systemd
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]}; run this script as root (apt-get install)" >&2
        exit 1
    fi
    echo "deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer for it
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    # Install, do not start, services (prometheus is here only for promtool).
    norc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; norc=1; fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$norc" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "deps: cargo not found; install a Rust toolchain (rustup) first" >&2
    exit 1
fi

pkg-config --atleast-version=22.11 libdpdk || { echo "deps: libdpdk >= 22.11 not found by pkg-config" >&2; exit 1; }
echo "deps: ok (DPDK $(pkg-config --modversion libdpdk))"
