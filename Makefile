# Keyward: `make run` serves API + SPA on one port, `make test` runs lint, all tests and the schema check,
# `make fuzz` runs the property tests of every parser of untrusted input for longer (bounded).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

CARGO ?= cargo
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
KEYWARD := $(TARGET_DIR)/debug/keyward

RUST_BACKTRACE ?= 1
export RUST_BACKTRACE

.PHONY: run lint schema schema-check test fuzz fmt clean-data frontend frontend-test e2e e2e-tools e2e-deps bench dist dist-check

run:
	@if [ -f frontend/package.json ]; then \
	  cd frontend; \
	  if [ ! -f package-lock.json ]; then \
	    npm install; \
	  elif [ -d node_modules ] && [ node_modules -nt package-lock.json ]; then \
	    echo "frontend: node_modules is newer than package-lock.json, skipping npm ci"; \
	  else \
	    npm ci; \
	  fi; \
	  npm run build; \
	fi
	$(CARGO) build -p keyward-gateway --bin keyward
	$(KEYWARD) migrate
	@echo "keyward: starting; it will listen at http://localhost:8080 unless KEYWARD_LISTEN / public_url say otherwise"
	$(KEYWARD) serve

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/check-domain-purity.sh

schema:
	@$(CARGO) run -q -p keyward-gateway --bin keyward -- schema > schema.graphql.tmp || { rm -f schema.graphql.tmp; exit 1; }
	@mv schema.graphql.tmp schema.graphql
	@echo "wrote schema.graphql"

schema-check:
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	$(CARGO) run -q -p keyward-gateway --bin keyward -- schema > "$$tmp"; \
	if [ ! -f schema.graphql ]; then \
	  echo "schema.graphql is missing: run make schema" >&2; \
	  exit 1; \
	fi; \
	if ! diff -u schema.graphql "$$tmp"; then \
	  echo "schema.graphql is stale: run make schema" >&2; \
	  exit 1; \
	fi; \
	echo "schema.graphql is up to date"

# The schema check runs first so the suites' summary line ("N passed, N failed") closes the output.
# The Rust suites run first, then the browser journeys (see e2e); the last line sums both.
# dist-check: the build steps of the Dockerfile, on the debug binary e2e-deps built (seconds).
test: lint schema-check e2e-deps frontend-test dist-check
	scripts/with-services.sh env CARGO=$(CARGO) KEYWARD_BIN=$(abspath $(KEYWARD)) scripts/run-all-tests.sh

# The property tests ("fuzzing" on stable Rust: cargo-fuzz needs nightly) of every parser of
# untrusted input, with FUZZ_CASES cases each instead of make test's few hundred: session tokens,
# SSO state, IDs and cursors, the WebAuthn pre-check and responses down through the verifier,
# attestation roots, the JSON scalar and request bodies, configuration values. Bounded by
# FUZZ_TIMEOUT in all; a failure prints the smallest input that breaks a property.
FUZZ_CASES ?= 20000
FUZZ_TIMEOUT ?= 10m
fuzz:
	$(CARGO) test --no-run -p keyward-domain -p keyward-gateway
	scripts/with-services.sh env PROPTEST_CASES=$(FUZZ_CASES) timeout $(FUZZ_TIMEOUT) \
	  $(CARGO) nextest run -p keyward-domain -p keyward-gateway --no-fail-fast \
	  -E 'binary(fuzz_parsers) | test(/::fuzz::/)'

# The SPA, built for the gateway to serve (make run does this too).
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build

# The binary that ships, with the SPA embedded (what the Dockerfile builds): release, into dist/.
dist: frontend
	CARGO=$(CARGO) scripts/build-dist.sh --release --out dist

# The same steps and checks in debug (make test runs this): build, then start the binary alone
# from an empty directory and check its embedded app, its healthcheck and SIGTERM.
dist-check: frontend
	CARGO=$(CARGO) scripts/build-dist.sh --out $(TARGET_DIR)/dist-check

# The SPA's unit tests (Vitest): wording, error mapping and time formatting helpers.
frontend-test: frontend
	cd frontend && npm test

# Browser journeys in Debian's Chromium against the real gateway (SQLite and PostgreSQL, Redis)
# and a real OIDC IdP. Screens are saved under e2e/artifacts/. Ends with "e2e: N passed, N failed, ...".
e2e: e2e-deps
	scripts/with-services.sh env KEYWARD_BIN=$(abspath $(KEYWARD)) scripts/run-e2e.sh

# What the journeys need: Node.js and npm (Vite 8 needs Node.js 20.19 or newer) and Debian's
# Chromium, installed with apt-get when running as root, otherwise named with the exact command;
# Debian's nginx for the forward-auth journey (scripts/install-nginx.sh: apt-get as root or with
# sudo -n, else it fails naming the command); then the npm packages from the lock files, the SPA
# build and the keyward binary.
e2e-tools:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "e2e: Node.js or npm is missing; installing them with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm </dev/null; \
	  else \
	    echo "e2e: Node.js or npm is missing: sudo apt-get update && sudo apt-get install -y nodejs npm" >&2; exit 1; \
	  fi; \
	fi
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error(`e2e: Node.js $${process.versions.node} is too old; the SPA build (Vite 8) needs 20.19 or newer`); process.exit(1) }'
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "e2e: Chromium is missing; installing it with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium </dev/null; \
	  else \
	    echo "e2e: Chromium is missing: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; \
	fi
	scripts/install-nginx.sh

e2e-deps: e2e-tools frontend
	cd e2e && npm ci --no-audit --no-fund
	$(CARGO) build -p keyward-gateway --bin keyward

# Benchmarks against physical floors measured in the same run (not part of make test): criterion
# micro-benchmarks of the domain, then the load harness on local PostgreSQL and Redis, loopback
# only. Writes bench/report.md and bench/report.json. The first build (release, with line tables
# for perf) takes about 15 minutes on 2 cores; the run itself about 5.
bench: frontend
	$(CARGO) build --profile bench -p keyward-bench
	$(CARGO) bench -p keyward-domain --bench hot_paths --no-run
	scripts/with-services.sh bash -c '$(CARGO) bench -q -p keyward-domain --bench hot_paths -- --noplot && \
	  $(TARGET_DIR)/release/keyward-bench --criterion $(TARGET_DIR)/criterion --out bench/report'

fmt:
	$(CARGO) fmt --all

clean-data:
	@if [ -e data ]; then \
	  echo "removing ./data (the default SQLite database and everything in it)"; \
	  rm -rf ./data; \
	else \
	  echo "nothing to remove: ./data does not exist"; \
	fi
