#!/bin/bash
# `make demo`, at the project's current stage: a real MACsec link (two Linux-kernel MACsec peers
# in qemu VMs, from ../shared/peer, GCM-AES-XPN-256 with a static lab SAK) is captured on the
# wire, and our SecY (`macsecctl pcap-decrypt`) validates and decrypts every frame of it.
# The two-appliance demo (our dataplanes + MKA back to back) replaces this once the dataplane
# runtime and MKA land. Cleans up what it started on success, failure and Ctrl-C.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PEER="${MACSEC_PEER_DIR:-$ROOT/../shared/peer}"
SUITE=gcm-aes-xpn-256
SAK=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f   # lab key of the peer harness
SALT=0c0d0e0f1011121314151617
[ -x "$PEER/demo.sh" ] || { echo "demo: peer harness not found at $PEER (set MACSEC_PEER_DIR)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/macsec-demo.XXXXXX)
cleanup() { "$PEER/demo.sh" cleanup >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM
step() { printf '\n==> %s\n' "$*"; }

step "building macsecctl (release)"
cd "$ROOT" && cargo build -q --release -p macsec-control --bin macsecctl
CTL="$ROOT/target/release/macsecctl"

step "booting two Linux MACsec peers ($SUITE, static SAK) and capturing their wire"
"$PEER/build.sh" >/dev/null
"$PEER/demo.sh" static "$SUITE" --pcap "$WORK/wire.pcap" 2>&1 | grep -E "launched|capture:|macsec|secured|ping|rx|tx" | head -30 || true

step "what the wire carried (tshark)"
tshark -r "$WORK/wire.pcap" -q -z io,phs 2>/dev/null | sed -n '/eth/,/====/p' | head -12
tshark -r "$WORK/wire.pcap" -c 4 2>/dev/null || true

step "our SecY validates and decrypts the capture"
set +e
summary=$("$CTL" pcap-decrypt --sak "$SAK" --cipher-suite "$SUITE" \
    --ssci 52540000000a0001=1 --ssci 52540000000b0001=2 --salt "$SALT" "$WORK/wire.pcap" "$WORK/plain.pcap")
rc=$?
set -e
echo "$summary"
tshark -r "$WORK/plain.pcap" -Y icmp -c 6 2>/dev/null || true

macsec=$(jq .macsec <<<"$summary"); ok=$(jq .ok <<<"$summary")
icmp=$(tshark -r "$WORK/plain.pcap" -Y icmp 2>/dev/null | wc -l)
echo
if [ "$rc" -eq 0 ] && [ "$macsec" -gt 0 ] && [ "$ok" = "$macsec" ] && [ "$icmp" -gt 0 ]; then
    echo "demo: PASS: $ok/$macsec MACsec frames ($SUITE) from Linux macsec validated and decrypted by our SecY, $icmp ICMP frames inside"
else
    echo "demo: FAIL: $summary, $icmp ICMP frames (pcap-decrypt exit $rc)"
    exit 1
fi
