#!/usr/bin/env bash
# The core's unit tests under Miri (nightly): the parsers, the codec, the handshake, the
# connection state machine and the HS256 authentication path. Miri interprets every
# step, so the exhaustive loops (every byte at every offset, 256-member objects) and
# the P-256/RSA arithmetic (key and signature tests) stay native-only (`cargo test`).
#
#   scripts/miri.sh            installs the nightly miri + rust-src components if missing
set -euo pipefail
cd "$(dirname "$0")/.."
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly component add miri rust-src
cargo +nightly miri setup

# Modules run under Miri: everything that parses untrusted bytes, the codec, the
# handshake, the connection state machine and the HS256 authentication glue.
modules=(
    base64url:: jwt::json:: jwt::header:: jwt::claims:: jwt::token:: jwt::validate::
    jwt::key::der:: jwt::key::pem:: ws:: auth::
)
# Within them, the exhaustive differential loops (seconds natively, hours interpreted).
skip=(
    every_byte_at_every_position every_length_and_byte every_length_and_offset
    random_large_buffers all_two_byte_sequences every_pair_of_offsets split_everywhere
    every_position_of_flat_and_nested beyond_the_key_cache plain_end_matches
    too_many_members every_length_class short_output_buffer_is_buffer_too_small_at_every_length
    64_kib_binary_messages three_and_four_byte_sequences digest_encoding_matches_base64ct
    mask_resumes_across_chunk_boundaries
)
args=("${modules[@]}")
for name in "${skip[@]}"; do args+=(--skip "$name"); done
timeout 900 cargo +nightly miri test -p tollgate --lib --locked -- "${args[@]}" -Z unstable-options --report-time
