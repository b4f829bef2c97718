#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (rustup target, Node and Python peers,
# the Autobahn TestSuite), then runs every check. CI (`.ci/run`) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==== %s (%ss)\n' "$1" "$SECONDS"; }

step "toolchain"
rustup target add thumbv7em-none-eabihf
rustup component add clippy rustfmt

step "peer libraries (npm, pip)"
bash scripts/install-test-deps.sh

step "format, lints, docs"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "core for thumbv7em-none-eabihf (no_std, no heap)"
cargo build -p tollgate --target thumbv7em-none-eabihf --release --locked
cargo build -p tollgate --target thumbv7em-none-eabihf --release --locked --no-default-features --features es256

step "unit, vector, interop tests"
mkdir -p target
cargo test --workspace --locked 2>&1 | tee target/test-output.log

step "Autobahn TestSuite (server and client)"
bash scripts/autobahn.sh

step "fuzz smoke (every cargo-fuzz target, 15 s each from the committed seeds)"
bash scripts/fuzz-smoke.sh 15

step "benchmarks, quick mode (every benchmark compiled and run once)"
cargo bench -p tollgate-benches --locked -- --test

step "done"
# One closing line for the whole suite, summed over every cargo test binary and doctest run above.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f; exit (p == 0 || f != 0) }' \
    target/test-output.log
