#!/usr/bin/env bash
# fuzz.sh - run every libFuzzer target (fuzz_*) in a build directory for SECONDS seconds each.
#
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS     (called by `make fuzz`)
#
# Each target fuzz_NAME starts from a copy of tests/fuzz/corpus/NAME/ in a temporary directory
# (the seeds in the repository are never modified). A crash, leak, timeout or out-of-memory makes
# the script exit non-zero; the reproducer is kept in BUILD_DIR/fuzz-artifacts/.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
if [ ! -d "$1" ]; then
    echo "fuzz.sh: no build directory $1" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
case $seconds in
'' | *[!0-9]* | 0)
    echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
work=$(mktemp -d "${TMPDIR:-/tmp}/hookmq-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

targets=()
for t in "$build"/fuzz_*; do
    if [ -f "$t" ] && [ -x "$t" ]; then targets+=("$t"); fi
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz_* targets in $build (configure with CC=clang -DHOOKMQ_FUZZ=ON)" >&2
    exit 1
fi

failed=()
for t in "${targets[@]}"; do
    name=$(basename "$t")
    corpus=$work/$name
    mkdir -p "$corpus"
    seeds=$root/tests/fuzz/corpus/${name#fuzz_}
    if [ -d "$seeds" ]; then cp -R "$seeds"/. "$corpus"/; fi
    echo "== $name: ${seconds}s, $(find "$corpus" -type f | wc -l) seed file(s)"
    log=$artifacts/$name.log
    if (cd "$work" && "$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$corpus") >"$log" 2>&1; then
        echo "== $name: ok, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') inputs"
    else
        tail -n 40 "$log" >&2
        echo "== $name: FAILED (log $log, reproducer in $artifacts/)" >&2
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz.sh: failing targets: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) ran ${seconds}s without a crash"
