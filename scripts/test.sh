#!/usr/bin/env bash
# The whole test suite. Installs what it needs, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add thumbv7em-none-eabihf
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build -p tollgate --target thumbv7em-none-eabihf --release
cargo test --workspace
