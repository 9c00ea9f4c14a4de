#!/bin/bash
# LAG end to end: two appliances joined by a 2-member LAG (two veth pairs), MKA (XPN-256) on
# every member with the LAG's keychain. Checks: both members secured with their own SCIs;
# several flows use both members; a member's link going down moves its flows to the other
# member, which keeps its SAs; the member comes back and re-secures; a CAK rotation on the LAG
# id is hitless on both members (by the counters); unequal member speeds are refused.
# Bounded in time; cleans up its namespaces and processes (deploy/lib/lab.sh, by pid).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
source deploy/lib/lab.sh
cargo build -q --release -p macsec-dataplane -p macsec-control
BIN="$ROOT/target/release/macsec-dataplane"; CBIN="$ROOT/target/release/macsec-control"
LAB_CTL="$ROOT/target/release/macsecctl"
LAG=dxlag-lab
CKN1=$(printf 'a1%.0s' $(seq 32)); CAK1=$(printf '1b%.0s' $(seq 32))
CKN2=$(printf 'a2%.0s' $(seq 32)); CAK2=$(printf '2c%.0s' $(seq 32))
lab_checks lag-e2e
trap 'lab_down 2>/dev/null || true' EXIT INT TERM

# The lab of deploy/lib/lab.sh with three wire veth pairs a_wireM ══ b_wireM (M = 0, 1, 2); the
# LAG starts with members 0 and 1, member 2 is added later.
lag_up() {
    lab_up
    ip -n "$(lab_ns dA)" link del a_wire
    local m
    for m in 0 1 2; do
        ip link add "a_wire$m" netns "$(lab_ns dA)" address "02:00:00:00:0$m:0a" mtu 1600 type veth \
            peer name "b_wire$m" netns "$(lab_ns dB)" address "02:00:00:00:0$m:0b" mtu 1600
        ip -n "$(lab_ns dA)" link set "a_wire$m" up
        ip -n "$(lab_ns dB)" link set "b_wire$m" up
    done
}

# lag_config SIDE PRIO [SPEED1]: a LAG connection over $MEMBERS wire pairs; the host port has
# one queue pair per member.
MEMBERS=2
lag_config() {
    local side=$1 l=${1,,} f="$LAB_DIR/$1.toml" third=""
    [ "$MEMBERS" = 3 ] && third="{ device = \"net_af_packet3,iface=${l}_wire2,framecnt=4096\", speed_gbps = 10 },"
    { lab_config_head "$side" "$([ "$side" = A ] && echo 0@0,1@1 || echo 0@1,1@0)"; cat <<CONF
[[connections]]
id = "$LAG"
host_port = "net_af_packet0,iface=${l}_host,qpairs=$MEMBERS,framecnt=4096"
wire_ports = [
  { device = "net_af_packet1,iface=${l}_wire0,framecnt=4096", speed_gbps = 10 },
  { device = "net_af_packet2,iface=${l}_wire1,framecnt=4096", speed_gbps = ${3:-10} },
  $third
]
cipher_suite = "gcm-aes-xpn-256"
encryption_mode = "must_encrypt"
key_source = "control"
key_server_priority = $2
CONF
    } > "$f"
    echo "$f"
}

describe() { lab_ctl "$1" describe-connections; }
members_up() { # SIDE: every member reports Encryption Up
    [ "$(describe "$1" | jq '[.connections[0].members[] | select(.portEncryptionStatus == "Encryption Up")] | length')" = "$MEMBERS" ]
}
wait_members_up() { local i; for i in $(seq $(( $2 * 5 ))); do members_up "$1" && return 0; sleep 0.2; done; return 1; }
encrypted() { metric macsec_tx_sc_out_pkts_encrypted_total "$1" "member=\"$2\""; }
# SECONDS ARGS... -> the client's JSON, whatever its exit status: the checks on it say what failed.
iperf_flows() { lab_iperf_or_why 5202 "$@"; }
key_in_use() { # SIDE CKN: the key carries traffic on both members
    describe "$1" | jq -e --arg c "$2" '.connections[0].macSecKeys[] | select(.ckn == $c and .inUse)' >/dev/null &&
        members_up "$1"
}
wait_key() { local i; for i in $(seq 150); do key_in_use "$1" "$2" && return 0; sleep 0.2; done; return 1; }

echo "lag-e2e: --- config: unequal member speeds are refused"
lag_up
out=$("$BIN" --config "$(lag_config A 16 100)" --check-config 2>&1) && rc=0 || rc=$?
check "unequal LAG members refused with exit 2 naming the member: $out" \
    eval '[ "$rc" = 2 ] && grep -q "wire_ports\[1\].speed_gbps = 100: expected 10 Gbps like wire_ports\[0\]" <<<"$out"'

echo "lag-e2e: --- two appliances over a 2-member LAG, MKA on every member"
CFG_A=$(lag_config A 16); CFG_B=$(lag_config B 32)
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"
# One command per side enables MACsec on the whole LAG.
lab_ctl A associate-mac-sec-key --connection-id "$LAG" --ckn "$CKN1" --cak "$CAK1" >/dev/null
lab_ctl B associate-mac-sec-key --connection-id "$LAG" --ckn "$CKN1" --cak "$CAK1" >/dev/null
check "MKA secured on both members of both appliances" eval 'wait_members_up A 40 && wait_members_up B 40'
d=$(describe A)
echo "      $(jq -c '.connections[0] | {lagId, numberOfConnections, portEncryptionStatus, members: [.members[] | {member, sci, portEncryptionStatus, an, kn}]}' <<<"$d")"
check "describe-connections shows the LAG id and its 2 members" \
    test "$(jq -r '.connections[0] | "\(.lagId) \(.numberOfConnections) \(.members | length)"' <<<"$d")" = "$LAG 2 2"
check "each member has its own SCI" test "$(jq '[.connections[0].members[].sci] | unique | length' <<<"$d")" = 2
# The dataplane refreshes its member gauges on its drain tick, so the first
# scrape after MKA came up may still show the member inactive: wait up to 5 s.
member_active() { lab_metrics A | grep -q "macsec_lag_member_active{connection=\"$LAG\",member=\"$1\"} 1"; }
wait_member_active() { local i; for i in $(seq 25); do member_active "$1" && return 0; sleep 0.2; done; return 1; }
check "the dataplane metrics carry a member label" wait_member_active 1
check "ping across the LAG" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2

echo "lag-e2e: --- several flows use both members"
e0=$(encrypted A 0); e1=$(encrypted A 1)
j=$(iperf_flows 4 -P 16 -b 20M)
check "iperf3 with 16 flows completed" test "$(jq '.end.sum_received.bytes > 0' <<<"$j")" = true
sleep 1.5
d0=$(( $(encrypted A 0) - e0 )); d1=$(( $(encrypted A 1) - e1 ))
echo "      A encrypted $d0 frames on member 0 and $d1 on member 1"
check "both members carried flows (each > 10% of the frames)" eval '[ $(( d0 * 10 )) -gt $(( d0 + d1 )) ] && [ $(( d1 * 10 )) -gt $(( d0 + d1 )) ]'

echo "lag-e2e: --- member 1's link goes down: its flows move, member 0 keeps its SAs"
m0_before=$(describe A | jq -c '.connections[0].members[0] | {an, kn, sci}')
ip -n "$(lab_ns dA)" link set a_wire1 down
active() { # SIDE MEMBER VALUE: polls up to 5 s for macsec_lag_member_active to read VALUE
    local i
    for i in $(seq 25); do
        lab_metrics "$1" | grep -q "macsec_lag_member_active{connection=\"$LAG\",member=\"$2\"} $3" && return 0
        sleep 0.2
    done
    return 1
}
check "A takes member 1 out of the LAG" active A 1 0
check "B takes member 1 out too (no carrier)" active B 1 0
check "the dataplane logs why" grep -q "member 1 (net_af_packet2,iface=a_wire1,framecnt=4096): link down" "$LAB_DIR/A.err"
sleep 1.5
e0=$(encrypted A 0); e1=$(encrypted A 1)
j=$(iperf_flows 3 -P 16 -b 20M)
check "iperf3 with 16 flows completed on one member" test "$(jq '.end.sum_received.bytes > 0' <<<"$j")" = true
sleep 1.5
d0=$(( $(encrypted A 0) - e0 )); d1=$(( $(encrypted A 1) - e1 ))
echo "      A encrypted $d0 frames on member 0 and $d1 on member 1"
check "all flows moved to member 0" eval '[ "$d1" -eq 0 ] && [ "$d0" -gt 1000 ]'
check "member 0 kept its SAs (same SCI, AN and KN)" test "$(describe A | jq -c '.connections[0].members[0] | {an, kn, sci}')" = "$m0_before"
check "ping across the remaining member" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2

echo "lag-e2e: --- member 1 comes back and re-secures"
ip -n "$(lab_ns dA)" link set a_wire1 up
check "both members secured again" eval 'wait_members_up A 40 && wait_members_up B 40'
check "member 1 carries traffic again" active A 1 1

echo "lag-e2e: --- CAK rotation on the LAG id during traffic: hitless on both members"
sleep 1.5
err_a=$(lab_rx_errors A); err_b=$(lab_rx_errors B); tx0=$(metric macsec_tx_sc_out_pkts_encrypted_total A); ok0=$(metric macsec_rx_sa_in_pkts_ok_total B)
drops0=$(( $(metric macsec_port_rx_dropped_total B 'port="wire"') + $(metric macsec_policy_drops_total A) ))
udp_mark=$(lab_udp_path_mark)
IPERF_OUT="$LAB_DIR/rotate.json"
# Once only: a second run would not carry the rotation, and the datagrams lost come from the server.
lab_iperf_once 5202 14 -u -P 8 -b 2M -l 1000 > "$IPERF_OUT" &
traffic=$!
sleep 2
lab_ctl A associate-mac-sec-key --connection-id "$LAG" --ckn "$CKN2" --cak "$CAK2" >/dev/null
lab_ctl B associate-mac-sec-key --connection-id "$LAG" --ckn "$CKN2" --cak "$CAK2" >/dev/null
check "the new key carries traffic on both members of both sides" eval 'wait_key A "$CKN2" && wait_key B "$CKN2"'
lab_ctl A disassociate-mac-sec-key --connection-id "$LAG" --ckn "$CKN1" >/dev/null
lab_ctl B disassociate-mac-sec-key --connection-id "$LAG" --ckn "$CKN1" >/dev/null
wait "$traffic" || true
sleep 1.5
lost=$(jq '[.end.streams[].udp.lost_packets] | add' "$IPERF_OUT" 2>/dev/null || echo missing)
tx=$(( $(metric macsec_tx_sc_out_pkts_encrypted_total A) - tx0 )); okb=$(( $(metric macsec_rx_sa_in_pkts_ok_total B) - ok0 ))
drops=$(( $(metric macsec_port_rx_dropped_total B 'port="wire"') + $(metric macsec_policy_drops_total A) - drops0 ))
echo "      A encrypted $tx, B validated OK $okb, drops $drops"
lab_check_udp_path "zero UDP datagrams lost on the path across the rotation" "$lost" "$udp_mark"
check "every frame A encrypted was validated OK by B, nothing dropped" eval '[ "$tx" -gt 0 ] && [ "$tx" = "$okb" ] && [ "$drops" = 0 ]'
check "zero NotValid/NotUsingSA/UnusedSA/Late/Invalid during the rotation" eval '[ "$(lab_rx_errors A)" = "$err_a" ] && [ "$(lab_rx_errors B)" = "$err_b" ]'
check "only the new key is left, on both members" \
    test "$(describe A | jq -r '[.connections[0].macSecKeys[].ckn] | join(",")') $(describe A | jq -r .connections[0].portEncryptionStatus)" = "$CKN2 Encryption Up"

echo "lag-e2e: --- a member added to the LAG gets the LAG's keys"
for side in A B; do
    eval "cpid=\$LAB_CPID_$side"; kill -TERM "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
    lab_stop "$side"
done
MEMBERS=3
CFG_A=$(lag_config A 16); CFG_B=$(lag_config B 32)
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"
check "all 3 members secured from the stored LAG key, nothing re-associated" eval 'wait_members_up A 40 && wait_members_up B 40'
check "the new member uses the LAG's key" \
    test "$(describe A | jq -r '.connections[0] | "\(.numberOfConnections) \([.macSecKeys[] | select(.inUse) | .ckn] | join(","))"')" = "3 $CKN2"
check "ping across the 3-member LAG" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2

lab_down
trap - EXIT
echo "lag-e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
