# postwatch — the front door. One set of SQLite build tags everywhere, so
# the cgo build of SQLite is cached once and reused.
TAGS      := sqlite_fts5,sqlite_math_functions
TAGFLAG   := -tags=$(TAGS)
DB        ?= ./postwatch.db
ADDR      ?= 127.0.0.1:8080
export CGO_ENABLED := 1

# PGTEST is the PostgreSQL server (≥ 15, with PostGIS ≥ 3 installable) on
# which `make test` runs the API and store suites a second time: a URL to a
# database from which the role may create databases. Each test gets a new
# database, dropped afterwards. Empty skips that pass — except under
# CI=true, where it fails.
PGTEST    ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: run build test test-postgis test-short lint bench bench-short bench-alerts bench-outage fuzz clean web web-deps web-check

build: web
	go build $(TAGFLAG) -o bin/postwatch ./cmd/postwatch

# The operations map (/map) is web/src plus the third-party files that
# web/build.mjs puts in web/dist; both are committed and embedded, so Go
# builds need no Node. With Node present, build refreshes dist/ from the
# packages of package-lock.json
# (npm ci runs only when the lock file changed) and test checks that the
# committed dist/ is that build. Without Node both say so and go on.
NODE := $(shell command -v node 2>/dev/null)
WEB_STAMP := web/node_modules/.package-lock.json

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

ifeq ($(NODE),)
web web-deps web-check:
	@echo "node not found: using the committed web/dist (the map's browser test will be skipped)"
else
web-deps: $(WEB_STAMP)

web: web-deps
	node web/build.mjs

web-check: web-deps
	node web/build.mjs --check
endif

run: build
	bin/postwatch serve --addr $(ADDR) --db $(DB) --seed

test: web-check
	go vet $(TAGFLAG) ./...
	go test $(TAGFLAG) -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory test-postgis

# test-postgis is the second engine's pass: the API scenarios, the store
# suites and the commands' PostGIS test, on fresh PostGIS databases. The
# API scenarios run without the race detector here: it has watched the
# api package in the first pass, and under it this pass alone would take
# most of CI's time; the store's concurrent scenarios keep it.
test-postgis:
ifeq ($(strip $(PGTEST)),)
	@if [ "$$CI" = true ]; then echo "FAIL: PGTEST is empty, and CI must run the suite on PostGIS too"; exit 1; fi
	@echo "######## SKIPPED: the PostGIS pass of the suite (PGTEST is empty) ########"
else
	POSTWATCH_TEST_PG='$(PGTEST)' go test $(TAGFLAG) -race -count=1 -timeout 20m ./store/postgis ./store/storetest
	POSTWATCH_TEST_PG='$(PGTEST)' go test $(TAGFLAG) -count=1 -timeout 20m ./api
	POSTWATCH_TEST_PG='$(PGTEST)' go test $(TAGFLAG) -race -count=1 -timeout 10m -run 'PostGIS' ./cmd/postwatch
endif

test-short:
	go test $(TAGFLAG) -count=1 -short ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet $(TAGFLAG) ./...

# bench runs the project's own benchmarks. The store's run on a database of
# POSTWATCH_BENCH_N synthetic incidents (default 1,000,000) cached at
# POSTWATCH_BENCH_DB (default in $TMPDIR); building it once takes minutes.
bench:
	go test $(TAGFLAG) -run '^$$' -bench . -skip 'AlertOutage$$' -benchmem -timeout 120m ./...

# bench-alerts runs the alert delivery benchmarks of docs/performance.md,
# "Alert delivery": (a) 1,000 writes at 100/s, (b) a 20,000-write burst,
# (d) write latency beside a hanging endpoint (2 × 30 s). On PostGIS with
# POSTWATCH_TEST_PG set to a server URL, as for the tests.
bench-alerts:
	go test $(TAGFLAG) -run '^$$' -bench 'AlertDelivery$$' -benchtime 1000x ./delivery/
	go test $(TAGFLAG) -run '^$$' -bench 'Alert(Burst|Hang)$$' -benchtime 1x -timeout 30m ./delivery/

# bench-outage is (c): a webhook endpoint down for POSTWATCH_BENCH_OUTAGE
# (default 10m), then every alert counted. About 40 min, nearly all idle
# waiting for the retry schedule; `make bench` leaves it out.
bench-outage:
	go test $(TAGFLAG) -run '^$$' -bench 'AlertOutage$$' -benchtime 1x -timeout 90m ./delivery/

# bench-short is bench on 100,000 incidents: a quick check, not the yardstick.
bench-short:
	POSTWATCH_BENCH_N=100000 go test $(TAGFLAG) -run '^$$' -bench . -skip 'AlertOutage$$' -benchmem -timeout 30m ./...

# fuzz runs every fuzz target of the project for FUZZTIME each; a crasher
# is saved under PKG/testdata/fuzz/NAME/, where `make test` replays it.
FUZZTIME    ?= 30s
FUZZPKGS    := ./api ./store ./store/sqlite ./cmd/postwatch

fuzz:
	@failed=""; for pkg in $(FUZZPKGS); do \
		for name in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$pkg/*_test.go | cut -c6-); do \
			echo "== $$pkg $$name ($(FUZZTIME))"; \
			go test $(TAGFLAG) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg/ || failed="$$failed $$name"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (crashers are saved under PKG/testdata/fuzz/)"; exit 1; fi

clean:
	rm -rf bin
