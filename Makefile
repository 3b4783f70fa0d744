# samsa — build, run and test.
#
#   make run          build and start a broker on localhost:9092 (data in ./samsa-data)
#   make dev          build and start an ephemeral dev cluster on 127.0.0.1:9092 (BROKERS=3 for three)
#   make test         everything CI runs, on a fresh machine
#
# See README.md for the rest.

GO        ?= go
BIN       := bin
# `make test` fuzzes each target for this many inputs (a few seconds
# here), `make fuzz` for FUZZLONG (a minute or two). Counts, not durations:
# with a duration Go's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" as the time runs out (golang/go#75804, not
# fixed in go1.26), as it did in CI.
FUZZTIME  ?= 60000x
FUZZLONG  ?= 2000000x
# Packages tested with -race (compat-tests is its own module, run by `make compat`).
RACE_PKGS := ./protocol/... ./storage/... ./coordinator/... ./broker/... ./admin/... ./cmd/... ./devcluster/... ./samsatest/...
# Fuzz targets as PACKAGE:TARGET.
FUZZ_TARGETS := ./protocol/:FuzzParseRequest ./protocol/:FuzzValidateProduceBatch
# Go files gofmt checks (not vendored/generated trees of other ecosystems).
GOFILES = $(shell find . -name '*.go' -not -path './.cache/*' -not -path './bin/*' -not -path '*/node_modules/*' -not -path '*/target/*' -not -path '*/.venv/*')

.PHONY: all build run dev test setup vet fmt-check test-race fuzz-smoke fuzz compat bench bench-smoke cluster-bench dev-figures security-figures clean
.PHONY: compat-setup compat-setup-java compat-setup-python compat-setup-node compat-setup-kafka compat-setup-kcat compat-setup-chromium console-screenshots
.PHONY: difftest difftest-record

all: build

build:
	$(GO) build -o $(BIN)/samsa ./cmd/samsa
	$(GO) build -o $(BIN)/samsa-bench ./cmd/samsa-bench

run: build
	./$(BIN)/samsa

# samsa dev: data in a temp dir removed on exit, the dev API on
# localhost:9644 (README.md, "Dev mode, tests and CI").
BROKERS ?= 1
dev: build
	./$(BIN)/samsa dev --brokers $(BROKERS)

# ---- test: what CI runs (.ci/run) -------------------------------------------

test: setup vet fmt-check test-race fuzz-smoke bench-smoke compat
	@echo "make test: all passed"

# Everything a fresh machine needs beyond the Go toolchain: the modules of
# both Go modules. (-race needs cgo, i.e. a C compiler; it is checked here.)
setup:
	$(GO) version
	$(GO) mod download
	cd compat-tests && $(GO) mod download
	@command -v "$$($(GO) env CC)" >/dev/null || { echo "setup: no C compiler ($$($(GO) env CC)); go test -race needs one (apt-get install gcc)"; exit 1; }

vet:
	$(GO) vet ./...
	cd compat-tests && $(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$out" ]; then echo "gofmt: these files are not formatted (run gofmt -w):"; echo "$$out"; exit 1; fi; \
	echo "gofmt: ok"

test-race:
	$(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

# Each fuzz target for FUZZTIME. A target that does not exist is an error
# (go test -fuzz would otherwise pass silently).
fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		$(GO) test -list "^$$name\$$" $$pkg | grep -qx "$$name" || { echo "fuzz: no target $$name in $$pkg"; exit 1; }; \
		echo "fuzz: $$name ($$pkg), -fuzztime=$(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(FUZZLONG)

# Black-box tests of the real binary with stock clients (SAMSA_BIN: use the
# binary just built instead of letting the harness build its own), and the
# differential tester against Apache Kafka (compat-tests/difftest). -p 1:
# one package at a time, so that the tester's Kafka does not share the two
# cores with the client suites.
compat: build compat-setup
	@mkdir -p .cache
	@rm -f .cache/compat-matrix.md .cache/difftest-report.txt
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa COMPAT_MATRIX_FILE=$(CURDIR)/.cache/compat-matrix.md \
		DIFFTEST_REPORT=$(CURDIR)/.cache/difftest-report.txt \
		$(GO) test -p 1 -count=1 -timeout 15m ./... ; status=$$?; \
		cat $(CURDIR)/.cache/compat-matrix.md $(CURDIR)/.cache/difftest-report.txt 2>/dev/null; exit $$status

# The differential tester alone: samsa against Apache Kafka 4.4, scripted
# scenarios at every common version plus the recorded client corpus
# (DIFFTEST_ONLY=GLOB runs only the scenarios it matches).
difftest: build compat-setup-kafka
	@mkdir -p .cache
	@rm -f .cache/difftest-report.txt
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa DIFFTEST_REPORT=$(CURDIR)/.cache/difftest-report.txt \
		$(GO) test -count=1 -timeout 10m ./difftest/ ; status=$$?; \
		cat $(CURDIR)/.cache/difftest-report.txt 2>/dev/null; exit $$status

# Records the compat clients' traffic with Apache Kafka into the tester's
# corpus (compat-tests/difftest/corpus), a fresh Kafka per client
# (CLIENTS=franz-go,sarama records only those). About 2 minutes.
difftest-record: compat-setup
	cd compat-tests && $(GO) run ./difftest/cmd/difftest-record $(if $(CLIENTS),-clients $(CLIENTS))

# Everything `make compat` needs beyond the Go toolchain and modules.
compat-setup: compat-setup-java compat-setup-python compat-setup-node compat-setup-kafka compat-setup-kcat compat-setup-chromium

# Apache Kafka's jars for its command-line tools (compat-tests/cli_test.go),
# from Maven Central into .cache/kafka/<version>/libs, once; Maven's
# repository is the Java suite's, .cache/m2.
compat-setup-kafka:
	@command -v java >/dev/null || { echo "compat-setup-kafka: java not found (apt-get install openjdk-17-jdk-headless)"; exit 1; }
	MAVEN_OPTS="$$MAVEN_OPTS -Dmaven.repo.local=$(COMPAT_M2)" ./scripts/kafka.sh fetch

# kcat from Debian's package, installed when missing and we are root. If it
# cannot be, the kcat row of the matrix fails with that reason.
compat-setup-kcat:
	@if command -v kcat >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat; } || \
		echo "compat-setup-kcat: apt-get install kcat failed: the kcat cells of the compat matrix will fail"; \
	else \
		echo "compat-setup-kcat: kcat is missing and cannot be installed here (needs root and apt-get): run 'sudo apt-get install kcat'; the kcat cells of the compat matrix will fail"; \
	fi

# Chromium from Debian's package for the console's browser test
# (compat-tests/console_test.go), installed when missing and we are root.
# Without it that test fails and says how to install it.
compat-setup-chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "compat-setup-chromium: apt-get install chromium failed: TestConsoleInBrowser will fail"; \
	else \
		echo "compat-setup-chromium: chromium is missing and cannot be installed here (needs root and apt-get): run 'sudo apt-get install chromium'; TestConsoleInBrowser will fail"; \
	fi

# The console's screenshots in docs/ (README.md shows them), taken by the
# browser test against the binary just built.
console-screenshots: build compat-setup-chromium
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa SAMSA_CONSOLE_SHOTS=$(CURDIR)/docs/console \
		$(GO) test -count=1 -run '^TestConsoleInBrowser$$' .

# Set-up of the Java, Python and Node suites (compat-tests/ecosystems_test.go).
# Downloads stay in gitignored folders: Maven's repository in .cache/m2 (the
# run itself is offline, mvn -o), pip's cache in .cache/pip, npm's in
# .cache/npm; the venv and node_modules beside their suites. Each is redone
# only when its pom.xml / requirements.txt / package-lock.json changes.
COMPAT_M2  := $(CURDIR)/.cache/m2
COMPAT_MVN := mvn -q -B -Dmaven.repo.local=$(COMPAT_M2)

compat-setup-java: $(COMPAT_M2)/.compat-java.stamp
$(COMPAT_M2)/.compat-java.stamp: compat-tests/java/pom.xml
	@command -v mvn >/dev/null || { echo "compat-setup-java: mvn not found (apt-get install maven openjdk-17-jdk-headless)"; exit 1; }
	cd compat-tests/java && $(COMPAT_MVN) dependency:go-offline
	@# Surefire resolves its JUnit runtime only when it runs tests: run it on a
	@# filter that selects none, so that the offline run finds everything.
	cd compat-tests/java && $(COMPAT_MVN) test -Dtest='KafkaClientsTest#resolveOnly' -Dsurefire.failIfNoSpecifiedTests=false
	touch $@

compat-setup-python: compat-tests/python/.venv/.compat.stamp
compat-tests/python/.venv/.compat.stamp: compat-tests/python/requirements.txt
	@command -v python3 >/dev/null || { echo "compat-setup-python: python3 not found (apt-get install python3 python3-venv)"; exit 1; }
	python3 -m venv compat-tests/python/.venv
	PIP_CACHE_DIR=$(CURDIR)/.cache/pip compat-tests/python/.venv/bin/pip install -q --disable-pip-version-check -r compat-tests/python/requirements.txt
	touch $@

compat-setup-node: compat-tests/node/node_modules/.compat.stamp
compat-tests/node/node_modules/.compat.stamp: compat-tests/node/package.json compat-tests/node/package-lock.json
	@command -v npm >/dev/null || { echo "compat-setup-node: npm not found (apt-get install nodejs npm)"; exit 1; }
	@# npm ci builds kafkajs's native codecs (lz4, zstd) with node-gyp: needs make and g++.
	cd compat-tests/node && npm ci --cache $(CURDIR)/.cache/npm --no-audit --no-fund
	touch $@

# ---- benchmarks ---------------------------------------------------------------

# The Go micro-benchmarks, then samsa against Apache Kafka on this machine
# (~25 min). QUICK=1: the micro-benchmarks at -benchtime=100ms and one round
# of every comparison row with shorter runs (under 10 min, noisier).
# Results in bench-results/<timestamp>/; see bench/README.md.
BENCH_MICRO_TIME = $(if $(filter 1,$(QUICK)),-benchtime=100ms)
bench:
	$(GO) test -run='^$$' -bench=. $(BENCH_MICRO_TIME) -benchmem ./storage/ ./protocol/
	QUICK=$(QUICK) ./scripts/bench-compare.sh

bench-smoke:
	./scripts/bench.sh smoke

# The cluster's figures (compat-tests/cluster_bench_test.go, tag
# clusterbench): failover time, controlled-shutdown time, produce
# throughput RF 3 vs RF 1 on three brokers on loopback. Not pass/fail; the
# figures are the FIGURE lines. CLUSTER_BENCH_DURATION (default 10s) is
# each throughput run.
cluster-bench: build
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa SAMSA_BENCH_BIN=$(CURDIR)/$(BIN)/samsa-bench \
		$(GO) test -tags clusterbench -run '^TestClusterFigures$$' -count=1 -timeout 20m -v . | grep -E 'FIGURE|^(--- |ok|FAIL)'

# The security figures (compat-tests/security_figures_test.go, tag
# securityfigures): produce and consume throughput on the PLAINTEXT and SSL
# listeners, and the rate a producer and a consumer achieve against an
# 8 MiB/s client quota (64 KiB and 1 MiB requests), as a ratio of the quota.
# FIGURE lines; passes or fails nothing. SECURITY_BENCH_DURATION (default
# 10s) is each run; SECURITY_FIGURES_KAFKA=1 measures Apache Kafka's quotas
# the same way after samsa's (scripts/kafka.sh).
security-figures: build
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa SAMSA_BENCH_BIN=$(CURDIR)/$(BIN)/samsa-bench \
		$(GO) test -tags securityfigures -run '^TestSecurityFigures$$' -count=1 -timeout 20m -v . | grep -E 'FIGURE|^(--- |ok|FAIL)'

# The dev mode's figures (compat-tests/dev_figures_test.go, tag devfigures):
# the binary's ready time (exec -> "samsa ready") and the memory and
# goroutines of one more idle virtual cluster; then BenchmarkStart, the
# in-process ready time of samsatest. FIGURE lines; passes or fails nothing.
dev-figures: build
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa \
		$(GO) test -tags devfigures -run '^TestDevFigures$$' -count=1 -timeout 10m -v . | grep -E 'FIGURE|^(--- |ok|FAIL)'
	$(GO) test -run '^$$' -bench '^BenchmarkStart$$' -benchtime 30x ./samsatest/

clean:
	rm -rf $(BIN) bench-results
