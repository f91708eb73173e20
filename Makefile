# Profiles Sync. `make run` starts everything on embedded defaults; `make test`
# runs the checks and the tests against real services.

GO               ?= go
TEMPORAL_VERSION := v1.5.1
# The pinned Temporal CLI is built once per machine and shared between clones.
TEMPORAL_CACHE   ?= $(HOME)/.cache/profilesync/temporal-$(TEMPORAL_VERSION)
TEMPORAL         := $(CURDIR)/bin/temporal
FUZZTIME         ?= 10s
# Tests talk to real services the build cache cannot see: always run them.
TESTFLAGS        ?= -count=1

.PHONY: all build run test vet lint workflowcheck fuzz bench node-deps clean

all: build

build: bin/profilesync bin/profilesync-worker

bin/profilesync: FORCE
	$(GO) build -o $@ ./starter

bin/profilesync-worker: FORCE
	$(GO) build -o $@ ./worker

FORCE:

bin/temporal:
	@mkdir -p bin
	@if [ ! -x "$(TEMPORAL_CACHE)/temporal" ]; then \
		echo "building the Temporal CLI $(TEMPORAL_VERSION) once (about 3 minutes)"; \
		GOBIN="$(TEMPORAL_CACHE)" $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VERSION); \
	fi
	cp "$(TEMPORAL_CACHE)/temporal" $@

node-deps: testdata/node/node_modules/.installed

testdata/node/node_modules/.installed: testdata/node/package.json testdata/node/package-lock.json
	cd testdata/node && npm ci --no-audit --no-fund
	touch $@

run: build bin/temporal
	./scripts/run.sh

vet:
	$(GO) vet ./...

lint: vet
	$(GO) tool staticcheck ./...
	$(GO) tool workflowcheck ./workflows/...

test: lint bin/temporal node-deps
	TEMPORAL_CLI=$(TEMPORAL) $(GO) test -race $(TESTFLAGS) -timeout 20m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseBatch$$' -fuzztime $(FUZZTIME) ./ingest
	$(GO) test -run '^$$' -fuzz '^FuzzExtractExternalIDs$$' -fuzztime $(FUZZTIME) ./identity
	$(GO) test -run '^$$' -fuzz '^FuzzColumnName$$' -fuzztime $(FUZZTIME) ./columns
	$(GO) test -run '^$$' -fuzz '^FuzzFlattenJSON$$' -fuzztime $(FUZZTIME) ./columns

bench: bin/temporal
	$(GO) test -run '^$$' -bench IngestToResolved -benchtime 1x -timeout 60m ./bench/
	$(GO) test -run '^$$' -bench IndexMemory -benchtime 1x ./identity/
	$(GO) test -run '^$$' -bench 'LoadIdentity|IncrementalSync' -benchtime 1x -timeout 60m ./adapters/postgres/
	$(GO) test -run '^$$' -bench LoadEventsVsIdentity -benchtime 1x -timeout 30m ./activities/

clean:
	rm -rf bin .data
