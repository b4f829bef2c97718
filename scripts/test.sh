#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (rustup targets and the nightly
# components, Node and Python peers, the Autobahn TestSuite, QEMU), then runs every check.
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
# QEMU for the Cortex-M4 footprint step installs in the background meanwhile.
apt_log=target/apt-qemu.log
apt_pid=""
( command -v qemu-system-arm >/dev/null && command -v arm-none-eabi-size >/dev/null ) || {
    (apt-get install -y -qq qemu-system-arm binutils-arm-none-eabi ||
        { apt-get update -qq && apt-get install -y -qq qemu-system-arm binutils-arm-none-eabi; }) >"$apt_log" 2>&1 &
    apt_pid=$!
}

step "peer libraries (npm, pip)"
bash scripts/install-test-deps.sh

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

step "unit, vector, interop, server and robustness tests"
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
wait "$apt_pid" 2>/dev/null || true  # the background QEMU install
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
