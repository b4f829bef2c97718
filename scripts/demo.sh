#!/usr/bin/env bash
# The main job: `tollgate serve` in development mode, in the foreground (Ctrl-C stops it, closing every
# client with 1001). It prints a masked random HS256 secret, a ready admin token and the demo page URL.
# Extra arguments go to `tollgate serve` (e.g. `--listen 0.0.0.0:3000`, `--echo`); see `tollgate serve --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p tollgate-tokio --bin tollgate
exec target/release/tollgate serve "$@"
