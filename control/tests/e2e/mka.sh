#!/bin/bash
# End-to-end tests of macsec-control with two appliances (deploy/lib/lab.sh): operator input
# errors change nothing, keys never leak, the key store is sealed and 0600, the sockets refuse
# other uids, kill -9 of control keeps traffic encrypted, a dataplane restart is re-secured, a
# silent peer takes the SAs down (must_encrypt then drops), and disassociating the last key of a
# must_encrypt connection makes it should_encrypt (traffic then passes in clear). Bounded;
# cleans up by pid/netns.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
source deploy/lib/lab.sh
cargo build -q --release -p macsec-dataplane -p macsec-control
TGT="${CARGO_TARGET_DIR:-$ROOT/target}/release"
BIN="$TGT/macsec-dataplane"; CBIN="$TGT/macsec-control"; LAB_CTL="$TGT/macsecctl"
CKN=$(printf 'c1%.0s' $(seq 32)); CAK=$(printf '5a%.0s' $(seq 31))77
lab_checks mka-e2e
trap 'lab_down 2>/dev/null || true' EXIT INT TERM

lab_up
CFG_A=$(lab_config A gcm-aes-xpn-256 must_encrypt 1 "0@0,1@1" control)
CFG_B=$(LAB_PRIO=32 lab_config B gcm-aes-xpn-256 must_encrypt 1 "0@1,1@0" control)
lab_start A "$BIN" "$CFG_A"; lab_start B "$BIN" "$CFG_B"
lab_start_control A "$CBIN" "$CFG_A"; lab_start_control B "$CBIN" "$CFG_B"

echo "mka-e2e: --- operator input"
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "${CAK:0:63}" 2>&1) && bad "63-digit CAK accepted" || true
check "63-digit CAK refused, naming the field: $out" grep -q "cak: expected 64 hex digits" <<<"$out"
check "the refused key did not enter the keychain" test "$(lab_ctl A describe-connections | jq '.connections[0].macSecKeys | length')" -eq 0
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-nope --ckn "$CKN" --cak "$CAK" 2>&1) || true
check "unknown connection refused: $out" grep -q "connection-id: no connection" <<<"$out"
lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "$CAK" >/dev/null
lab_ctl B associate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN" --cak "$CAK" >/dev/null
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "$CAK" 2>&1) || true
check "a stored key is immutable (re-associate refused): $out" grep -q "already associated" <<<"$out"
check "MKA secured on both" eval 'lab_wait_up A 30 && lab_wait_up B 30'
check "ping across" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" --cak "$(printf 'zz%.0s' $(seq 32))" 2>&1) && bad "non-hex CAK accepted" || true
check "non-hex CAK refused, naming the field: $out" grep -q "^macsecctl: cak: expected hex digits" <<<"$out"
check "non-hex CAK not echoed" eval '! grep -q zzzz <<<"$out"'
# Keys 2 and 3: CAKs B does not have (newer, never secured: key 1 stays in use), then a 4th.
nkeys() { lab_ctl A describe-connections | jq '.connections[0].macSecKeys | length'; }
for k in c2 c3; do lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$(printf "$k%.0s" $(seq 32))" --cak "$CAK" >/dev/null; done
check "three keys associated" test "$(nkeys)" -eq 3
out=$(lab_ctl A associate-mac-sec-key --connection-id dxcon-laba --ckn "$(printf 'c4%.0s' $(seq 32))" --cak "$CAK" 2>&1) && bad "4th key accepted" || true
check "a 4th key refused: $out" grep -q "already has 3 keys; disassociate one first" <<<"$out"
check "the key count stays 3" test "$(nkeys)" -eq 3
check "the store holds 3 keys" test "$(jq '.keys | length' "$LAB_DIR/A.store/keystore.json")" -eq 3
check "key 1 stays in use while the newer keys never secure" \
    test "$(lab_ctl A describe-connections | jq -r --arg c "$CKN" '.connections[0].macSecKeys[] | select(.ckn == $c) | .inUse')" = true
check "ping across with 3 keys" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2
for k in c2 c3; do lab_ctl A disassociate-mac-sec-key --connection-id dxcon-laba --ckn "$(printf "$k%.0s" $(seq 32))" >/dev/null; done
check "back to one key" test "$(nkeys)" -eq 1

echo "mka-e2e: --- key hygiene"
store="$LAB_DIR/A.store/keystore.json"
check "key store is mode 0600" test "$(stat -c %a "$store")" = 600
check "master key is mode 0600" test "$(stat -c %a "$LAB_DIR/A.store/master.key")" = 600
check "key store holds no CAK (hex)" eval '! grep -qi "$CAK" "$store"'
check "key store holds no CAK (raw)" eval '! grep -qaF "$(printf "$(sed "s/../\\\\x&/g" <<<"$CAK")")" "$store"'
all_text="$(lab_ctl A describe-connections; lab_ctl A status; lab_metrics A; lab_mka_metrics A; cat "$LAB_DIR"/*.err "$LAB_DIR"/*.out)"
check "no CAK in describe/status/metrics/logs" eval '! grep -qi "$CAK" <<<"$all_text"'
check "the CKN is shown" grep -q "$CKN" <<<"$(lab_ctl A describe-connections)"
check "operator socket is mode 0600" test "$(stat -c %a "$LAB_DIR/A.op.sock")" = 600
check "dataplane socket is mode 0600" test "$(stat -c %a "$LAB_DIR/A.sock")" = 600
chmod 0755 "$LAB_DIR"; chmod 0777 "$LAB_DIR/A.op.sock" "$LAB_DIR/A.sock"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env MACSEC_CONTROL_SOCKET="$LAB_DIR/A.op.sock" "$LAB_CTL" describe-connections 2>&1) || true
check "operator socket refuses another uid: $out" grep -q "permission denied\|another uid\|no reply" <<<"$out"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups python3 dataplane/tests/e2e/ctl.py "$LAB_DIR/A.sock" request '{"op":"status"}' 2>&1) || true
check "dataplane socket refuses another uid" eval '! grep -q "\"result\": \"status\"" <<<"$out"'
chmod 0600 "$LAB_DIR/A.op.sock" "$LAB_DIR/A.sock"; chmod 0700 "$LAB_DIR"

echo "mka-e2e: --- kill -9 of control: traffic stays encrypted"
kill -9 "$LAB_CPID_A"; wait "$LAB_CPID_A" 2>/dev/null || true
check "ping still passes with the installed SAs" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 2 -q 10.77.0.2
lab_start_control A "$CBIN" "$CFG_A"
check "restarted control re-secures from the key store" lab_wait_up A 30
check "ping after control restart" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.3 -W 2 -q 10.77.0.2

echo "mka-e2e: --- dataplane restart: control re-installs"
lab_stop A
lab_start A "$BIN" "$CFG_A"
check "control re-secured the restarted dataplane" eval 'sleep 2; lab_wait_up A 30'
for i in $(seq 30); do ip netns exec "$(lab_ns hA)" ping -c 1 -W 1 -q 10.77.0.2 >/dev/null 2>&1 && break; sleep 0.5; done
check "ping after dataplane restart" ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.3 -W 2 -q 10.77.0.2

echo "mka-e2e: --- the peer goes silent: SAs removed, must_encrypt drops"
kill -STOP "$LAB_CPID_B"
sleep 9
check "A reports Encryption Down after the MKA life time" eval '! lab_secured A'
check "A's dataplane has no SA any more" test "$(lab_metrics A | awk '$1 ~ /^macsec_encryption_up/ {print $2}')" = 0
before=$(metric macsec_policy_drops_total A 'direction="host_to_wire"')
ip netns exec "$(lab_ns hA)" ping -c 3 -i 0.2 -W 1 -q 10.77.0.2 >/dev/null 2>&1 || true
sleep 1.5
check "host frames dropped by must_encrypt, not sent in clear" test "$(metric macsec_policy_drops_total A 'direction="host_to_wire"')" -gt "$before"
kill -CONT "$LAB_CPID_B"
check "the peer comes back: secured again" lab_wait_up A 30

echo "mka-e2e: --- the last key of a must_encrypt connection is disassociated: should_encrypt"
mode() { lab_ctl "$1" describe-connections | jq -r '.connections[0].encryptionMode'; }
check "A is must_encrypt with its key" test "$(mode A)" = must_encrypt
out=$(lab_ctl A disassociate-mac-sec-key --connection-id dxcon-laba --ckn "$CKN" 2>&1)
check "disassociate warns that the mode changed: $out" grep -q "encryption mode is now should_encrypt" <<<"$out"
lab_ctl B disassociate-mac-sec-key --connection-id dxcon-labb --ckn "$CKN" >/dev/null 2>&1
check "describe-connections: A is should_encrypt" test "$(mode A)" = should_encrypt
check "describe-connections: B is should_encrypt" test "$(mode B)" = should_encrypt
check "no key left, Encryption Down" \
    test "$(lab_ctl A describe-connections | jq -r '.connections[0] | "\(.macSecKeys | length) \(.portEncryptionStatus)"')" = "0 Encryption Down"
for i in $(seq 30); do ip netns exec "$(lab_ns hA)" ping -c 1 -W 1 -q 10.77.0.2 >/dev/null 2>&1 && break; sleep 0.5; done
wire="$LAB_DIR/clear.pcap"
timeout 20 ip netns exec "$(lab_ns dA)" tcpdump -i a_wire -nn -U -c 4 -w "$wire" icmp >/dev/null 2>"$LAB_DIR/tcpdump.err" &
tcpd=$!
for i in $(seq 50); do grep -q "listening on" "$LAB_DIR/tcpdump.err" 2>/dev/null && break; sleep 0.2; done
check "pings pass without keys" ip netns exec "$(lab_ns hA)" ping -c 10 -i 0.2 -W 2 -q 10.77.0.2
wait "$tcpd" 2>/dev/null || true
check "the pings crossed the wire in clear (ICMP seen on a_wire)" test "$(tcpdump -r "$wire" -nn icmp 2>/dev/null | wc -l)" -ge 2

echo "mka-e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
