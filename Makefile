# quicpush — see README.md. Every target is self-contained on a fresh machine
# with Go installed; .ci/run installs the rest.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

BUF := go tool -modfile=tools/go.mod buf
BIN := bin

.PHONY: help
help: ## Describe useful make targets
	@grep -E '^[a-zA-Z_-]+:.*?## .*$$' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "%-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run quicpush in one process with a development certificate
	go run ./cmd/quicpush serve

.PHONY: build
build: ## Build bin/quicpush
	go build -o $(BIN)/quicpush ./cmd/quicpush

.PHONY: cluster
cluster: build kafka-libs ## Run a local cluster: Kafka, Redis, 1 api, 2 cores, 2 edges (Ctrl-C stops it)
	@command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server"; exit 1; }
	go run ./cmd/devcluster --bin $(BIN)/quicpush

.PHONY: kafka-libs
kafka-libs: ## Fetch the Apache Kafka jars the cluster and its tests run (Maven; cached in .cache/)
	scripts/kafka/fetch.sh >/dev/null

.PHONY: test
test: test-go test-js ## Run every test: Go (race detector) and the browser client in headless Chromium

.PHONY: test-go
test-go: kafka-libs ## Vet and run the Go tests (unit, end-to-end, cluster on kfake and on a real Kafka broker and redis-server) with the race detector
	@command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server (see .ci/run)"; exit 1; }
	go vet ./...
	go test -race -count=1 -timeout 20m ./...

.PHONY: test-js
test-js: build ## Browser client: dist/ freshness, unit tests, end-to-end in headless Chromium
	@command -v chromium >/dev/null || { echo "chromium is missing: apt-get install chromium (see .ci/run)"; exit 1; }
	cd clients/js && npm ci --no-audit --no-fund && npm run check:dist && npm test && \
		QUICPUSH_BIN=$(CURDIR)/$(BIN)/quicpush npm run test:e2e

# protoc-gen-es (the Node push API client's generator) comes from clients/js's
# pinned devDependencies.
clients/js/node_modules/.bin/protoc-gen-es: clients/js/package-lock.json
	cd clients/js && npm ci --no-audit --no-fund
	touch $@

.PHONY: generate
generate: clients/js/node_modules/.bin/protoc-gen-es ## Regenerate code from proto/
	$(BUF) format -w
	$(BUF) generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail if generated code is stale
	git diff --exit-code -- proto gen clients/js/src/api/gen
	test -z "$$(git status --porcelain --untracked-files=all -- gen clients/js/src/api/gen)"

.PHONY: lint
lint: ## Check formatting, vet and proto lint
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || (gofmt -l . ; exit 1)
	go vet ./...
	$(BUF) lint
	go mod tidy -diff

.PHONY: bench
bench: ## Run the Go micro-benchmarks and the bounded load suite in perf/
	go test -run '^$$' -bench . -benchmem ./wire/ ./edge/
	./perf/bench.sh

.PHONY: soak
soak: kafka-libs ## Soak test: churn, pushes, slow and bad clients on a real server for SOAK (default 10m); leaks fail it
	QUICPUSH_SOAK=$${SOAK:-10m} go test ./e2e -run '^TestSoak$$' -count=1 -v -timeout 60m

.PHONY: fuzz
fuzz: ## Fuzz every wire decoder for FUZZTIME each (default 30s)
	for f in FuzzSplit FuzzFrameReader FuzzPushRoundTrip; do \
		go test ./wire -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s}; \
	done
