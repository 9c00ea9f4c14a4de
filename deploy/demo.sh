#!/bin/bash
# `make demo`: two appliances back to back.
#
#   host A ── [appliance A: macsec-dataplane + macsec-control] ══ wire ══ [appliance B] ── host B
#
# Each appliance is our DPDK dataplane (net_af_packet on veths, --no-huge) and our MKA daemon in
# its own network namespace; the hosts are namespaces with IPs. MKA with a lab CKN/CAK brings
# GCM-AES-XPN-256 up, then: ping, iperf3, a capture of the wire shown by tshark (only MACsec and
# EAPOL), a SAK rekey and a CAK rotation during traffic with zero lost frames by the counters, a
# status table. Cleans up on success, failure and Ctrl-C; exits 0 only if every check passed.
#
#   deploy/demo.sh [--quick]    --quick: 8 s of iperf3 instead of 15 s (the test suite runs this)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IPERF_SECS=15; [ "${1:-}" = --quick ] && IPERF_SECS=8
SUITE=gcm-aes-xpn-256
# Lab keys only: 64 hex digits each, as AWS Direct Connect requires.
CKN1=6c61622d636b6e2d6f6e652d000000000000000000000000000000000000000a
CAK1=8b5b4c3d2e1f00112233445566778899aabbccddeeff00112233445566778899
CKN2=6c61622d636b6e2d74776f2d000000000000000000000000000000000000000b
CAK2=1f2e3d4c5b6a79880102030405060708090a0b0c0d0e0f101112131415161718
cd "$ROOT"
source deploy/lib/lab.sh
LAB_CTL="$ROOT/target/release/macsecctl"
BIN="$ROOT/target/release/macsec-dataplane"; CBIN="$ROOT/target/release/macsec-control"

pass=0; fail=0; T0=$(date +%s)
step() { printf '\n\033[1m==> %s\033[0m  (%ss)\n' "$*" $(( $(date +%s) - T0 )); }
ok() { printf '    \033[32mok\033[0m  %s\n' "$*"; pass=$((pass + 1)); }
bad() { printf '    \033[31mFAILED\033[0m  %s\n' "$*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() {
    local rc=$?
    lab_down 2>/dev/null || true
    if [ "$fail" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$pass" -gt 0 ]; then
        printf '\ndemo: PASS: %d checks passed in %ss (two appliances, MKA %s, rekey and CAK rotation hitless)\n' "$pass" $(( $(date +%s) - T0 )) "$SUITE"
    else
        printf '\ndemo: FAIL: %d passed, %d failed (exit %d)\n' "$pass" "$fail" "$rc"
        [ "$rc" -eq 0 ] && exit 1
    fi
}
trap finish EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM


step "building the appliance (release)"
cargo build -q --release -p macsec-dataplane -p macsec-control

step "network: host A, appliance A, wire (veth), appliance B, host B in their own namespaces"
lab_up
CFG_A=$(lab_config A "$SUITE" must_encrypt 1 "0@0,1@1" control)
CFG_B=$(LAB_PRIO=32 lab_config B "$SUITE" must_encrypt 1 "0@1,1@0" control)
echo "    configs: $CFG_A $CFG_B"

step "starting both dataplanes (DPDK, net_af_packet, --no-huge) and MKA daemons"
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"
check "must_encrypt before MKA is up: host A cannot reach host B" eval '! ip netns exec "$(lab_ns hA)" ping -c 2 -i 0.2 -W 1 -q 10.77.0.2 >/dev/null 2>&1'
# Every MKPDU from here on, so that the key audit at the end knows every SAK distributed. On
# B's side of the wire: af_packet sends bypass the kernel's taps, so a capture sees what a port
# receives (A is the key server; its Distributed SAKs arrive at B).
ip netns exec "$(lab_ns dB)" tcpdump -i b_wire -U -w "$LAB_DIR/mka.pcap" ether proto 0x888e 2>/dev/null & MKACAP=$!; LAB_PIDS+=($MKACAP)

step "associating the lab CKN/CAK on both appliances (macsecctl associate-mac-sec-key)"
lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN1" --cak "${CAK1:0:63}" > "$LAB_DIR/bad-input.txt" 2>&1 || true
check "a 63-digit CAK is refused: $(cat "$LAB_DIR/bad-input.txt")" grep -q "cak: expected 64 hex digits" "$LAB_DIR/bad-input.txt"
lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN1" --cak "$CAK1" | jq -c .
lab_ctl B associate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN1" --cak "$CAK1" | jq -c .
printf '    waiting for MKA'
for i in $(seq 100); do
    if lab_ctl A describe-connections | grep -q '"Encryption Up"' && lab_ctl B describe-connections | grep -q '"Encryption Up"'; then break; fi
    printf '.'; sleep 0.2
done; echo
check "MKA secured on both appliances (Encryption Up)" eval 'lab_wait_up A 1 && lab_wait_up B 1'
check "host A pings host B through MACsec" ip netns exec "$(lab_ns hA)" ping -c 5 -i 0.2 -W 2 -q 10.77.0.2

step "traffic: iperf3 ${IPERF_SECS}s; during it a SAK rekey and a CAK rotation; capturing the wire"
ip netns exec "$(lab_ns dA)" tcpdump -i a_wire -U -w "$LAB_DIR/wire.pcap" 2>/dev/null & CAP=$!; LAB_PIDS+=($CAP); sleep 1
# The iperf3 server is one of our pids (not a daemon), so lab_down stops it on any exit.
ip netns exec "$(lab_ns hB)" iperf3 -s -1 -p 5201 >/dev/null 2>&1 & LAB_PIDS+=($!); sleep 0.5
WIRE_BYTES0_A=$(metric macsec_port_tx_bytes_total A 'port="wire"'); WIRE_BYTES0_B=$(metric macsec_port_tx_bytes_total B 'port="wire"')
T_IPERF=$(date +%s.%N)
ip netns exec "$(lab_ns hA)" iperf3 -c 10.77.0.2 -p 5201 -t "$IPERF_SECS" -b 1G -J > "$LAB_DIR/iperf.json" & IPERF=$!
LAB_PIDS+=($IPERF)
sleep 1
echo "    SAK rekey: macsecctl rekey --connection-id dxcon-laba"
lab_ctl A rekey --connection-id dxcon-laba | jq -c .
sleep 1
echo "    CAK rotation: associate a second CKN/CAK on both, wait until it carries traffic, disassociate the first"
lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN2" --cak "$CAK2" | jq -c .
lab_ctl B associate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN2" --cak "$CAK2" | jq -c .
for i in $(seq 100); do
    lab_ctl A describe-connections | jq -e --arg c "$CKN2" '.connections[0].macSecKeys[] | select(.ckn == $c and .inUse)' >/dev/null 2>&1 &&
    lab_ctl B describe-connections | jq -e --arg c "$CKN2" '.connections[0].macSecKeys[] | select(.ckn == $c and .inUse)' >/dev/null 2>&1 && break
    sleep 0.1
done
check "the new key carries traffic on both sides" eval 'lab_ctl A describe-connections | jq -e --arg c "$CKN2" ".connections[0].macSecKeys[] | select(.ckn == \$c and .inUse)" >/dev/null'
lab_ctl A disassociate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN1" | jq -c .
lab_ctl B disassociate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN1" | jq -c .
echo "    rotation done at $(( $(date +%s) - T0 ))s; iperf3 goes on with the new key"
wait "$IPERF" || true
sleep 1.2 # counters are exported on the drain tick
IPERF_WALL=$(awk -v a="$(date +%s.%N)" -v b="$T_IPERF" 'BEGIN { print a - b - 1.2 }')
wire_gbps() { awk -v n="$(metric macsec_port_tx_bytes_total "$1" 'port="wire"')" -v b="$2" -v t="$IPERF_WALL" 'BEGIN { printf "%.2f", (n - b) * 8 / t / 1e9 }'; }
WIRE_GBPS_A=$(wire_gbps A "$WIRE_BYTES0_A"); WIRE_GBPS_B=$(wire_gbps B "$WIRE_BYTES0_B")
# A few frames at a low rate with the new key (tcpdump drops part of the capture at full rate).
ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 1 -q 10.77.0.2 >/dev/null 2>&1 || true
sleep 0.5; kill -INT "$CAP" 2>/dev/null || true; wait "$CAP" 2>/dev/null || true
GBPS=$(jq '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100' "$LAB_DIR/iperf.json")
RETR=$(jq '.end.sum_sent.retransmits' "$LAB_DIR/iperf.json")
check "iperf3: ${GBPS} Gbit/s over MACsec, ${RETR} TCP retransmissions" test "$(jq '.end.sum_received.bytes > 0' "$LAB_DIR/iperf.json")" = true

step "the wire, as tshark sees it"
tshark -r "$LAB_DIR/wire.pcap" -q -z io,phs 2>/dev/null | sed -n '/^eth/,/^=/p' | head -8
tshark -r "$LAB_DIR/wire.pcap" -Y eapol -c 2 2>/dev/null | sed 's/^/    /'
tshark -r "$LAB_DIR/wire.pcap" -Y macsec -c 3 2>/dev/null | sed 's/^/    /'
CLEAR=$(tshark -r "$LAB_DIR/wire.pcap" -Y '!(eth.type == 0x88e5) && !(eth.type == 0x888e)' 2>/dev/null | wc -l)
check "the wire holds only MACsec and EAPOL frames ($CLEAR others)" test "$CLEAR" -eq 0
# The AN sequence of B's frames (received at A): each change is a new SA (rekey, CAK switch).
ANS=$(tshark -r "$LAB_DIR/wire.pcap" -Y macsec -T fields -e macsec.AN 2>/dev/null | uniq | tr '\n' ' ')
check "SAs changed on the wire during traffic (AN sequence: $ANS)" test "$(wc -w <<<"$ANS")" -ge 3

step "counters: zero lost frames"
sleep 1.5
for pair in "A B" "B A"; do
    set -- $pair
    tx=$(metric macsec_tx_sc_out_pkts_encrypted_total "$1"); rx=$(metric macsec_rx_sa_in_pkts_ok_total "$2")
    check "$1 encrypted $tx frames, $2 validated $rx of them OK" test "$tx" -eq "$rx" -a "$tx" -gt 0
done
for s in A B; do
    check "appliance $s: zero NotValid/NotUsingSA/UnusedSA/Invalid/Late" test "$(lab_rx_errors $s)" -eq 0
done
REKEYS=$(metric macsec_rekeys_total A 'reason="control"')
check "Tx SAs switched by appliance A: $REKEYS (session start, rekey, CAK rotation)" test "$REKEYS" -ge 3

step "status"
row() { printf '    %-9s %-15s %-16s %-22s %-6s %-12s %-12s %-9s %s\n' "$@"; }
row appliance encryption "cipher suite" "key server" AN/KN "tx next PN" "rx next PN" "wire Gb/s" metrics
for s in A B; do
    d=$(lab_ctl $s describe-connections); st=$(lab_status $s)
    gbps=$([ $s = A ] && echo "$WIRE_GBPS_A" || echo "$WIRE_GBPS_B")
    enc=$(jq -r '.connections[0].portEncryptionStatus' <<<"$d"); suite=$(jq -r '.connections[0].cipherSuite' <<<"$d")
    ks=$(jq -r '.connections[0].keyServerSci + (if .connections[0].keyServer then " (us)" else "" end)' <<<"$d")
    ankn=$(jq -r '"\(.connections[0].an)/\(.connections[0].kn)"' <<<"$d")
    txpn=$(jq -r '.secys[0].tx_sa.next_pn' <<<"$st")
    rxpn=$(jq -r '[.secys[0].rx_scs[].sas[] | select(.installed) | .next_pn] | max' <<<"$st")
    row "$s" "$enc" "$suite" "$ks" "$ankn" "$txpn" "$rxpn" "$gbps" "http://127.0.0.1:9464/metrics (netns $(lab_ns d$s))"
    check "appliance $s status: Encryption Up, $SUITE, a key server, AN/KN and PNs set" \
        eval '[ "$enc" = "Encryption Up" ] && [ "$suite" = "$SUITE" ] && [ -n "${ks// /}" ] && [[ "$ankn" =~ ^[0-3]/[0-9]+$ ]] && [ "$txpn" -gt 1 ] && [ "$rxpn" -gt 1 ]'
done
echo "    iperf3: ${GBPS} Gbit/s host to host (paced at 1 Gbit/s; two busy-polling dataplanes share this machine's CPUs)"
echo
echo "    macsecctl status on appliance A:"
lab_ctl A status --table | sed 's/^/      /' || true
echo "    a few metrics of appliance A:"
lab_metrics A | grep -E '^macsec_(encryption_up|tx_sa_next_pn|tx_sa_pn_exhaustion_ratio|rekeys_total|port_tx_packets_total)' | sed 's/^/      /' | head -8

step "key hygiene: no key byte in any log, metric, describe/status output or error message"
for side in A B; do
    lab_ctl $side describe-connections > "$LAB_DIR/describe-$side.json"
    lab_ctl $side status --json > "$LAB_DIR/status-$side.json"
    lab_metrics $side > "$LAB_DIR/metrics-$side.txt"; lab_mka_metrics $side > "$LAB_DIR/mka-metrics-$side.txt"
    lab_status $side > "$LAB_DIR/dp-status-$side.json"
done
sleep 0.3; kill -INT "$MKACAP" 2>/dev/null || true; wait "$MKACAP" 2>/dev/null || true
AUDIT=$("$LAB_CTL" audit-keys --ckn "$CKN1" --cak "$CAK1" --ckn "$CKN2" --cak "$CAK2" --pcap "$LAB_DIR/mka.pcap" \
    "$LAB_DIR"/describe-*.json "$LAB_DIR"/status-*.json "$LAB_DIR"/metrics-*.txt "$LAB_DIR"/mka-metrics-*.txt \
    "$LAB_DIR"/dp-status-*.json "$LAB_DIR"/*.err "$LAB_DIR"/*.out "$LAB_DIR/bad-input.txt" "$LAB_DIR"/*.toml \
    "$LAB_DIR"/*.store/keystore.json) || true
echo "    macsecctl audit-keys: $(jq -c '{files, keys, saks, found: (.found | length)}' <<<"$AUDIT" 2>/dev/null || echo "$AUDIT")"
check "no CAK, ICK, KEK or SAK (hex or raw) in $(jq .files <<<"$AUDIT" 2>/dev/null) files; $(jq .saks <<<"$AUDIT" 2>/dev/null) SAKs checked" \
    eval '[ "$(jq ".found | length" <<<"$AUDIT")" = 0 ] && [ "$(jq .saks <<<"$AUDIT")" -ge 3 ]'
