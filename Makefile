# quicpush — see README.md. Every target is self-contained on a fresh machine
# with Go (and Node for the browser client) installed: the test and cluster
# targets install the Debian packages they call with scripts/deps.sh (as root
# or with passwordless sudo; otherwise it prints the command to run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

# go.mod names the toolchain (a Go patch release with the security fixes the
# vulnerability check asks for); "auto" lets the go command fetch it from the
# module proxy when the installed Go is older.
export GOTOOLCHAIN := auto

# The tools' paths are absolute so that they also run from perf/.
BUF := go tool -modfile=$(CURDIR)/tools/go.mod buf
GOLANGCI_LINT := go tool -modfile=$(CURDIR)/tools/go.mod golangci-lint
GOVULNCHECK := go tool -modfile=$(CURDIR)/tools/go.mod govulncheck
HELM := go tool -modfile=$(CURDIR)/tools/go.mod helm
BIN := bin
# perf/ (the load generator) is a module of its own, so that its plotting
# and load dependencies stay out of the server's go.mod. `go test ./...` and
# the other `./...` patterns of the root module do not reach into it: every
# target that checks the Go code runs it in PERF too.
PERF := perf

.PHONY: help
help: ## Describe useful make targets
	@grep -E '^[a-zA-Z_-]+:.*?## .*$$' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "%-16s %s\n", $$1, $$2}'

# CONFIG, when set, is a configuration file for make run (docs/configuration.md).
CONFIG ?=

.PHONY: run
run: ## Run quicpush in one process with a development certificate and the admin page (its address and token in the banner); CONFIG=FILE adds a configuration file
	go run ./cmd/quicpush serve --admin-ui $(if $(CONFIG),--config $(CONFIG))

.PHONY: build
build: ## Build bin/quicpush
	go build -o $(BIN)/quicpush ./cmd/quicpush

.PHONY: cluster
cluster: build kafka-libs ## Run a local cluster: Kafka, Redis, 1 api, 2 cores, 2 edges (Ctrl-C stops it)
	go run ./cmd/devcluster --bin $(BIN)/quicpush

.PHONY: deps-go
deps-go: ## Install what the Go tests and the cluster call: curl, git, redis-server, Java, Maven (scripts/deps.sh)
	scripts/deps.sh go

.PHONY: deps-js
deps-js: ## Install what the browser client's tests call: chromium (scripts/deps.sh)
	scripts/deps.sh js

.PHONY: deps-java
deps-java: ## Install what the Android/JVM client's build calls: a JDK and Maven (scripts/deps.sh)
	scripts/deps.sh java

.PHONY: kafka-libs
kafka-libs: deps-go ## Fetch the Apache Kafka jars the cluster and its tests run (Maven; cached in .cache/)
	scripts/kafka/fetch.sh >/dev/null

.PHONY: test
test: test-go test-js test-java ## Run every test: Go (race detector), the browser client in headless Chromium, the Java client

.PHONY: test-go
test-go: deps-go kafka-libs ## Vet and run the Go tests (unit, end-to-end, cluster on kfake and on a real Kafka broker and redis-server) with the race detector
	go vet ./...
	go test -race -count=1 -timeout 20m ./...
	$(MAKE) test-0rtt
	cd $(PERF) && go vet ./... && go test -race -count=1 ./...

.PHONY: test-0rtt
test-0rtt: ## The 0-RTT tests once more without the race detector, under which QUIC dials wait for the handshake (internal/frameconn/conn_quic.go)
	go test -count=1 -run 'ZeroRTT|0RTT|Tickets|ReconnectCost|Rejoins' ./e2e ./clients/go

.PHONY: test-js
test-js: deps-js build ## Browser client: dist/ freshness, unit tests, end-to-end in headless Chromium
	cd clients/js && npm ci --no-audit --no-fund && npm run check:dist && npm test && \
		QUICPUSH_BIN=$(CURDIR)/$(BIN)/quicpush npm run test:e2e

.PHONY: admin-screenshot
admin-screenshot: deps-js build ## Update docs/admin.png: the admin page's test in headless Chromium (part of test-js) with its screenshot copied there
	cd clients/js && npm ci --no-audit --no-fund && node scripts/build.mjs && \
		QUICPUSH_BIN=$(CURDIR)/$(BIN)/quicpush ADMIN_SCREENSHOT=$(CURDIR)/docs/admin.png \
		node --test --test-name-pattern 'admin page' e2e/run.mjs

.PHONY: test-java
test-java: deps-java build ## Android/JVM client (clients/java, Maven): codec vectors, property tests, end-to-end against bin/quicpush
	cd clients/java && mvn -B -q -Dquicpush.bin=$(CURDIR)/$(BIN)/quicpush verify

.PHONY: java-listen
java-listen: ## Run the Java client's example against `make run`: make java-listen HASH=<hex from serve's banner> TOKEN=<quicpush token> [ROOM=news]
	cd clients/java && mvn -B -q -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt && \
		java -cp "target/classes:target/test-classes:$$(cat target/classpath.txt)" io.github.quicpush.client.example.Listen \
			--token "$(TOKEN)" --cert-hash "$(HASH)" --room "$${ROOM:-news}"

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
lint: ## Check formatting, vet, golangci-lint (.golangci.yml), proto lint, go.mod tidiness (the root module and perf/) and dependency licences
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || (gofmt -l . ; exit 1)
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	$(BUF) lint
	go mod tidy -diff
	$(MAKE) --no-print-directory lint-chart
	cd $(PERF) && go vet ./...
	cd $(PERF) && $(GOLANGCI_LINT) run --config $(CURDIR)/.golangci.yml ./...
	cd $(PERF) && go mod tidy -diff
	$(MAKE) lint-licences

# lint-licences: the licence of every Go module the root module and perf/
# link (go-licenses, pinned in tools/go.mod, reading the module cache: run
# `go mod download` there first, as CI does) and of every npm package
# clients/js ships (from its package-lock.json), judged by the policy in
# scripts/licences.txt, which says what is checked and why. Its test comes
# first: a denied licence must fail the check.
.PHONY: lint-licences
lint-licences: ## List every shipped dependency's licence (Go modules, npm packages); fail on one scripts/licences.txt does not allow
	scripts/licences-test.sh
	scripts/licences.sh

# lint-chart: the Helm chart (docs/deploy.md) must lint cleanly and render,
# with its default values (edges as a hostNetwork DaemonSet, a generated
# Secret) and with each file in its ci/ folder, which switch on the
# alternatives. Rendering needs no cluster: the Secret's lookup of earlier
# values finds nothing and generates them. Each render is checked for the
# kinds it must hold, so a values switch cannot silently drop an object.
CHART := deploy/helm/quicpush

.PHONY: lint-chart
lint-chart: ## Check the Helm chart (deploy/helm/quicpush): helm lint --strict and helm template, default values and ci/*-values.yaml
	@mkdir -p .cache
	$(HELM) lint --strict $(CHART)
	for f in $(CHART)/ci/*-values.yaml; do $(HELM) lint --strict $(CHART) -f "$$f"; done
	$(HELM) template quicpush $(CHART) >.cache/chart-default.yaml
	$(HELM) template quicpush $(CHART) -f $(CHART)/ci/alternatives-values.yaml >.cache/chart-alternatives.yaml
	@kinds() { grep '^kind: ' "$$1" | sort -u | cut -d' ' -f2 | tr '\n' ' '; }; \
	check() { [[ "$$(kinds "$$1")" == "$$2" ]] || { echo "lint-chart: $$1 renders $$(kinds "$$1"), want $$2"; exit 1; }; }; \
	check .cache/chart-default.yaml "ConfigMap DaemonSet Deployment PodDisruptionBudget Secret Service "; \
	check .cache/chart-alternatives.yaml "ConfigMap Deployment PodDisruptionBudget Service "; \
	grep -q 'type: LoadBalancer' .cache/chart-alternatives.yaml || { echo "lint-chart: no LoadBalancer Service in front of the edges"; exit 1; }

# vulncheck: govulncheck against an offline copy of the Go vulnerability
# database, built by scripts/vulndb.sh from the golang.org/x/vulndb version
# pinned there (vuln.go.dev is not reachable here; the database is as fresh as
# that pin, see the script's header to bump it). govulncheck exits 3 when the
# code reaches a known vulnerability (it runs in the root module, then in perf/,
# and their findings are pooled); the ones listed in
# scripts/vulncheck-allow.txt (each with its reason and its fix) are tolerated
# until fixed, anything else fails, and a listed one that is no longer found is
# named so that its line goes.
VULNCHECK_ALLOW := scripts/vulncheck-allow.txt

.PHONY: vulncheck
vulncheck: ## Known vulnerabilities the code reaches (govulncheck, offline database; the root module and perf/); fails on any not in scripts/vulncheck-allow.txt
	@db="$$(scripts/vulndb.sh)"; out="$(CURDIR)/.cache/govulncheck.txt"; rc=0; : >"$$out"; \
	for dir in . $(PERF); do \
		echo "$(GOVULNCHECK) -db file://$$db -C $$dir ./..."; \
		r=0; $(GOVULNCHECK) -db "file://$$db" -C "$$dir" ./... >>"$$out" || r=$$?; \
		if ((r != 0 && r != 3)); then cat "$$out"; exit "$$r"; fi; \
		rc=$$((rc > r ? rc : r)); \
	done; \
	cat "$$out"; \
	found="$$(sed -n 's/^Vulnerability #[0-9]*: \(GO-[0-9]*-[0-9]*\)$$/\1/p' "$$out" | sort -u)"; \
	allowed="$$(sed -n 's/^\(GO-[0-9]*-[0-9]*\).*/\1/p' $(VULNCHECK_ALLOW) | sort -u)"; \
	if ((rc == 3)) && [[ -z $$found ]]; then echo "vulncheck: exit 3 but no finding parsed"; exit 1; fi; \
	gone="$$(comm -13 <(printf '%s\n' $$found) <(printf '%s\n' $$allowed))"; \
	new="$$(comm -23 <(printf '%s\n' $$found) <(printf '%s\n' $$allowed))"; \
	if [[ -n $$gone ]]; then echo "vulncheck: no longer found, delete from $(VULNCHECK_ALLOW):" $$gone; fi; \
	if [[ -n $$new ]]; then echo "vulncheck: FAIL: not in $(VULNCHECK_ALLOW):" $$new; exit 1; fi; \
	echo "vulncheck: ok ($$(wc -w <<<"$$found") known and listed in $(VULNCHECK_ALLOW))"

# breaking: proto/ must stay wire- and JSON-compatible (buf.yaml's FILE rules,
# which also keep the generated Go and JS code source-compatible). The baseline
# is proto/ as it was before its most recent change: the parent of the last
# commit that touched proto/. When HEAD changed proto/ that is simply HEAD~1;
# when it did not, the last change is still the one checked, so a breaking
# commit cannot slip through by being followed by unrelated commits in the same
# push, and CI stays red until it is fixed. (Comparing with HEAD~1 alone would
# pass as soon as any commit came after the breaking one.) With uncommitted
# changes under proto/ the baseline is HEAD, to check the work in progress.
# BREAKING_AGAINST=<ref> compares with any other commit, e.g. a release tag. A
# deliberate break is recorded in buf.yaml (breaking.ignore_only) and reviewed
# there. Needs the full history (CI clones it whole); a shallow clone fails.
.PHONY: breaking
breaking: ## Fail if proto/ breaks wire or JSON compatibility with its previous version (buf breaking)
	@if [[ -n "$${BREAKING_AGAINST:-}" ]]; then \
		base="$$(git rev-parse --verify "$$BREAKING_AGAINST^{commit}")"; \
	elif [[ "$$(git rev-parse --is-shallow-repository)" == true ]]; then \
		echo "make breaking: a shallow clone lacks the history to compare with (git fetch --unshallow)"; exit 1; \
	elif ! git diff --quiet HEAD -- proto || [[ -n "$$(git ls-files --others --exclude-standard -- proto)" ]]; then \
		base="$$(git rev-parse HEAD)"; \
	else \
		last="$$(git log -1 --format=%H -- proto)"; \
		if [[ -z $$last ]] || ! git cat-file -e "$$last~1:proto" 2>/dev/null; then \
			echo "make breaking: no earlier proto/ to compare with"; exit 0; \
		fi; \
		base="$$(git rev-parse "$$last~1")"; \
	fi; \
	echo "$(BUF) breaking --against .git#ref=$$base"; \
	$(BUF) breaking --against ".git#ref=$$base,depth=1"

.PHONY: bench
bench: ## Run the Go micro-benchmarks and the bounded load suite in perf/
	go test -run '^$$' -bench . -benchmem ./wire/ ./edge/
	./perf/bench.sh

.PHONY: soak
soak: kafka-libs ## Soak test: churn, pushes, slow and bad clients on a real server for SOAK (default 10m); leaks fail it
	QUICPUSH_SOAK=$${SOAK:-10m} go test ./e2e -run '^TestSoak$$' -count=1 -v -timeout 60m

# fuzz finds every Go fuzz target (a package with a `func Fuzz` test file, then
# `go test -list`, so new targets join by themselves) and runs each for
# FUZZTIME, one at a time; FUZZMINIMIZETIME bounds the shrinking of each new
# input. It goes on past a failing target and fails at the end. A crasher is
# written to the package's testdata/fuzz/<target>/, which plain `go test`
# (make test) replays: keep it as the regression test of the fix.
.PHONY: fuzz
fuzz: ## Run every Go fuzz target for FUZZTIME each (default 30s), one at a time
	@failed=""; \
	for pkg in $$(find . -name '*_test.go' -not -path '*/node_modules/*' -not -path './.git/*' \
			-exec grep -l '^func Fuzz' {} + | xargs -n1 dirname | sort -u); do \
		list=$$(go test -list '^Fuzz' "$$pkg") || { failed="$$failed $$pkg"; continue; }; \
		for f in $$(grep '^Fuzz' <<<"$$list"); do \
			echo "== $$pkg $$f (fuzztime $${FUZZTIME:-30s})"; \
			go test "$$pkg" -run '^$$' -fuzz "^$$f$$" -fuzztime "$${FUZZTIME:-30s}" \
				-fuzzminimizetime "$${FUZZMINIMIZETIME:-10s}" || failed="$$failed $$pkg:$$f"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi
