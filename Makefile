# postwatch — the front door. One set of SQLite build tags everywhere, so
# the cgo build of SQLite is cached once and reused.
TAGS      := sqlite_fts5,sqlite_math_functions
TAGFLAG   := -tags=$(TAGS)
DB        ?= ./postwatch.db
ADDR      ?= 127.0.0.1:8080
export CGO_ENABLED := 1

.PHONY: run build test test-short lint bench fuzz clean

build:
	go build $(TAGFLAG) -o bin/postwatch ./cmd/postwatch

run: build
	bin/postwatch serve --addr $(ADDR) --db $(DB) --seed

test:
	go vet $(TAGFLAG) ./...
	go test $(TAGFLAG) -race -count=1 -timeout 20m ./...

test-short:
	go test $(TAGFLAG) -count=1 -short ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet $(TAGFLAG) ./...

bench:
	go test $(TAGFLAG) -run '^$$' -bench . -benchmem -timeout 60m ./...

clean:
	rm -rf bin
