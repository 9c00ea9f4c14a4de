#!/bin/bash
# Interop check against a real MACsec implementation: for each cipher suite, the peer harness
# (../shared/peer: Linux kernel macsec in two qemu VMs, static SAK) pings across MACsec while
# tcpdump captures the wire; then `macsecctl pcap-decrypt` must validate every MACsec frame of
# that capture and find the pings inside. Then the same with MKA (wpa_supplicant 2.10 in both
# VMs): `pcap-decrypt --ckn --cak` must learn the SAK from the captured MKPDUs alone and
# validate every MACsec frame (256-bit lab CAK; and a 128-bit CAK, integrity only, via
# --cak-file). Bounded in time; the harness removes its VMs and netns.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PEER="${MACSEC_PEER_DIR:-$ROOT/../shared/peer}"
read -r -a SUITES <<<"${SUITES:-gcm-aes-128 gcm-aes-256 gcm-aes-xpn-128 gcm-aes-xpn-256}"
[ -x "$PEER/demo.sh" ] || { echo "check-live: peer harness not found at $PEER (set MACSEC_PEER_DIR)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/macsec-live.XXXXXX)
cleanup() { "$PEER/demo.sh" cleanup >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

cd "$ROOT"
cargo build -q -p macsec-control --bin macsecctl
CTL="${CARGO_TARGET_DIR:-$ROOT/target}/debug/macsecctl"
"$PEER/build.sh" >/dev/null

# The keys ../shared/peer/demo.sh static uses: SAK 00 01 02 ..., salt 0c..17, VM A (MAC
# 52:54:00:00:00:0a, port 1) sends with SSCI 1, VM B (…:0b) with SSCI 2.
SALT=0c0d0e0f1011121314151617
pass=0; fail=0
for suite in "${SUITES[@]}"; do
    case "$suite" in *256) SAK=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f;;
                     *) SAK=000102030405060708090a0b0c0d0e0f;; esac
    XPN=(); case "$suite" in *xpn*) XPN=(--ssci 52540000000a0001=1 --ssci 52540000000b0001=2 --salt "$SALT");; esac
    pcap="$WORK/$suite.pcap"
    if ! timeout 240 "$PEER/demo.sh" static "$suite" --pcap "$pcap" > "$WORK/$suite.log" 2>&1; then
        echo "check-live: $suite: peer demo failed:"; tail -20 "$WORK/$suite.log"; fail=$((fail + 1)); continue
    fi
    if ! summary=$("$CTL" pcap-decrypt --sak "$SAK" --cipher-suite "$suite" "${XPN[@]}" "$pcap" "$WORK/$suite.plain.pcap"); then
        echo "check-live: $suite: pcap-decrypt failed: $summary"; fail=$((fail + 1)); continue
    fi
    macsec=$(jq .macsec <<<"$summary"); ok=$(jq .ok <<<"$summary")
    icmp=$(tshark -r "$WORK/$suite.plain.pcap" -Y icmp 2>/dev/null | wc -l)
    if [ "$macsec" -gt 0 ] && [ "$ok" = "$macsec" ] && [ "$icmp" -gt 0 ]; then
        echo "check-live: $suite: ok: $summary, $icmp ICMP frames in the decrypted capture"
        pass=$((pass + 1))
    else
        echo "check-live: $suite: FAILED: $summary, $icmp ICMP frames"; fail=$((fail + 1))
    fi
done
# MKA: the SAK is not given; pcap-decrypt learns it from the MKPDUs with the CKN and CAK.
# mka_case LABEL CKN CAK PCAP_DECRYPT_KEY_ARGS... -- DEMO_EXTRA...
mka_case() {
    local label=$1 ckn=$2 cak=$3; shift 3
    local keyargs=() extra=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do keyargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift; extra=("$@")
    local pcap="$WORK/$label.pcap" out
    # Two TCG VMs on a loaded host sometimes miss the harness's 90 s wait: one more try.
    if ! timeout 240 "$PEER/demo.sh" mka --pcap "$pcap" -- "${extra[@]}" > "$WORK/$label.log" 2>&1 &&
        ! { echo "check-live: $label: peer demo failed once, retrying"; timeout 240 "$PEER/demo.sh" mka --pcap "$pcap" -- "${extra[@]}" > "$WORK/$label.log" 2>&1; }; then
        echo "check-live: $label: peer demo failed:"; tail -20 "$WORK/$label.log"; fail=$((fail + 1)); return
    fi
    out=$("$CTL" pcap-decrypt --ckn "$ckn" "${keyargs[@]}" "$pcap" "$WORK/$label.plain.pcap" 2>&1) || true
    if grep -qi "$cak" <<<"$out"; then echo "check-live: $label: FAILED: the CAK was echoed"; fail=$((fail + 1)); return; fi
    local summary macsec ok saks icmp
    summary=$(grep '^{' <<<"$out" || echo '{}')
    macsec=$(jq '.macsec // 0' <<<"$summary"); ok=$(jq '.ok // -1' <<<"$summary"); saks=$(jq '.mka.saks // 0' <<<"$summary")
    icmp=$(tshark -r "$WORK/$label.plain.pcap" -Y icmp 2>/dev/null | wc -l)
    if [ "$macsec" -gt 0 ] && [ "$ok" = "$macsec" ] && [ "$saks" -gt 0 ] && [ "$icmp" -gt 0 ]; then
        echo "check-live: $label: ok: $summary, $icmp ICMP frames in the decrypted capture"
        pass=$((pass + 1))
    else
        echo "check-live: $label: FAILED: $out, $icmp ICMP frames"; fail=$((fail + 1)); return
    fi
    # Another CAK of the same length: every MKPDU fails its ICV, no SAK, every frame fails (exit 1).
    local rc=0 wrong; wrong=$(tr 0-9a-f 1-9a-f0 <<<"$cak")
    out=$("$CTL" pcap-decrypt --ckn "$ckn" --cak "$wrong" "$pcap" "$WORK/$label.wrong.pcap" 2>/dev/null) || rc=$?
    if [ "$rc" = 1 ] && [ "$(jq '.ok' <<<"$out")" = 0 ] && [ "$(jq '.mka.saks' <<<"$out")" = 0 ]; then
        echo "check-live: $label: ok: a wrong CAK learns nothing and fails every frame (exit 1)"
        pass=$((pass + 1))
    else
        echo "check-live: $label: FAILED: a wrong CAK gave exit $rc: $out"; fail=$((fail + 1))
    fi
}

if [ "${MKA:-1}" = 1 ]; then
    # The lab key of ../shared/peer (demo.sh mka default): 256-bit CAK, wpa_supplicant distributes GCM-AES-128.
    LAB_CKN=6d61637365632d706565722d746573742d636b6e
    LAB_CAK=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    mka_case mka-cak256 "$LAB_CKN" "$LAB_CAK" --cak "$LAB_CAK"
    CAK128=000102030405060708090a0b0c0d0e0f
    (umask 077; echo "$CAK128" > "$WORK/cak128")
    mka_case mka-cak128-integ-only 0102 "$CAK128" --cak-file "$WORK/cak128" --integrity-only \
        -- --cak "$CAK128" --ckn 0102 --integ-only 1
fi
echo "check-live: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
