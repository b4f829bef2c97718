#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (rustup targets and the nightly
# components, Node and Python peers, Debian Chromium, the Autobahn TestSuite, QEMU), then runs every check.
# CI (`.ci/run`) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==== %s (%ss)\n' "$1" "$SECONDS"; }
mkdir -p target
TEST_FEATURES="tollgate-tokio/tls,tollgate-tokio/axum"

step "toolchain"
rustup target add thumbv7em-none-eabihf
rustup component add clippy rustfmt
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add miri rust-src

step "peer tools install in the background (apt: QEMU, Chromium; npm; pip; Autobahn)"
# Nothing before the tests needs them, so they download while the lints and the
# thumbv7em builds keep the cores busy. One lane, so apt runs once.
setup_log=target/setup.log
(
    set -e
    missing=""
    command -v qemu-system-arm >/dev/null || missing="qemu-system-arm"
    command -v arm-none-eabi-size >/dev/null || missing="$missing binutils-arm-none-eabi"
    [ -x /usr/bin/chromium ] || missing="$missing chromium"
    if [ -n "$missing" ]; then
        apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
        # shellcheck disable=SC2086
        apt_get install -y -qq $missing || { apt_get update -qq && apt_get install -y -qq $missing; }
    fi
    bash scripts/install-test-deps.sh
    bash scripts/install-autobahn.sh
) >"$setup_log" 2>&1 &
setup_pid=$!

step "format, lints, docs"
cargo fmt --all -- --check
(cd transport-embassy/examples/stm32f7 && cargo fmt -- --check)
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

step "thumbv7em-none-eabihf: the core (no_std, no heap), tollgate-embassy, the STM32F767 firmware example"
cargo build -p tollgate --target thumbv7em-none-eabihf --release --locked
cargo build -p tollgate --target thumbv7em-none-eabihf --release --locked --no-default-features --features es256
cargo build -p tollgate-embassy --target thumbv7em-none-eabihf --release --locked
(cd transport-embassy/examples/stm32f7 && cargo build --release --locked)

step "fuzz smoke and Miri start in the background (their own lane; reported at the end)"
# cargo-fuzz (every target 10 s, any crash fails) then Miri (the core's parsers and codec).
# Both are single-threaded once built, and the tests below spend much of their time waiting
# on clients and timers, so the lanes share the two cores well.
(bash scripts/fuzz-smoke.sh 10 && bash scripts/miri.sh) >target/hardening.log 2>&1 &
hardening_pid=$!

step "waiting for the peer tools"
setup_status=0
wait "$setup_pid" || setup_status=$?
if [ "$setup_status" -ne 0 ]; then cat "$setup_log"; echo "installing the peer tools failed"; exit 1; fi
tail -n 2 "$setup_log"

step "unit, vector, interop, server, browser and robustness tests"
# Every optional server feature on (`--all-features` would also turn on the core's `defmt`, which
# links only on targets with a defmt logger).
# The interop tests run the examples this same invocation builds (target/debug/examples)
# instead of a second `cargo build` with a different feature resolution.
TOLLGATE_PREBUILT_EXAMPLES=1 cargo test --workspace --features "$TEST_FEATURES" --locked 2>&1 |
    tee target/test-output.log

step "tollgate-embassy host example (two embassy-net stacks in one process)"
# Built by the workspace test run above (`cargo run -p tollgate-embassy` would rebuild it
# with that crate's own feature resolution).
timeout 120 target/debug/examples/host

step "Autobahn TestSuite (server and client)"
bash scripts/autobahn.sh

step "Cortex-M4 footprint under QEMU (verdicts and regressions checked)"
bash scripts/footprint.sh

step "benchmarks, quick mode (every benchmark compiled and run once)"
cargo bench -p tollgate-benches --locked -- --test

step "fuzz smoke and Miri (the background lane)"
hardening_status=0
wait "$hardening_pid" || hardening_status=$?
cat target/hardening.log
[ "$hardening_status" -eq 0 ] || { echo "fuzz smoke or Miri failed ($hardening_status)"; exit 1; }

step "done"
# One closing line for the whole suite, summed over every cargo test binary and doctest run above
# (the Miri run re-runs a subset of the core's unit tests and is not counted twice).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f; exit (p == 0 || f != 0) }' \
    target/test-output.log
