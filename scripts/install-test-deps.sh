#!/usr/bin/env bash
# Installs the peer libraries the interop and real-client tests drive
# (transport-tokio/tests/{cli,ws}_interop.rs, serve_browser.rs, and tests/tests/*.rs through
# tests/ws-interop/steps.*):
#   Node: jsonwebtoken, jose, ws and playwright-core, pinned in tests/js/package-lock.json, into
#         tests/js/node_modules (playwright-core never downloads a browser)
#   Debian chromium (/usr/bin/chromium) for the browser test, if missing (needs root, ~70 s)
#   Python: PyJWT (+ cryptography) and websockets, pinned in tests/python/requirements.txt, into .venv/
# Needs node >= 20 with npm, and python3 with the venv module. Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-test-deps: node and npm are required (Debian: apt-get install -y nodejs npm)" >&2
    exit 1
fi
(cd tests/js && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

if [ ! -x /usr/bin/chromium ]; then
    # Waits for the dpkg lock: scripts/test.sh may be installing QEMU in the background.
    apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
    apt_get install -y -qq chromium >/dev/null ||
        { apt_get update -qq && apt_get install -y -qq chromium >/dev/null; }
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

echo "install-test-deps: node $(node --version), $(.venv/bin/python -c 'import jwt; print("PyJWT", jwt.__version__)'), $(/usr/bin/chromium --version 2>/dev/null)"
