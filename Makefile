# olapgate. `make help` lists the targets. The README's two commands are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

# Code generators, pinned: regenerating with other versions would show as drift.
BUF_VERSION          := v1.47.2
PROTOC_GEN_GO        := v1.36.5
PROTOC_GEN_GO_GRPC   := v1.5.1
GRPC_GATEWAY_VERSION := v2.26.3

.DEFAULT_GOAL := help

.PHONY: help
help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## run `olapgate serve` on the embedded store (./data, HTTP :8080, gRPC :9090)
	$(GO) run ./cmd/olapgate serve $(ARGS)

.PHONY: build
build: ## build bin/olapgate
	$(GO) build -o bin/olapgate ./cmd/olapgate

.PHONY: tools
tools: ## install the pinned code generators into $(GOBIN)
	$(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC)
	$(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	$(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

.PHONY: generate
generate: ## regenerate gen/ from proto/ (buf, local plugins only)
	buf lint
	buf generate

.PHONY: check-generate
check-generate: generate ## fail when the committed generated code differs from a fresh generation
	@if ! git diff --quiet -- gen/ || [ -n "$$(git ls-files --others --exclude-standard gen/)" ]; then \
		echo "generated code is stale: run 'make generate' and commit gen/"; git status --short gen/; exit 1; fi

.PHONY: lint
lint: ## gofmt, go vet, buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	buf lint

.PHONY: test
test: tools check-generate lint ## everything CI checks: generated code, lint, all tests with -race
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## unit tests only, no race detector (fast loop)
	$(GO) test -short ./...

.PHONY: bench
bench: ## the benchmarks recorded in BENCHMARKS.md (see there for the interleaved runs)
	$(GO) test -run '^$$' -bench . -benchtime 2s -cpu 1 ./ingest/decode/
	$(GO) test -run '^$$' -bench 'WriteVsBaseline' -benchtime 100x ./store/embedded/
	$(GO) test -run '^$$' -bench 'PushIngest|QueryLatency' -benchtime 20x ./e2e/

.PHONY: fuzz
FUZZ_TARGETS := ./ingest/decode/:FuzzJSON ./ingest/decode/:FuzzRFC3339 ./ingest/decode/:FuzzJSONInt \
	./gateway/:FuzzIngestHandler ./gateway/:FuzzQueryHandler ./internal/jsonstr/:FuzzAppend ./planner/:FuzzPlan \
	./collector/:FuzzTracesHTTP ./collector/:FuzzLogsHTTP ./collector/:FuzzMetricsHTTP \
	./collector/otelrows/:FuzzAppendString ./collector/telemetry/:FuzzParseJSONObject \
	./loadtest/schedule/:FuzzParse ./loadtest/threshold/:FuzzParse \
	./planner/:FuzzPlanPinot ./store/pinot/:FuzzDecodeResponse \
	./ingest/pipeline/:FuzzFieldString ./ingest/pipeline/:FuzzPipeline
fuzz: ## run each fuzz target for FUZZTIME (default 30s); seed corpora live in testdata/fuzz
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; done
