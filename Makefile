# Gatehouse. `make test` is the test command CI runs; `make run` starts the demo.
GO       ?= go
VERSION  ?= $(shell cat cmd/gatehouse/VERSION)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The binary's version is cmd/gatehouse/VERSION, embedded; VERSION here tags
# and labels the image (and must equal the file: the Dockerfile checks).
LDFLAGS  := -s -w -X main.commit=$(COMMIT)
BIN      := bin/gatehouse
# staticcheck, pinned: `go run` fetches it through the module proxy on first
# use and caches the binary; go.mod stays free of it.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build test lint vet fmt bench run image clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatehouse

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# vet and the gofmt check, then staticcheck (its default checks; a finding
# kept on purpose carries a //lint:ignore with its reason).
lint: vet
	$(GO) run $(STATICCHECK) ./...

# The README's test command: lint, then every test with the race detector
# (Redis tests start real redis-server processes; browser tests drive chromium).
# Most packages wait on processes (Redis failovers, browsers, the IdP)
# more than they compute, so TEST_P packages run at once (go test's default
# is one per core); ./cmd/gatehouse, the longest, is named first so that
# it starts first. A race binary sleeps atexit_sleep_ms (default 1 s)
# before it exits, once per package: 100 ms still catches a race in a
# goroutine that outlives the tests. A GORACE of your own replaces this.
TEST_P   ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && echo $$n || echo 4)
# TestHotPathAllocations counts allocations, which the race detector
# changes, so it skips itself under -race and runs once more without it.
test: lint
	GORACE="$${GORACE:-atexit_sleep_ms=100}" $(GO) test -race -p $(TEST_P) -timeout 20m ./cmd/gatehouse ./...
	$(GO) test -run '^TestHotPathAllocations$$' ./proxy/

# Side-by-side benchmarks: the in-process Go benchmarks, then the load
# benchmark (README.md, "Performance"): real processes, pinned with taskset,
# every scenario in -rounds interleaved rounds (default 3), medians, goals.
# E.g. make bench BENCH_FLAGS="-duration 8s -warmup 3s -rounds 5".
BENCH_FLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./proxy/ | tee bench.txt
	$(GO) run ./bench $(BENCH_FLAGS) | tee -a bench.txt

# The demo: the echo upstream on :3000 and Gatehouse on :8080.
run: build
	@echo "demo-upstream on http://127.0.0.1:3000, Gatehouse on http://127.0.0.1:8080 (admin on :9090)"
	@echo ""
	@echo "Try:"
	@echo "  curl -i http://127.0.0.1:8080/public/hello                      # auth: none"
	@echo "  curl -i http://127.0.0.1:8080/api/things                        # auth: jwt -> 401"
	@echo "  TOKEN=\$$($(BIN) token -config testdata/demo/gatehouse.yaml -sub alice -claim groups='[\"staff\"]')"
	@echo "  curl -i -H \"Authorization: Bearer \$$TOKEN\" http://127.0.0.1:8080/api/things   # 200, X-Auth-User: alice"
	@echo "  open http://127.0.0.1:8080/ in a browser (alice / alice-demo-password)"
	@echo "  curl -s http://127.0.0.1:9090/metrics | grep gatehouse_requests_total"
	@echo ""
	@# Ctrl-C reaches both processes (one process group); the trap only
	@# cleans up when Gatehouse exits on its own, and clears itself first so
	@# that it cannot re-trigger.
	@$(BIN) demo-upstream -listen 127.0.0.1:3000 & up=$$!; \
	trap 'trap - EXIT INT TERM; kill $$up 2>/dev/null; wait $$up 2>/dev/null; exit 0' EXIT INT TERM; \
	$(BIN) serve -config testdata/demo/gatehouse.yaml

image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t gatehouse:$(VERSION) .

clean:
	rm -rf bin bench.txt
