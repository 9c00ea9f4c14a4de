#!/bin/bash
# MKA against the real peer: Linux kernel macsec + wpa_supplicant 2.10 in a qemu VM
# (../shared/peer) on a tap that is our dataplane's wire port. For each election outcome (we are
# key server / the VM is) our appliance must reach Encryption Up, the VM must report
# mka-secured, ping must work both ways through the MACsec link (host behind our appliance ->
# VM, and VM -> host), and the VM's `ip -s macsec show` must count InPktsOK > 0 and
# InPktsNotValid = 0. As key server we also `macsecctl rekey` during a ping flood (no ping may be
# lost, and the KN must change); with either outcome, restarting the VM's wpa_supplicant must
# re-secure the link (ping works again both ways).
# wpa_supplicant 2.10 distributes and accepts only GCM-AES-128 in MKA (no XPN), so that is the
# suite here; the CAK is 256-bit and the CKN 64 hex digits, as AWS requires.
# Bounded: every wait has a timeout; the VM is stopped by its pid (vmctl stop), our processes by
# lab_down (pids), namespaces by name.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PEER="${MACSEC_PEER_DIR:-$ROOT/../shared/peer}"
[ -x "$PEER/run-vm.sh" ] || { echo "mka-peer: peer harness not found at $PEER (set MACSEC_PEER_DIR)" >&2; exit 1; }
cd "$ROOT"
cargo build -q --release -p macsec-dataplane -p macsec-control
"$PEER/build.sh" >/dev/null
TGT="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BIN="$TGT/macsec-dataplane"; CBIN="$TGT/macsec-control"; LAB_CTL="$TGT/macsecctl"
source "$ROOT/deploy/lib/lab.sh"
CKN=6d61637365632d706565722d746573742d636b6e2d616273656e742d31323334
CAK=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
VM=mkapeer$$
pass=0; fail=0
ok() { echo "mka-peer: ok: $*"; pass=$((pass + 1)); }
bad() { echo "mka-peer: FAILED: $*"; fail=$((fail + 1)); }
cleanup() { "$PEER/vmctl.sh" "$VM" stop >/dev/null 2>&1 || true; lab_down 2>/dev/null || true; }
trap cleanup EXIT INT TERM

vm() { "$PEER/vmctl.sh" "$VM" exec "$1" "${2:-30}"; }
host_ping() { ip netns exec "$(lab_ns hA)" ping "$@" 10.77.0.2; }
# vm_ping COUNT: from the VM's macsec0 to the host behind our appliance; true on 0% loss.
vm_ping() { vm "ping -c $1 -W 2 10.77.0.1" 60 2>&1 | grep -q ' 0% packet loss'; }

# The VM's receive counters summed over its Rx SCs (the header line names the columns, the next
# line holds the values): prints "InPktsOK InPktsNotValid".
vm_rx_counts() {
    vm 'ip -s macsec show' | awk '
        /stats:/ && /InPktsNotValid/ && /InOctetsValidated/ {
            n = split($0, h); getline; split($0, v)
            for (i = 2; i <= n; i++) s[h[i]] += v[i - 1]
        }
        END { printf "%d %d\n", s["InPktsOK"], s["InPktsNotValid"] }'
}

# until_ok SECONDS CMD...: retries CMD every second.
until_ok() { local end=$(( $(date +%s) + $1 )); shift; until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 1; done; }

# The ping flood: 1000 pings at 100/s; `macsecctl rekey` after 3 s; 0% loss and a new KN.
rekey_under_flood() {
    local label=$1 kn0 kn1 out
    kn0=$(lab_ctl A describe-connections | jq -r '.connections[0].kn')
    host_ping -c 1000 -i 0.01 -W 2 -q > "$LAB_DIR/flood.out" 2>&1 &
    local fp=$!
    sleep 3
    lab_ctl A rekey --connection-id dxcon-laba >/dev/null || bad "$label: rekey refused"
    wait "$fp" || true
    out=$(grep -E 'packets transmitted' "$LAB_DIR/flood.out" || echo "no ping summary")
    kn1=$(lab_ctl A describe-connections | jq -r '.connections[0].kn')
    if grep -q ' 0% packet loss' <<<"$out"; then ok "$label: rekey during a ping flood lost no ping ($out)"; else bad "$label: ping flood across the rekey: $out"; fi
    if [ "$kn1" != "$kn0" ] && [ "$kn1" != null ]; then ok "$label: the rekey put a new SAK in use (KN $kn0 -> $kn1)"; else bad "$label: KN still $kn1 after rekey"; fi
}

# Kill and start the VM's wpa_supplicant: it comes back with a new MI; the link must re-secure.
vm_wpa() { vm "wpa_cli status verbose" 2>/dev/null | sed -n "s/^$1=//p" | head -1; }
restart_wpa() {
    local label=$1 mi0 mi1
    mi0=$(vm_wpa mi)
    vm 'kill $(cat /run/wpa_supplicant.pid); sleep 1; wpa_supplicant -D macsec_linux -i eth0 -c /tmp/wpa_supplicant.conf -d -t -f /share/wpa_supplicant.log -B -P /run/wpa_supplicant.pid' >/dev/null 2>&1 \
        || { bad "$label: could not restart wpa_supplicant"; return; }
    sleep 2
    if until_ok 60 host_ping -c 1 -W 1 -q >/dev/null 2>&1; then ok "$label: after a wpa_supplicant restart the host pings the VM again"; else bad "$label: no ping after the wpa_supplicant restart"; fi
    if host_ping -c 5 -i 0.3 -W 2 -q >/dev/null 2>&1 && vm_ping 3; then ok "$label: and ping works both ways"; else bad "$label: ping both ways after the restart"; fi
    mi1=$(vm_wpa mi)
    if [ -n "$mi1" ] && [ "$mi1" != "$mi0" ] && [ "$(vm_wpa Secured)" = Yes ]; then ok "$label: the VM re-secured as a new participant (MI $mi0 -> $mi1)"; else bad "$label: VM MI $mi0 -> $mi1, Secured=$(vm_wpa Secured)"; fi
    if lab_wait_up A 10; then ok "$label: Encryption Up again"; else bad "$label: not Encryption Up after the restart"; fi
}

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
    if host_ping -c 5 -i 0.3 -W 2 -q >/dev/null; then ok "$1: host pings the VM over MACsec"; else bad "$1: ping host -> VM over MACsec failed"; fi
    if vm_ping 5; then ok "$1: the VM pings the host over MACsec"; else bad "$1: ping VM -> host over MACsec failed"; fi
    sleep 1.5
    local okf; okf=$(lab_metrics A | awk '$1 ~ /^macsec_rx_sa_in_pkts_ok_total/ { s += $2 } END { print s + 0 }')
    if [ "$okf" -gt 0 ]; then ok "$1: $okf frames from the VM validated by us (InPktsOK)"; else bad "$1: no frame validated"; fi
    local c; c=$(vm_rx_counts)
    if [ "${c% *}" -gt 0 ] && [ "${c#* }" = 0 ]; then ok "$1: the VM's ip -s macsec show: InPktsOK ${c% *}, InPktsNotValid 0"; else bad "$1: the VM counts InPktsOK/InPktsNotValid = $c"; fi
    if [ "$4" = true ]; then rekey_under_flood "$1"; fi
    restart_wpa "$1"
    c=$(vm_rx_counts)
    if [ "${c#* }" = 0 ]; then ok "$1: the VM counted no InPktsNotValid in the end"; else bad "$1: the VM counts InPktsNotValid ${c#* } in the end"; fi
    "$PEER/vmctl.sh" "$VM" stop >/dev/null 2>&1 || true
    lab_down
}

scenario "we are key server" 16 255 true
scenario "the VM is key server" 32 1 false
echo "mka-peer: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
