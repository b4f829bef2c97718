#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target on nightly and runs each for SECONDS
# (default 20) from its committed seed corpus. Any crash, leak or timeout fails the run.
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Installs cargo-fuzz when missing (`cargo install cargo-fuzz --locked`, about 2.5 min).
# Runs copy the committed corpus to fuzz/target/smoke-corpus/ first, so new inputs found
# here do not dirty the work tree; crashes land in fuzz/artifacts/<target>/.
# The whole script is bounded by `timeout`: install + build + targets × (SECONDS + slack).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/../fuzz"
SECONDS_PER_TARGET="${1:-20}"
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
# One overall bound: install (15 min) + build (30 min) + 11 targets x (SECONDS + 2 min).
if [ -z "${FUZZ_SMOKE_BOUNDED:-}" ]; then
    FUZZ_SMOKE_BOUNDED=1 exec timeout $((900 + 1800 + 11 * (SECONDS_PER_TARGET + 120))) "$self" "$@"
fi
start=$SECONDS
step() { printf '\n==== %s (%ss)\n' "$1" "$((SECONDS - start))"; }

step "toolchain"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    timeout 900 cargo install cargo-fuzz --locked
fi

step "building every target (nightly, ASan)"
timeout 1800 cargo +nightly fuzz build

targets=$(cargo +nightly fuzz list)
failed=()
for target in $targets; do
    step "fuzzing $target for ${SECONDS_PER_TARGET}s"
    corpus="target/smoke-corpus/$target"
    rm -rf "$corpus" && mkdir -p "$corpus"
    cp corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    # -max_total_time stops libFuzzer; timeout is the backstop for a hung target.
    status=0
    timeout $((SECONDS_PER_TARGET + 120)) cargo +nightly fuzz run "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"target/smoke-$target.log" 2>&1 || status=$?
    grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|ERROR|SUMMARY' "target/smoke-$target.log" | tail -3 || true
    if [ "$status" -ne 0 ]; then
        echo "FAILED ($status): $target (see fuzz/target/smoke-$target.log and fuzz/artifacts/$target/)"
        failed+=("$target")
    fi
done

step "done"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "crashing targets: ${failed[*]}"
    exit 1
fi
echo "all $(echo $targets | wc -w) targets ran ${SECONDS_PER_TARGET}s without a crash"
