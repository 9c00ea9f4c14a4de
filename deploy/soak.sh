#!/bin/bash
# `make soak` (not in CI): two appliances (deploy/lib/lab.sh) under UDP and TCP traffic for
# SOAK_MINUTES (default 10) with a SAK rekey every second and a CAK rotation every minute.
# Passes when no frame was lost by the counters (every frame encrypted was validated OK, no
# NotValid/Late/NoSA, no UDP datagram lost on the path: iperf3's count no more than hB's full
# socket buffers dropped, and no drop on A's host port in or B's host port out), memory stayed
# flat (RSS of all four daemons sampled every 10 s: growth after the first minute under 8 MiB
# each) and MKA never flapped (no "encryption down" after the session came up). Cleans up by
# pid and netns on any exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
MINUTES=${SOAK_MINUTES:-10}
SUITE=gcm-aes-xpn-256
source deploy/lib/lab.sh
cargo build -q --release -p macsec-dataplane -p macsec-control
BIN="$ROOT/target/release/macsec-dataplane"; CBIN="$ROOT/target/release/macsec-control"
LAB_CTL="$ROOT/target/release/macsecctl"
lab_checks soak
trap 'lab_down 2>/dev/null || true' EXIT INT TERM
key() { local b; b=$(printf '%02x' "$1"); printf "$b%.0s" $(seq 32); } # 64 hex digits from a number (lab keys only)
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
in_use() { # SIDE CKN
    lab_ctl "$1" describe-connections | jq -e --arg c "$2" '.connections[0].macSecKeys[] | select(.ckn == $c and .inUse)' >/dev/null
}

lab_up
CFG_A=$(lab_config A "$SUITE" must_encrypt 1 "0@0,1@1" control)
CFG_B=$(LAB_PRIO=32 lab_config B "$SUITE" must_encrypt 1 "0@1,1@0" control)
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"
gen=1
for s in A B; do lab_ctl $s associate-mac-sec-key --connection-id "dxcon-lab${s,,}" --ckn "$(key $gen)" --cak "$(key $(( gen + 100 )))" >/dev/null; done
check "MKA secured on both" eval 'lab_wait_up A 30 && lab_wait_up B 30'
PIDS=("$LAB_PID_A" "$LAB_PID_B" "$LAB_CPID_A" "$LAB_CPID_B")
# From here on, a log line saying encryption went down is a flap.
for s in A B; do wc -l < "$LAB_DIR/$s.ctl.err" > "$LAB_DIR/$s.ctl.mark"; done

SECS=$(( MINUTES * 60 ))
udp_mark=$(lab_udp_path_mark)
echo "soak: $MINUTES minute(s): UDP 8 x 2 Mbit/s A->B and a TCP stream, rekey every 1 s, CAK rotation every 60 s"
ip netns exec "$(lab_ns hB)" iperf3 -s -1 -p 5201 >/dev/null 2>&1 & LAB_PIDS+=($!)
ip netns exec "$(lab_ns hB)" iperf3 -s -1 -p 5202 >/dev/null 2>&1 & LAB_PIDS+=($!)
sleep 0.5
ip netns exec "$(lab_ns hA)" iperf3 -c 10.77.0.2 -p 5201 -u -P 8 -b 2M -l 1000 -t "$SECS" -J > "$LAB_DIR/udp.json" & UDP=$!
LAB_PIDS+=($UDP)
ip netns exec "$(lab_ns hA)" iperf3 -c 10.77.0.2 -p 5202 -b 50M -t "$SECS" -J > "$LAB_DIR/tcp.json" & TCP=$!
LAB_PIDS+=($TCP)
T0=$(date +%s); rekeys=0; rotations=0; next_rotation=30; next_sample=0
declare -A RSS0
while [ $(( $(date +%s) - T0 )) -lt "$SECS" ]; do
    t=$(( $(date +%s) - T0 ))
    lab_ctl A rekey --connection-id dxcon-laba >/dev/null 2>&1 && rekeys=$((rekeys + 1)) || true
    if [ "$t" -ge "$next_rotation" ]; then
        next_rotation=$(( next_rotation + 60 ))
        old=$gen; gen=$((gen + 1)); rotations=$((rotations + 1))
        for s in A B; do lab_ctl $s associate-mac-sec-key --connection-id "dxcon-lab${s,,}" --ckn "$(key $gen)" --cak "$(key $(( gen + 100 )))" >/dev/null; done
        for _ in $(seq 150); do in_use A "$(key $gen)" && in_use B "$(key $gen)" && break; sleep 0.2; done
        for s in A B; do lab_ctl $s disassociate-mac-sec-key --connection-id "dxcon-lab${s,,}" --ckn "$(key $old)" >/dev/null; done
        echo "soak: t=${t}s: CAK rotation $rotations done (CKN generation $gen), $rekeys rekeys so far"
    fi
    if [ "$t" -ge "$next_sample" ]; then
        next_sample=$(( next_sample + 10 ))
        line="t=${t}s rss_kb:"
        for p in "${PIDS[@]}"; do
            r=$(rss_kb "$p"); line="$line $r"
            [ "$t" -ge 60 ] && [ -z "${RSS0[$p]:-}" ] && RSS0[$p]=$r
        done
        echo "soak: $line"
    fi
    sleep 1
done
wait "$UDP" || true; wait "$TCP" || true
sleep 1.5

lost=$(jq '[.end.streams[].udp.lost_packets] | add' "$LAB_DIR/udp.json" 2>/dev/null || echo missing)
sent=$(jq '[.end.streams[].udp.packets] | add' "$LAB_DIR/udp.json" 2>/dev/null || echo 0)
echo "soak: $rekeys rekeys, $rotations CAK rotations; UDP: $sent datagrams"
lab_check_udp_path "zero UDP datagrams lost on the path" "$lost" "$udp_mark"
check "the TCP stream ran to the end" test "$(jq '.end.sum_received.bytes > 0' "$LAB_DIR/tcp.json" 2>/dev/null)" = true
for pair in "A B" "B A"; do
    set -- $pair
    tx=$(metric macsec_tx_sc_out_pkts_encrypted_total "$1"); rx=$(metric macsec_rx_sa_in_pkts_ok_total "$2")
    check "$1 encrypted $tx frames, $2 validated all of them OK ($rx)" test "$tx" -eq "$rx" -a "$tx" -gt 0
done
for s in A B; do
    check "appliance $s: zero NotValid/NotUsingSA/UnusedSA/Invalid/Late" test "$(lab_rx_errors $s)" -eq 0
done
check "at least one rekey per 2 s and one CAK rotation per minute" \
    eval '[ "$rekeys" -ge $(( SECS / 2 )) ] && [ "$rotations" -ge $(( MINUTES > 1 ? MINUTES - 1 : 1 )) ]'
for p in "${PIDS[@]}"; do
    now=$(rss_kb "$p"); base=${RSS0[$p]:-$now}
    check "pid $p ($(cat /proc/$p/comm 2>/dev/null)): RSS flat ($base kB after 1 min, $now kB at the end)" test $(( now - base )) -lt 8192
done
for s in A B; do
    flaps=$(tail -n +"$(( $(cat "$LAB_DIR/$s.ctl.mark") + 1 ))" "$LAB_DIR/$s.ctl.err" | grep -c "encryption down" || true)
    check "appliance $s: MKA never flapped (encryption down $flaps times)" test "$flaps" -eq 0
done
lab_down
trap - EXIT
echo "soak: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
