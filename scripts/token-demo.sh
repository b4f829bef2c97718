#!/usr/bin/env bash
# The token round trip: mint a token with `tollgate token`, verify it with `tollgate verify`,
# then show the stable refusal codes for a tampered, an expired and a wrong-audience token.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p tollgate-tokio --bin tollgate
tollgate=target/release/tollgate
DEMO_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export DEMO_SECRET

token=$("$tollgate" token --secret-env DEMO_SECRET --alg HS256 --sub alice --iss demo --aud chat --claim role=admin)
echo "token:    $token"
echo "verify:   $("$tollgate" verify --secret-env DEMO_SECRET --iss demo --aud chat "$token")"

# Swap the last signature character for another canonical one (its low two bits must stay zero).
tampered="${token%?}$([ "${token: -1}" = A ] && echo E || echo A)"
echo "tampered: $("$tollgate" verify --secret-env DEMO_SECRET --iss demo --aud chat "$tampered" || true)"
expired=$("$tollgate" token --secret-env DEMO_SECRET --alg HS256 --sub alice --iss demo --aud chat --exp=-120)
echo "expired:  $("$tollgate" verify --secret-env DEMO_SECRET --iss demo --aud chat --leeway 0 "$expired" || true)"
echo "wrong aud: $("$tollgate" verify --secret-env DEMO_SECRET --iss demo --aud billing "$token" || true)"
