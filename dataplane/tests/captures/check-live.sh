#!/bin/bash
# Interop check against a real MACsec implementation: for each cipher suite, the peer harness
# (../shared/peer: Linux kernel macsec in two qemu VMs, static SAK) pings across MACsec while
# tcpdump captures the wire; then `macsecctl pcap-decrypt` must validate every MACsec frame of
# that capture and find the pings inside. Bounded in time; the harness removes its VMs and netns.
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
CTL="$ROOT/target/debug/macsecctl"
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
echo "check-live: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
