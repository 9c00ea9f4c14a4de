#!/bin/bash
# Faults with traffic and counters as evidence (two appliances, deploy/lib/lab.sh): a SA that
# reaches its PN threshold is replaced before it wraps with zero loss; a wire link flap shorter
# than the MKA life time keeps the session; after one-way MKPDU loss that made the peer drop the
# session, a new SAK secures both again; a silent peer under should_encrypt falls back to
# clear; a full disk and an unreadable key store give clear errors and keep the running keys;
# both daemons run non-dumpable with their memory locked. Bounded; cleans up by pid and netns.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
source deploy/lib/lab.sh
cargo build -q --release -p macsec-dataplane -p macsec-control
BIN="$ROOT/target/release/macsec-dataplane"; CBIN="$ROOT/target/release/macsec-control"
LAB_CTL="$ROOT/target/release/macsecctl"
CKN=$(printf 'f1%.0s' $(seq 32)); CAK=$(printf '3c%.0s' $(seq 32))
CKN2=$(printf 'f2%.0s' $(seq 32)); CAK2=$(printf '4d%.0s' $(seq 32))
PN_THRESHOLD=3000
lab_checks faults-e2e
STORE_MNT=""
cleanup() {
    [ -n "$STORE_MNT" ] && umount "$STORE_MNT" 2>/dev/null || true
    lab_down 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ping_ok() { ip netns exec "$(lab_ns hA)" ping -c "${1:-3}" -i "${2:-0.2}" -W 2 -q 10.77.0.2 >/dev/null; }
# traffic_ok COUNT: ping_ok, and on failure both sides' SAs and counters.
traffic_ok() { ping_ok "$1" || { lab_report A B; return 1; }; }

# GCM-AES-256 (32-bit PNs) with a PN threshold low enough to cross many times in a test.
lab_up
# The key store of A lives on a 256 KiB tmpfs so that the test can fill it.
STORE_MNT="$LAB_DIR/A.store"; mkdir -p "$STORE_MNT"; mount -t tmpfs -o size=256k,mode=0700 tmpfs "$STORE_MNT"
# A's wire port sends through the kernel's qdisc (not bypassing it), so that tc can drop A's
# MKPDUs one way.
CFG_A=$(LAB_WIRE_ARGS=",qdisc_bypass=0" lab_config A gcm-aes-256 must_encrypt 1 "0@0,1@1" control)
CFG_B=$(LAB_PRIO=32 lab_config B gcm-aes-256 must_encrypt 1 "0@1,1@0" control)
for f in "$CFG_A" "$CFG_B"; do echo "pn_threshold = $PN_THRESHOLD" >> "$f"; done
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"
lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "$CAK" >/dev/null
lab_ctl B associate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN" --cak "$CAK" >/dev/null
check "MKA secured on both" eval 'lab_wait_up A 30 && lab_wait_up B 30'

echo "faults-e2e: --- both daemons are hardened"
for p in "$LAB_PID_A" "$LAB_CPID_A"; do
    lck=$(awk '/^VmLck:/ {print $2}' "/proc/$p/status")
    check "pid $p ($(cat /proc/$p/comm)) has its memory locked (VmLck ${lck} kB)" test "${lck:-0}" -gt 0
done
check "both log that they are non-dumpable with memory locked" \
    eval 'grep -q "non-dumpable: yes, memory locked (no swap): yes" "$LAB_DIR/A.err" && grep -q "non-dumpable: yes, memory locked (no swap): yes" "$LAB_DIR/A.ctl.err"'

echo "faults-e2e: --- a SA reaches its PN threshold ($PN_THRESHOLD): replaced before it wraps, zero loss"
sleep 1.5
e_a=$(lab_rx_errors A); e_b=$(lab_rx_errors B); tx0=$(metric macsec_tx_sc_out_pkts_encrypted_total A); ok0=$(metric macsec_rx_sa_in_pkts_ok_total B)
out=$(ip netns exec "$(lab_ns hA)" ping -c 4000 -i 0.002 -W 2 -q 10.77.0.2 2>&1 | grep "packet loss" || true)
sleep 1.5
req=$(metric macsec_rekeys_total A 'reason="pn_threshold"'); req_b=$(metric macsec_rekeys_total B 'reason="pn_threshold"')
tx=$(( $(metric macsec_tx_sc_out_pkts_encrypted_total A) - tx0 )); okb=$(( $(metric macsec_rx_sa_in_pkts_ok_total B) - ok0 ))
maxpn=$(lab_status A | jq '.secys[0].tx_sa.next_pn')
echo "      ping: $out; PN threshold requests A $req, B $req_b; A encrypted $tx, B validated $okb; A's next PN now $maxpn"
check "the dataplanes asked for new SAKs at the threshold" test $(( req + req_b )) -ge 2
check "the Tx SA in use is below threshold + one burst (it was replaced, not run on)" test "$maxpn" -le $(( PN_THRESHOLD + 64 ))
check "no ping lost across the threshold rekeys" grep -q " 0% packet loss" <<<"$out"
check "every frame A encrypted was validated OK by B" test "$tx" -eq "$okb"
check "zero NotValid/NotUsingSA/UnusedSA/Late/Invalid" eval '[ "$(lab_rx_errors A)" = "$e_a" ] && [ "$(lab_rx_errors B)" = "$e_b" ]'

echo "faults-e2e: --- wire link flap (2 s, less than the MKA life time)"
an_before=$(lab_ctl A describe-connections | jq -c '.connections[0] | {an, kn}')
ip -n "$(lab_ns dA)" link set a_wire down; sleep 2; ip -n "$(lab_ns dA)" link set a_wire up
for _ in $(seq 20); do ping_ok 1 0.2 2>/dev/null && break; sleep 0.25; done
check "MKA stayed secured across the flap (both ends)" eval 'lab_secured A && lab_secured B'
check "traffic resumes after the flap" traffic_ok 5
echo "      A's AN/KN before $an_before, after $(lab_ctl A describe-connections | jq -c '.connections[0] | {an, kn}'); B's now $(lab_ctl B describe-connections | jq -c '.connections[0] | {an, kn}')"

echo "faults-e2e: --- one-way loss: A's MKPDUs do not reach B for 8 s, B's reach A"
# tc on A's wire: EAPOL (0x888e) into an HTB class whose TBF leaf passes 8 bit/s with room for one
# frame, everything else at 10 Gbit/s. B lets A expire after the MKA life time and clears its
# SAs; A still hears B, so B stays live to A, which must notice that B lost its keys.
kn_before=$(lab_ctl A describe-connections | jq '.connections[0].kn')
tcA() { ip netns exec "$(lab_ns dA)" tc "$@"; }
tcA qdisc add dev a_wire root handle 1: htb default 1
tcA class add dev a_wire parent 1: classid 1:1 htb rate 10gbit
tcA class add dev a_wire parent 1: classid 1:2 htb rate 8bit ceil 8bit
tcA qdisc add dev a_wire parent 1:2 handle 20: tbf rate 8bit burst 1600 limit 1
tcA filter add dev a_wire parent 1: protocol 0x888e u32 match u32 0 0 classid 1:2
sleep 8
check "B let A expire (Encryption Down) while A's MKPDUs were cut" eval '! lab_secured B'
tcA qdisc del dev a_wire root
for _ in $(seq 40); do lab_secured A && lab_secured B && ping_ok 1 0.2 2>/dev/null && break; sleep 0.25; done
kn_after=$(lab_ctl A describe-connections | jq '.connections[0].kn')
echo "      KN before $kn_before, after $kn_after; A counted $(lab_mka_metrics A | awk '$1 ~ /^macsec_mka_peer_lost_keys_total/ {s += $2} END {print s + 0}') peer(s) that lost their keys"
check "both secured again, on a new SAK" eval 'lab_secured A && lab_secured B && [ "$kn_after" -gt "$kn_before" ]'
check "traffic passes again" traffic_ok 3

echo "faults-e2e: --- full disk under the key store: clear error, running keys kept"
dd if=/dev/zero of="$STORE_MNT/filler" bs=4k count=1000 2>/dev/null || true
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN2" --cak "$CAK2" 2>&1) && bad "associate succeeded on a full disk" || true
echo "      $out"
check "the error says the store could not be written and nothing changed" eval 'grep -qi "no space" <<<"$out" && grep -q "keychain is unchanged" <<<"$out"'
check "the keychain still holds only the running key" test "$(lab_ctl A describe-connections | jq -r '[.connections[0].macSecKeys[].ckn] | join(",")')" = "$CKN"
check "traffic still encrypted and passing" eval 'lab_secured A && traffic_ok 3'
rm -f "$STORE_MNT/filler"

echo "faults-e2e: --- unreadable key store at control restart: clear error, the dataplane keeps its SAs"
cp "$STORE_MNT/keystore.json" "$LAB_DIR/keystore.good"
kill -TERM "$LAB_CPID_A"; T_KILL=$(date +%s); wait "$LAB_CPID_A" 2>/dev/null || true
printf '{ not json' > "$STORE_MNT/keystore.json"
rc=0; out=$(ip netns exec "$(lab_ns dA)" timeout 10 "$CBIN" --config "$CFG_A" 2>&1) || rc=$?
echo "      exit $rc: $(tail -1 <<<"$out")"
check "control refuses to start, naming the key store file" eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "keystore.json" <<<"$out"'
# B's MKA drops A's SAs once A's control has been silent for the MKA life time (6 s), after
# which B can no longer answer; what A's dataplane does is the evidence: its SAs are still
# installed and it sends the pings out encrypted.
sent_before=$(metric macsec_tx_sc_out_pkts_encrypted_total A)
ping_ok 3 || echo "      (no reply $(( $(date +%s) - T_KILL )) s after the stop: B's MKA life time may have passed)"
check "A's dataplane keeps its SAs and sends encrypted ($(( $(date +%s) - T_KILL )) s after the stop)" \
    eval '[ "$(lab_metrics A | awk '"'"'$1 ~ /^macsec_encryption_up/ {print $2}'"'"')" = 1 ] && [ "$(metric macsec_tx_sc_out_pkts_encrypted_total A)" -ge $(( sent_before + 3 )) ]'
cp "$LAB_DIR/keystore.good" "$STORE_MNT/keystore.json"
lab_start_control A "$CBIN" "$CFG_A"
check "with the store restored, control re-secures" lab_wait_up A 30

echo "faults-e2e: --- the peer goes silent under should_encrypt: SAs removed, clear traffic passes"
for s in A B; do lab_ctl $s update-connection --connection-id "dxcon-lab${s,,}" --encryption-mode should_encrypt >/dev/null; done
kill -STOP "$LAB_CPID_B"
sleep 9
check "A reports Encryption Down after the MKA life time" eval '! lab_secured A'
# SIGKILL while stopped: B's control must not wake up and re-secure with A on its way out.
kill -KILL "$LAB_CPID_B"; wait "$LAB_CPID_B" 2>/dev/null || true
# B's dataplane still has its SAs (its control is gone); clear them the way a restarted control
# would, so that both ends fall back to clear.
python3 dataplane/tests/e2e/ctl.py "$LAB_DIR/B.sock" request '{"op":"clear_sas","secy":{"connection":"dxcon-labb","member":0}}' >/dev/null
sleep 0.5
sa_state() { lab_status "$1" | jq -c '.secys[0] | {mode: .encryption_mode, tx: (.tx_sa != null), rx: [.rx_scs[].sas[] | select(.installed) | .an]}'; }
echo "      A: $(sa_state A); B: $(sa_state B)"
check "should_encrypt: hosts talk in clear while MACsec is down" ping_ok 3

umount "$STORE_MNT" 2>/dev/null || true; STORE_MNT=""
lab_down
trap - EXIT
echo "faults-e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
