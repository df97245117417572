# netanomaly: `make demo` runs the main job on real data, `make test` runs the whole suite.
# Both install what they need from the project's own files (npm ci, Debian packages).

SHELL := /bin/bash
SHARED_DATA := $(abspath ../shared/datasets)
export NETANOMALY_DATA_DIR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),)
export TZ := UTC

NODE_STAMP := node_modules/.install-stamp
SYS_STAMP := .system-deps-stamp

.PHONY: demo test lint format deps system-deps bench notebooks notebooks-tfjs dist lab bench-clickhouse

deps: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
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

test: deps system-deps lint dist
	node scripts/run-tests.mjs

# The typed library for the notebooks: dist/ (JavaScript + .d.ts), rebuilt when src/ changed.
dist: deps
	node scripts/build-dist.mjs --if-stale

# Execute every notebook, render HTML (test-output/notebooks/); the -tfjs variant sets ENGINE = 'tfjs'.
notebooks: deps dist
	/usr/bin/python3 scripts/run-notebooks.py --html
notebooks-tfjs: deps dist
	/usr/bin/python3 scripts/run-notebooks.py --html --set-engine tfjs --budget 900

# Speed benchmarks (ratios measured in one run); results recorded in docs/benchmarks.md.
bench: deps system-deps
	node_modules/.bin/tsx benchmarks/run.ts --json --elbow
	node_modules/.bin/tsx benchmarks/web-latency.ts
	node_modules/.bin/tsx benchmarks/traffic-ingest.ts 5
	nice -n 10 node_modules/.bin/tsx benchmarks/large-capture.ts
	node_modules/.bin/tsx benchmarks/flowexport.ts

# Long fuzz run: every parser, >= 1 M seeded inputs each, in-process loops in child processes with a
# hang watchdog (counts per parser printed and written to test-output/fuzz-results.json).
# FUZZ_ARGS="--targets pcap,kdd --minutes 10 --jobs 1" narrows it; see docs/reliability.md.
.PHONY: fuzz
fuzz: deps
	@mkdir -p test-output
	nice -n 19 node --expose-gc --import tsx scripts/fuzz.ts --count $(or $(FUZZ_COUNT),1000000) --out test-output/fuzz-results.json $(FUZZ_ARGS)

# Coverage-guided vs blind mutation, same seeds and mutations (V8 block coverage of src/):
# test-output/fuzz-guided.json; FUZZ_GUIDED_ARGS="--targets kdd,zeek --count 50000".
.PHONY: fuzz-guided
fuzz-guided: deps
	@mkdir -p test-output
	nice -n 19 node --import tsx scripts/fuzz-guided.ts --out test-output/fuzz-guided.json $(FUZZ_GUIDED_ARGS)

# The traffic lab (root): a benign run, a run with every attack scenario, then the flow-level
# evaluation of one against the other. Captures stay outside the repository. The benign run is as
# long as the attack run: the 10-minute host windows are still filling up in a 3-minute run, so a
# shorter training run never saw the counts of the test run's last minute (docs/detection.md).
LAB_DIR ?= /tmp/netanomaly-lab
lab: deps system-deps
	node_modules/.bin/tsx src/cli/main.ts lab run -o $(LAB_DIR)/lab-a --duration 180 --seed 1 --scenarios none
	node_modules/.bin/tsx src/cli/main.ts lab run -o $(LAB_DIR)/lab-b --duration 180 --seed 2 --scenarios all
	node_modules/.bin/tsx src/cli/main.ts evaluate --lab $(LAB_DIR)/lab-a --test $(LAB_DIR)/lab-b --json > $(LAB_DIR)/evaluation.json && cat $(LAB_DIR)/evaluation.json

# Scale-out on ClickHouse: in-database vs in-process scoring and Lloyd, 1 vs 2 shards (starts its own servers).
bench-clickhouse: deps system-deps
	node_modules/.bin/tsx benchmarks/clickhouse.ts 10000

# The must-show at full size (KDD Cup 99 10 % in, all of corrected.gz scored by the exported SQL on
# 2 shards, compared with `score --jsonl`); CH_TRAIN_ARGS="--ensemble-k 16,32" shortens training.
.PHONY: clickhouse-full
clickhouse-full: deps system-deps
	nice -n 10 node_modules/.bin/tsx benchmarks/clickhouse-full.ts -- $(CH_TRAIN_ARGS)
