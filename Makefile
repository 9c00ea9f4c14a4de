# The appliance's entry points. `make demo` and `make test` are the two commands a newcomer
# runs; both install what they need first (deploy/deps.sh, Debian packages, idempotent).
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all deps build test test-rust test-e2e test-lag test-mka test-faults test-demo test-deploy test-peer demo bench soak fuzz lint fmt clean

all: build

deps:
	./deploy/deps.sh

build: deps
	$(CARGO) build --release --workspace

# Unit, vector, property and DPDK tests, then pcap-decrypt against captures made live with the
# real peer (Linux macsec in a VM, ../shared/peer) when it is there.
test: deps lint test-rust test-e2e test-lag test-mka test-faults test-demo test-deploy test-peer

test-rust:
	$(CARGO) test --workspace --no-fail-fast

# Two dataplanes back to back in network namespaces (static keys, rekeys, policy, bad configs).
test-e2e:
	./dataplane/tests/e2e/runtime.sh

# Two appliances over a 2-member LAG: MKA per member, flows on both, member loss, CAK rotation.
test-lag:
	./dataplane/tests/e2e/lag.sh

# macsec-control with two appliances: input errors, key hygiene, sockets, kill -9, restarts, silent peer.
test-mka:
	./control/tests/e2e/mka.sh

# Faults with traffic: PN threshold rekeys, link flap, full disk, unreadable key store, silent
# peer under should_encrypt, hardened processes.
test-faults:
	./control/tests/e2e/faults.sh

# promtool, systemd-analyze, JSON, Python syntax, example configs.
test-deploy:
	./deploy/check.sh

# The demo's checks with a shorter iperf3 run: a change that breaks `make demo` cannot land.
test-demo:
	./deploy/demo.sh --quick

test-peer:
	./dataplane/tests/captures/check-live.sh
	./control/tests/peer/mka-peer.sh

demo: deps
	./deploy/demo.sh

# Not in CI: 10 minutes (SOAK_MINUTES) of traffic with a rekey every second and a CAK rotation
# every minute; zero loss, flat memory, no MKA flap.
soak: deps
	./deploy/soak.sh

# Long runs of every proptest fuzz target (fuzz/README.md); `make test` runs them bounded. The
# test profile on purpose: overflow checks stay on (they caught the XPN PN wrap).
FUZZ_CASES ?= 200000
fuzz: deps
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test -p macsec-dataplane --no-default-features --test fuzz
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO) test -p macsec-control --test fuzz

# BENCH_ARGS: e.g. --rt (SCHED_RR for the bench, generator and dataplane: recorded runs),
# --only crypto|secy|dataplane|scaling, --quick, --json.
BENCH_ARGS ?=
bench: deps
	$(CARGO) run --release -p macsec-bench -- $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
