#!/usr/bin/env bash
# Runs the Autobahn TestSuite (sections 1-10; 12.* and 13.* are permessage-deflate, which
# tollgate does not offer, and there is no section 11) on loopback only:
#   server mode: wstest -m fuzzingclient against the `autobahn-server` example
#   client mode: wstest -m fuzzingserver with the `autobahn-client` example, both inside a
#                private network namespace (`unshare -n`, needs root) since fuzzingserver
#                binds every interface
#   serve mode:  wstest -m fuzzingclient against the real `tollgate serve --echo` (release
#                build) with an HS256 key from a secret file and a token minted by
#                `tollgate token` in the URL (`/ws?token=…`); `--max-message-size 16777216`
#                because cases 9.* send messages of up to 16 MiB (the default limit is 1 MiB)
# Each mode must pass ../shared/autobahn/counts.py --strict (no FAILED, no NON-STRICT),
# and its counts must equal the committed summary in tests/autobahn/MODE-summary.txt.
#
# Usage: scripts/autobahn.sh [--update] [MODE...]   (MODE: server, client, serve; default all;
#                                                   --update rewrites the committed summaries)
# Env:   AUTOBAHN_OUT   reports directory (default target/autobahn; wiped first)
#        AUTOBAHN_COUNTS  counts.py (default ../shared/autobahn/counts.py)
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
modes=()
for arg in "$@"; do
    case "$arg" in
        --update) update=1 ;;
        server | client | serve) modes+=("$arg") ;;
        *) echo "usage: $0 [--update] [server|client|serve]..." >&2; exit 2 ;;
    esac
done
[ "${#modes[@]}" -gt 0 ] || modes=(server client serve)
wanted() { [[ " ${modes[*]} " == *" $1 "* ]]; }

out=${AUTOBAHN_OUT:-$PWD/target/autobahn}
counts=${AUTOBAHN_COUNTS:-../shared/autobahn/counts.py}
[ -f "$counts" ] || { echo "autobahn: $counts not found" >&2; exit 1; }
unshare -n true 2>/dev/null ||
    { echo "autobahn: cannot create a network namespace (unshare -n needs root)" >&2; exit 1; }

wstest=$(scripts/install-autobahn.sh | tail -n 1)
timeout 1200 cargo build --release -p tollgate-tokio --bin tollgate \
    --example autobahn-server --example autobahn-client
release=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
examples=$release/examples

rm -rf "$out"
mkdir -p "$out"
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

spec() { # template outdir url > spec
    sed -e "s|@OUTDIR@|$2|" -e "s|@URL@|$3|" "$1"
}

# What the summary records: counts.py's per-behaviour counts, and the cases that are not
# plain OK, so that a case changing category shows even when the counts stay equal.
summarize() { # index.json
    local verdict=0
    python3 "$counts" "$1" --strict || verdict=$?
    python3 - "$1" <<'EOF' || verdict=1
import json, sys
key = lambda s: [int(x) for x in s.split(".")]
for agent, cases in json.load(open(sys.argv[1])).items():
    for behavior in ("INFORMATIONAL", "UNIMPLEMENTED", "NON-STRICT", "FAILED"):
        ids = sorted((c for c, v in cases.items() if v["behavior"] == behavior), key=key)
        if ids:
            print(f"  {behavior} cases: " + " ".join(ids))
EOF
    return "$verdict"
}

status=0
check() { # mode index.json
    local summary=tests/autobahn/$1-summary.txt fresh
    if [ ! -f "$2" ]; then
        echo "autobahn $1: no report at $2" >&2
        status=1
        return
    fi
    if ! fresh=$(summarize "$2"); then
        echo "autobahn $1: counts.py --strict failed:" >&2
        echo "$fresh" >&2
        status=1
    fi
    echo "$fresh" >"$out/$1-summary.txt"
    echo "== $1"
    echo "$fresh"
    if [ "$update" = 1 ]; then
        cp "$out/$1-summary.txt" "$summary"
    elif ! diff -u "$summary" "$out/$1-summary.txt"; then
        echo "autobahn $1: results differ from $summary (rerun with --update if intended)" >&2
        status=1
    fi
}

# Runs wstest -m fuzzingclient with config $2 against the server started as "$@" (from $3
# on), which prints a line matching the sed expression $4 holding its address.
fuzz_server() { # mode config pattern url-suffix command...
    local mode=$1 config=$2 pattern=$3 suffix=$4 url=
    shift 4
    "$@" >"$out/$mode.log" 2>&1 &
    server_pid=$!
    # Port 0: the server prints the address it got.
    for _ in $(seq 100); do
        url=$(sed -n "$pattern" "$out/$mode.log")
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "autobahn $mode: server did not start" >&2; cat "$out/$mode.log" >&2; exit 1; }
    spec "$config" "$out/$mode" "$url$suffix" >"$out/fuzzingclient-$mode.json"
    (cd "$out" && timeout -k 5 600 "$wstest" -m fuzzingclient -s "fuzzingclient-$mode.json" \
        >"wstest-$mode.log" 2>&1) ||
        { echo "autobahn $mode: fuzzingclient failed (see $out/wstest-$mode.log)" >&2; status=1; }
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    check "$mode" "$out/$mode/index.json"
}

if wanted server; then
    fuzz_server server tests/autobahn/fuzzingclient.json 's/^listening on \(ws:.*\)$/\1/p' "" \
        "$examples/autobahn-server" 127.0.0.1:0
fi

# Serve mode: the real binary with a key, the way it is deployed. The token lives longer
# than any run; sed turns the banner's http:// address into the ws:// URL.
if wanted serve; then
    head -c 32 /dev/urandom | base64 | tr -d '\n' >"$out/secret"
    token=$("$release/tollgate" token --secret-file "$out/secret" --alg HS256 --sub autobahn --exp 3600)
    fuzz_server serve tests/autobahn/fuzzingclient-serve.json \
        's|^tollgate serve.* listening on http://\(.*\)$|ws://\1/ws|p' "?token=$token" \
        "$release/tollgate" serve --echo --listen 127.0.0.1:0 --secret-file "$out/secret" \
        --max-message-size 16777216
fi

# Client mode, in a network namespace of its own with only loopback; the trap inside
# ends wstest whatever happens to the client.
if wanted client; then
    spec tests/autobahn/fuzzingserver.json "$out/client" ws://127.0.0.1:9001 >"$out/fuzzingserver.json"
    timeout -k 5 900 unshare -n bash -c '
        set -u
        ip link set lo up 2>/dev/null || ifconfig lo up
        cd "$1"
        "$2" -m fuzzingserver -s fuzzingserver.json -u 0 >wstest-client.log 2>&1 &
        wstest_pid=$!
        trap "kill $wstest_pid 2>/dev/null; wait $wstest_pid 2>/dev/null" EXIT INT TERM
        for _ in $(seq 300); do
            (exec 3<>/dev/tcp/127.0.0.1/9001) 2>/dev/null && break
            sleep 0.1
        done
        timeout -k 5 600 "$3/autobahn-client" ws://127.0.0.1:9001 tollgate >client.log 2>&1
    ' autobahn "$out" "$wstest" "$examples" ||
        { echo "autobahn: client run failed (see $out/client.log)" >&2; status=1; }
    check client "$out/client/index.json"
fi

exit "$status"
