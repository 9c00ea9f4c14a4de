# Lab topology for the demo and the end-to-end tests (sourced, bash). Everything it creates is
# named with the LAB prefix (default mlab<pid>) and removed by lab_down, by name for namespaces
# and links it created and by pid for processes it started.
#
#   [ns ${LAB}hA] hA0 10.77.0.1 ── a_host [ns ${LAB}dA: dataplane A] a_wire ══ wire ══ b_wire
#   [ns ${LAB}dB: dataplane B] b_host ── hB0 10.77.0.2 [ns ${LAB}hB]
#
# The dataplanes use net_af_packet on the veth ends in their namespace; metrics listen on the
# namespace's loopback. Offloads are off on the host-side veths so that every frame the hosts
# send is a real Ethernet frame of at most the MTU (af_packet sees no GSO super-frames).

LAB=${LAB:-mlab$$}
LAB_DIR=${LAB_DIR:-$(mktemp -d /tmp/macsec-lab.XXXXXX)}
LAB_PIDS=()
MAC_A_WIRE=02:00:00:00:00:0a
MAC_B_WIRE=02:00:00:00:00:0b
SCI_A=02000000000a0001
SCI_B=02000000000b0001

lab_ns() { echo "${LAB}$1"; }

lab_up() {
    local a b
    [ -d "$LAB_DIR" ] || LAB_DIR=$(mktemp -d /tmp/macsec-lab.XXXXXX)
    LAB_PIDS=()
    for n in hA dA dB hB; do ip netns add "$(lab_ns $n)"; done
    # The dataplane namespaces stand for DPDK-bound NICs: no kernel stack talks on their links.
    # The hosts speak IPv4 only, so that nothing is sent before both dataplanes run.
    for n in hA dA dB hB; do
        ip netns exec "$(lab_ns $n)" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
    done
    for side in A B; do
        a=$(lab_ns h$side); b=$(lab_ns d$side)
        local l=${side,,}
        ip link add "h${side}0" netns "$a" type veth peer name "${l}_host" netns "$b"
        ip -n "$a" link set "h${side}0" up
        ip -n "$b" link set "${l}_host" up
        ip -n "$b" link set lo up
        ip -n "$a" link set lo up
        ip netns exec "$a" ethtool -K "h${side}0" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        ip netns exec "$b" ethtool -K "${l}_host" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    done
    ip -n "$(lab_ns hA)" addr add 10.77.0.1/24 dev hA0
    ip -n "$(lab_ns hB)" addr add 10.77.0.2/24 dev hB0
    ip link add a_wire netns "$(lab_ns dA)" address "$MAC_A_WIRE" mtu 1600 type veth \
        peer name b_wire netns "$(lab_ns dB)" address "$MAC_B_WIRE" mtu 1600
    ip -n "$(lab_ns dA)" link set a_wire up
    ip -n "$(lab_ns dB)" link set b_wire up
    for n in dA dB; do
        for i in a_wire b_wire; do ip netns exec "$(lab_ns $n)" ethtool -K "$i" tso off gso off gro off >/dev/null 2>&1 || true; done
    done
}

# lab_up_peer: only side A (hA ── a_host [dA]); the wire is the tap of a ../shared/peer VM
# that run-vm.sh creates in namespace dA (wire_port iface=tap0, see lab_config WIRE_IFACE).
lab_up_peer() {
    [ -d "$LAB_DIR" ] || LAB_DIR=$(mktemp -d /tmp/macsec-lab.XXXXXX)
    LAB_PIDS=()
    for n in hA dA; do
        ip netns add "$(lab_ns $n)"
        ip netns exec "$(lab_ns $n)" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
        ip -n "$(lab_ns $n)" link set lo up
    done
    ip link add hA0 netns "$(lab_ns hA)" type veth peer name a_host netns "$(lab_ns dA)"
    ip -n "$(lab_ns hA)" link set hA0 up
    ip -n "$(lab_ns dA)" link set a_host up
    ip netns exec "$(lab_ns hA)" ethtool -K hA0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    ip netns exec "$(lab_ns dA)" ethtool -K a_host tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    ip -n "$(lab_ns hA)" addr add 10.77.0.1/24 dev hA0
}

# lab_config_head SIDE LCORES: the sections of a lab config before its connections.
lab_config_head() {
    local side=$1 lcores=$2
    cat <<CONF
mbufs = 8191

[eal]
lcores = "$lcores"
huge_pages = false
memory_mb = 256
file_prefix = "${LAB}$side"
extra_args = ["--log-level", "pmd.net.af_packet:warning", "--log-level", "lib.eal:warning"]

[control]
socket = "$LAB_DIR/$side.sock"
operator_socket = "$LAB_DIR/$side.op.sock"
key_store = "$LAB_DIR/$side.store/keystore.json"
master_key_file = "$LAB_DIR/$side.store/master.key"
metrics_listen = "127.0.0.1:9465"

[metrics]
listen = "127.0.0.1:9464"

CONF
}

# lab_config SIDE SUITE MODE WORKERS LCORES KEYSOURCE: writes SIDE's config, prints its path
# (LAB_QUEUES=N: N queue pairs per port; LAB_WIRE_ARGS=",k=v": more net_af_packet arguments for
# the wire port).
lab_config() {
    local side=$1 suite=$2 mode=$3 workers=$4 lcores=$5 keys=$6 l=${1,,}
    local f="$LAB_DIR/$side.toml"
    { lab_config_head "$side" "$lcores"; cat <<CONF
[[connections]]
id = "dxcon-lab$l"
host_port = "net_af_packet0,iface=${l}_host,framecnt=8192,qpairs=${LAB_QUEUES:-1}"
wire_port = "net_af_packet1,iface=${WIRE_IFACE:-${l}_wire},framecnt=8192,qpairs=${LAB_QUEUES:-1}${LAB_WIRE_ARGS:-}"
queues = ${LAB_QUEUES:-1}
workers = $workers
cipher_suite = "$suite"
encryption_mode = "$mode"
replay_protect = true
replay_window = 0
sci_port = 1
CONF
    } > "$f"
    if [ "$keys" = static ]; then
        printf 'key_source = "static"\nstatic_key_file = "%s"\n' "$LAB_DIR/$side.keys" >> "$f"
    else
        printf 'key_source = "control"\nkey_server_priority = %s\n' "${LAB_PRIO:-16}" >> "$f"
    fi
    echo "$f"
}

# lab_static_keys SUITE: key files for both sides (A sends with SSCI 1, B with SSCI 2).
lab_static_keys() {
    local suite=$1 sak salt=0c0d0e0f1011121314151617 xa="" xb=""
    case "$suite" in *256) sak=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f;;
                     *) sak=000102030405060708090a0b0c0d0e0f;; esac
    case "$suite" in *xpn*) xa=$'ssci = 1\nsalt = "'$salt'"'; xb=$'ssci = 2\nsalt = "'$salt'"';; esac
    (umask 077
     printf '[[tx]]\nan = 0\nsak = "%s"\n%s\n\n[[rx]]\nsci = "%s"\nan = 0\nsak = "%s"\n%s\n' "$sak" "$xa" "$SCI_B" "$sak" "$xb" > "$LAB_DIR/A.keys"
     printf '[[tx]]\nan = 0\nsak = "%s"\n%s\n\n[[rx]]\nsci = "%s"\nan = 0\nsak = "%s"\n%s\n' "$sak" "$xb" "$SCI_A" "$sak" "$xa" > "$LAB_DIR/B.keys")
    LAB_SAK=$sak; LAB_SALT=$salt
}

# lab_spawn SIDE PIDVAR WHAT SOCKET LOG BINARY CONFIG: starts BINARY --config CONFIG in the
# dataplane namespace of SIDE (output in LOG.out/.err) and waits until it listens on SOCKET.
lab_spawn() {
    local side=$1 var=$2 what=$3 sock=$4 log=$5 bin=$6 cfg=$7
    rm -f "$sock"
    ip netns exec "$(lab_ns d$side)" "$bin" --config "$cfg" > "$log.out" 2> "$log.err" &
    LAB_PIDS+=($!)
    eval "$var=$!"
    for _ in $(seq 100); do
        [ -S "$sock" ] && return 0
        kill -0 "$!" 2>/dev/null || break
        sleep 0.1
    done
    echo "$what $side did not start:" >&2; cat "$log.err" >&2; return 1
}

# lab_start SIDE BINARY CONFIG: a dataplane. lab_start_control SIDE BINARY CONFIG: its MKA daemon.
lab_start() { lab_spawn "$1" "LAB_PID_$1" macsec-dataplane "$LAB_DIR/$1.sock" "$LAB_DIR/$1" "$2" "$3"; }
lab_start_control() { lab_spawn "$1" "LAB_CPID_$1" macsec-control "$LAB_DIR/$1.op.sock" "$LAB_DIR/$1.ctl" "$2" "$3"; }

# lab_stop SIDE: SIGTERM, wait (bounded), then SIGKILL.
lab_stop() {
    local pid; eval "pid=\${LAB_PID_$1:-}"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    LAB_RC=0; wait "$pid" 2>/dev/null || LAB_RC=$?
    eval "LAB_PID_$1="
}

# lab_ctl SIDE VERB ARGS...: macsecctl against that side's control daemon.
lab_ctl() { local side=$1; shift; MACSEC_CONTROL_SOCKET="$LAB_DIR/$side.op.sock" "$LAB_CTL" "$@"; }

# lab_secured SIDE: describe-connections says Encryption Up.
lab_secured() { lab_ctl "$1" describe-connections 2>/dev/null | grep -q '"Encryption Up"'; }

# lab_wait_up SIDE SECONDS: until lab_secured.
lab_wait_up() {
    local i
    for i in $(seq $(( $2 * 5 ))); do
        lab_secured "$1" && return 0
        sleep 0.2
    done
    return 1
}

lab_mka_metrics() { ip netns exec "$(lab_ns d$1)" curl -s --max-time 5 http://127.0.0.1:9465/metrics; }

lab_metrics() { ip netns exec "$(lab_ns d$1)" curl -s --max-time 5 http://127.0.0.1:9464/metrics; }
lab_status() { ip netns exec "$(lab_ns d$1)" curl -s --max-time 5 http://127.0.0.1:9464/status; }

# lab_iperf PORT SECONDS CLIENT_ARGS...: an iperf3 client in hA against a one-off server in hB on
# PORT for SECONDS; the client's JSON on stdout, its exit status as the status (124: it outlived
# SECONDS + 20 s). iperf3 3.12 (Debian 12) can hang after a complete run, while client and server
# exchange their results (esnet/iperf#1527, fixed upstream later): a client killed by the timeout
# whose JSON holds an interval with data for every second of the run is run once more, and says
# so on stderr. One with a second without data is not: that would be a stall on the path under
# test. lab_iperf_once: the same without the second run (for a run whose traffic cannot repeat).
lab_iperf() {
    local out rc=0
    out=$(lab_iperf_once "$@") || rc=$?
    local full='(.intervals // []) as $i | ($i | length >= $s) and all($i[]; .sum.bytes > 0)'
    if [ "$rc" = 124 ] && [ "$(jq --argjson s "$2" "$full" <<<"$out" 2>/dev/null)" = true ]; then
        echo "      iperf3 client timed out after a complete ${2}s run (iperf3's results-exchange hang); once more" >&2
        rc=0; out=$(lab_iperf_once "$@") || rc=$?
    fi
    echo "$out"
    return "$rc"
}

# lab_iperf_or_why PORT SECONDS CLIENT_ARGS...: lab_iperf, but a client that fails or outlives
# its timeout yields '{}' (so the caller's checks on the result fail and the script goes on to
# clean up) and prints on stderr why: iperf3's exit status and error, and both sides' port drops.
lab_iperf_or_why() {
    local out rc=0
    out=$(lab_iperf "$@") || rc=$?
    if [ "$rc" = 0 ]; then echo "$out"; return; fi
    {
        echo "      iperf3 client exit $rc ($([ "$rc" = 124 ] && echo "timed out after $(( $2 + 20 )) s" || echo failed)): $(jq -r '.error // "no error reported"' <<<"$out" 2>/dev/null || echo "no JSON")"
        local s; for s in A B; do
            echo "      $s port drops: $(lab_metrics "$s" | grep -E '^macsec_port_(rx|tx)_dropped_total' | grep -v ' 0$' | tr '\n' ' ')"
        done
    } >&2
    echo '{}'
}

# The server is a daemon (a caller in a command substitution cannot add to LAB_PIDS) with a pid
# file of its own: one shared by successive daemons was unlinked by the previous daemon's exit, so
# the next one was never stopped and outlived the test. Its pid is read before the client runs (a
# -1 server cannot exit before a client); after the client it is stopped and waited for, so that
# the next server finds the port free. lab_down stops any still running.
lab_iperf_once() {
    local port=$1 secs=$2; shift 2
    local pidfile spid=""; pidfile=$(mktemp -u "$LAB_DIR/iperf3.XXXXXX.pid")
    ip netns exec "$(lab_ns hB)" iperf3 -s -1 -D -I "$pidfile" -p "$port" >/dev/null 2>&1; sleep 0.5
    [ -s "$pidfile" ] && spid=$(cat "$pidfile")
    local rc=0
    ip netns exec "$(lab_ns hA)" timeout $(( secs + 20 )) iperf3 -c 10.77.0.2 -p "$port" -t "$secs" "$@" -J || rc=$?
    if [ -n "$spid" ]; then
        kill "$spid" 2>/dev/null || true
        local i; for i in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    fi
    return "$rc"
}

lab_down() {
    local p f
    # iperf3 daemons still running (a pid file is gone once its daemon exits).
    for f in "$LAB_DIR"/iperf3.*.pid; do if [ -s "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi; done
    for p in "${LAB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${LAB_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    for n in hA dA dB hB; do ip netns del "$(lab_ns $n)" 2>/dev/null || true; done
    # EAL leaves its runtime directory behind; the lab's dataplanes have the file prefixes
    # ${LAB}A and ${LAB}B (lab_config_head).
    rm -rf "/var/run/dpdk/${LAB}A" "/var/run/dpdk/${LAB}B"
    rm -rf "$LAB_DIR"
}

# Checks of the test scripts: `lab_checks NAME` once, then `check WHAT COMMAND...` (or ok/bad);
# each prints "NAME: ok: WHAT" or "NAME: FAILED: WHAT" and counts into $pass and $fail.
lab_checks() { LAB_CHECKS=$1; pass=0; fail=0; }
ok() { echo "$LAB_CHECKS: ok: $*"; pass=$((pass + 1)); }
bad() { echo "$LAB_CHECKS: FAILED: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# metric NAME SIDE [FILTER]: the sum of a dataplane metric's samples whose labels contain FILTER.
metric() { lab_metrics "$2" | awk -v n="$1" -v f="${3:-}" '$1 ~ "^"n"({|$)" && index($1, f) { s += $2 } END { printf "%d\n", s }'; }

# lab_udp_rcvbuf_errors HOST: datagrams host HOST's stack dropped because a UDP socket's receive
# buffer was full (the iperf3 server did not read in time, e.g. while the dataplanes' busy
# polling held both CPUs): lost at the receiver, past the path under test, and counted by iperf3
# as lost all the same.
lab_udp_rcvbuf_errors() {
    local n
    n=$(ip netns exec "$(lab_ns "$1")" awk '$1 == "Udp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i } else { print $c; exit } }' /proc/net/snmp || true)
    echo "${n:-0}"
}

# lab_udp_path_mark: the counters lab_check_udp_path compares, read before the traffic.
lab_udp_path_mark() {
    echo "$(( $(metric macsec_port_rx_dropped_total A 'port="host"') + $(metric macsec_port_tx_dropped_total B 'port="host"') )) $(lab_udp_rcvbuf_errors hB)"
}

# lab_check_udp_path WHAT LOST MARK: no UDP datagram lost on the path A->B since MARK
# (lab_udp_path_mark): iperf3's LOST no more than hB's full socket buffers dropped, and no drop on
# A's host port in or B's host port out. iperf3 counts a gap in a stream's sequence, not what hB
# dropped after the last datagram it read, so hB's drops can exceed its count; the callers' frame
# counters check the path between the ports.
lab_check_udp_path() {
    local what=$1 lost=$2 drops0 rcvbuf0 drops rcvbuf
    read -r drops0 rcvbuf0 <<<"$3"
    read -r drops rcvbuf <<<"$(lab_udp_path_mark)"
    drops=$(( drops - drops0 )); rcvbuf=$(( rcvbuf - rcvbuf0 ))
    echo "      UDP datagrams lost (iperf3): $lost; hB's full socket buffers dropped $rcvbuf; host-port drops (A in, B out) $drops"
    check "$what (no more lost than hB's full socket buffers dropped)" \
        eval '[[ "$lost" =~ ^[0-9]+$ ]] && [ "$lost" -le "$rcvbuf" ] && [ "$drops" = 0 ]'
}

# lab_report SIDE...: each side's SAs, PNs, and frame and drop counters that are not 0 (one line
# per side), and the last lines its dataplane and control logged: what a failed traffic check
# prints to show where the frames stopped.
lab_report() {
    local s f
    for s in "$@"; do
        echo "      $s: $(lab_metrics "$s" | grep -E '^macsec_(encryption_up|tx_sa_next_pn|rx_sa_(next|lowest)_pn|(tx|rx)_s[ac]_|policy_drops|port_(rx|tx)_(packets|dropped)|rekeys)' \
            | grep -v -e ' 0$' -e '_ratio{' | sed -E 's/connection="[^"]*",?//; s/\{\}//' | tr '\n' ';')"
        for f in "$LAB_DIR/$s.err" "$LAB_DIR/$s.ctl.err"; do
            [ -s "$f" ] && tail -n 5 "$f" | sed "s|^|      $(basename "$f"): |"
        done
    done
}

# lab_rx_errors SIDE: received frames that failed validation, came late or found no SA (the
# 802.1AE InPktsNotValid/NotUsingSA/UnusedSA/Late/Invalid of every SA and SC, all members).
lab_rx_errors() {
    local s=0 m
    for m in in_pkts_not_valid in_pkts_not_using_sa in_pkts_unused_sa in_pkts_late in_pkts_invalid; do
        s=$(( s + $(metric "macsec_rx_sa_${m}_total" "$1") + $(metric "macsec_rx_sc_${m}_total" "$1") ))
    done
    echo "$s"
}

