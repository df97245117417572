# netanomaly: `make demo` runs the main job on real data, `make test` runs the whole suite.
# Both install what they need from the project's own files (npm ci, Debian packages).

SHELL := /bin/bash
SHARED_DATA := $(abspath ../shared/datasets)
export NETANOMALY_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export TZ := UTC

NODE_STAMP := node_modules/.install-stamp
SYS_STAMP := .system-deps-stamp

.PHONY: demo test lint format deps system-deps bench notebooks

deps: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

system-deps:
	bash scripts/install-system-deps.sh

demo: deps
	node_modules/.bin/tsx src/cli/main.ts demo

lint: deps
	node_modules/.bin/biome check .
	node node_modules/typescript/bin/tsc --noEmit -p .

format: deps
	node_modules/.bin/biome format --write .

test: deps system-deps lint
	node scripts/run-tests.mjs

# Speed benchmarks (ratios measured in one run); results recorded in docs/benchmarks.md.
bench: deps system-deps
	node_modules/.bin/tsx benchmarks/run.ts --json --elbow
	node_modules/.bin/tsx benchmarks/web-latency.ts
	node_modules/.bin/tsx benchmarks/traffic-ingest.ts 5
	node_modules/.bin/tsx benchmarks/flowexport.ts
