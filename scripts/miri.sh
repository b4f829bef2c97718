#!/usr/bin/env bash
# The core's unit tests under Miri (nightly): the parsers, the codec, the handshake, the
# connection state machine and the HS256 path. Miri interprets every step, so the
# exhaustive loops (every byte at every offset, 256-member objects) and the ES256/RSA
# arithmetic are skipped here; they run natively in `cargo test`.
#
#   scripts/miri.sh            installs the nightly miri + rust-src components if missing
set -euo pipefail
cd "$(dirname "$0")/.."
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add miri rust-src
cargo +nightly miri setup

skip=(
    # exhaustive differential loops (seconds natively, hours interpreted)
    every_byte_at_every_position every_length_and_byte every_length_and_offset
    random_large_buffers all_two_byte_sequences every_pair_of_offsets split_everywhere
    every_position_of_flat_and_nested beyond_the_key_cache plain_end_matches
    too_many_members every_length_class short_output_buffer_is_buffer_too_small_at_every_length
    # big-number and elliptic-curve arithmetic
    jwt::alg::es256 jwt::alg::rs256 rsa es256 rs256 wycheproof
)
args=()
for name in "${skip[@]}"; do args+=(--skip "$name"); done
timeout 1800 cargo +nightly miri test -p tollgate --lib --locked -- "${args[@]}" -Z unstable-options --report-time
