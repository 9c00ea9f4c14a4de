#!/bin/bash
# MKA against the real peer: Linux kernel macsec + wpa_supplicant 2.10 in a qemu VM
# (../shared/peer) on a tap that is our dataplane's wire port. For each election outcome (we are
# key server / the VM is) our appliance must reach Encryption Up, the VM must report
# mka-secured, and the host behind our appliance must ping the VM's macsec0 address.
# wpa_supplicant 2.10 distributes and accepts only GCM-AES-128 in MKA (no XPN), so that is the
# suite here; the CAK is 256-bit and the CKN 64 hex digits, as AWS requires.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PEER="${MACSEC_PEER_DIR:-$ROOT/../shared/peer}"
[ -x "$PEER/run-vm.sh" ] || { echo "mka-peer: peer harness not found at $PEER (set MACSEC_PEER_DIR)" >&2; exit 1; }
cd "$ROOT"
cargo build -q --release -p macsec-dataplane -p macsec-control
"$PEER/build.sh" >/dev/null
BIN="$ROOT/target/release/macsec-dataplane"; CBIN="$ROOT/target/release/macsec-control"
LAB_CTL="$ROOT/target/release/macsecctl"
source "$ROOT/deploy/lib/lab.sh"
CKN=6d61637365632d706565722d746573742d636b6e2d616273656e742d31323334
CAK=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
VM=mkapeer$$
pass=0; fail=0
ok() { echo "mka-peer: ok: $*"; pass=$((pass + 1)); }
bad() { echo "mka-peer: FAILED: $*"; fail=$((fail + 1)); }
cleanup() { "$PEER/vmctl.sh" "$VM" stop >/dev/null 2>&1 || true; lab_down 2>/dev/null || true; }
trap cleanup EXIT INT TERM

scenario() { # LABEL OUR_PRIO VM_PRIO WE_ARE_KS
    echo "mka-peer: --- $1 (our priority $2, VM priority $3)"
    lab_up_peer
    timeout 60 "$PEER/run-vm.sh" "$VM" tap0 --netns "$(lab_ns dA)" --ip 10.77.0.2/24 --ping 10.77.0.1 \
        --cak "$CAK" --ckn "$CKN" --prio "$3" > "$LAB_DIR/vm.out" 2>&1
    local cfg; cfg=$(WIRE_IFACE=tap0 LAB_PRIO=$2 lab_config A gcm-aes-128 must_encrypt 1 "0@0,1@1" control)
    lab_start A "$BIN" "$cfg"
    lab_start_control A "$CBIN" "$cfg"
    lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "$CAK" >/dev/null
    if lab_wait_up A 60; then ok "$1: our appliance reports Encryption Up"; else bad "$1: no Encryption Up"; tail -5 "$LAB_DIR/A.ctl.err"; fi
    if "$PEER/vmctl.sh" "$VM" wait mka-secured 60 >/dev/null 2>&1; then ok "$1: the VM (wpa_supplicant) reports mka-secured"; else bad "$1: VM not secured"; fi
    local ks; ks=$(lab_ctl A describe-connections | jq -r '.connections[0].keyServer')
    if [ "$ks" = "$4" ]; then ok "$1: key server election as expected (we are key server: $ks)"; else bad "$1: key server is us=$ks, expected $4"; fi
    if ip netns exec "$(lab_ns hA)" ping -c 5 -i 0.3 -W 2 -q 10.77.0.2 >/dev/null; then ok "$1: host pings the VM over MACsec"; else bad "$1: ping over MACsec failed"; fi
    sleep 1.5
    local okf; okf=$(lab_metrics A | awk '$1 ~ /^macsec_rx_sa_in_pkts_ok_total/ { s += $2 } END { print s + 0 }')
    if [ "$okf" -gt 0 ]; then ok "$1: $okf frames from the VM validated (InPktsOK)"; else bad "$1: no frame validated"; fi
    "$PEER/vmctl.sh" "$VM" stop >/dev/null 2>&1 || true
    lab_down
}

scenario "we are key server" 16 255 true
scenario "the VM is key server" 32 1 false
echo "mka-peer: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
