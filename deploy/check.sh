#!/bin/bash
# Checks every deploy/ file a tool can check here: Prometheus config and alert rules (promtool),
# systemd units (systemd-analyze verify, with ExecStart pointed at the built binaries), the
# Grafana dashboard (JSON), the TRex profiles (Python syntax), the example configs
# (macsec-dataplane --check-config) and the host setup script (bash -n).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
pass=0; fail=0
check() { local what=$1; shift; if out=$("$@" 2>&1); then echo "deploy-check: ok: $what"; pass=$((pass + 1)); else echo "deploy-check: FAILED: $what"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); fi; }
cargo build -q --release -p macsec-dataplane -p macsec-control
WORK=$(mktemp -d /tmp/macsec-deploy.XXXXXX); trap 'rm -rf "$WORK"' EXIT

check "prometheus.yml (promtool check config)" promtool check config deploy/prometheus/prometheus.yml
check "alerts.yml (promtool check rules)" promtool check rules deploy/prometheus/alerts.yml
for u in deploy/systemd/*.service; do
    sed -e "s#/usr/local/bin/#$ROOT/target/release/#g" "$u" > "$WORK/$(basename "$u")"
    check "$(basename "$u") (systemd-analyze verify)" systemd-analyze verify "$WORK/$(basename "$u")"
done
check "grafana/macsec-dashboard.json (JSON with panels)" jq -e '.panels | length > 5' deploy/grafana/macsec-dashboard.json
for p in deploy/trex/*.py; do check "$(basename "$p") (Python syntax)" python3 -m py_compile "$p"; done
check "trex_cfg.yaml (YAML)" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' deploy/trex/trex_cfg.yaml
for c in deploy/examples/*.toml; do check "$(basename "$c") (--check-config)" target/release/macsec-dataplane --config "$c" --check-config; done
check "host-setup.sh (bash -n)" bash -n deploy/host-setup.sh
echo "deploy-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
