# samsa — build, run and test.
#
#   make run          build and start a broker on localhost:9092 (data in ./samsa-data)
#   make test         everything CI runs, on a fresh machine
#
# See README.md for the rest.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 5s
# `make fuzz` fuzzes each target for this long.
FUZZLONG  ?= 2m
# Packages tested with -race (compat-tests is its own module, run by `make compat`).
RACE_PKGS := ./protocol/ ./storage/ ./coordinator/ ./broker/... ./cmd/...
# Fuzz targets as PACKAGE:TARGET.
FUZZ_TARGETS := ./protocol/:FuzzParseRequest ./protocol/:FuzzValidateProduceBatch
# Go files gofmt checks (not vendored/generated trees of other ecosystems).
GOFILES = $(shell find . -name '*.go' -not -path './.cache/*' -not -path './bin/*' -not -path '*/node_modules/*' -not -path '*/target/*' -not -path '*/.venv/*')

.PHONY: all build run test setup vet fmt-check test-race fuzz-smoke fuzz compat bench bench-smoke clean

all: build

build:
	$(GO) build -o $(BIN)/samsa ./cmd/samsa
	$(GO) build -o $(BIN)/samsa-bench ./cmd/samsa-bench

run: build
	./$(BIN)/samsa

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
		echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(FUZZLONG)

# Black-box tests of the real binary with stock clients (SAMSA_BIN: use the
# binary just built instead of letting the harness build its own).
compat: build
	cd compat-tests && SAMSA_BIN=$(CURDIR)/$(BIN)/samsa $(GO) test -count=1 -timeout 15m ./...

# ---- benchmarks ---------------------------------------------------------------

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./storage/ ./protocol/
	./scripts/bench.sh full

bench-smoke:
	./scripts/bench.sh smoke

clean:
	rm -rf $(BIN) bench-results
