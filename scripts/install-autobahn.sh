#!/usr/bin/env bash
# Installs the Autobahn TestSuite (Python 2.7, PyPI `autobahntestsuite`) into $AB_HOME (default .tools/autobahn).
# Idempotent: does nothing when wstest is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
AB_HOME=${AB_HOME:-$PWD/.tools/autobahn}
if [ -x "$AB_HOME/venv/bin/wstest" ]; then echo "$AB_HOME/venv/bin/wstest"; exit 0; fi
REQ=${AUTOBAHN_REQUIREMENTS:-../shared/autobahn/requirements-py2.txt}
PY2=$(pyenv root 2>/dev/null)/versions/2.7.18/bin/python
[ -x "$PY2" ] || PY2=$(command -v python2.7)
mkdir -p "$AB_HOME"
"$PY2" -m pip install -q --target "$AB_HOME/py2tools" "virtualenv<20.22" >&2
PYTHONPATH="$AB_HOME/py2tools" "$PY2" -m virtualenv -q -p "$PY2" "$AB_HOME/venv" >&2
"$AB_HOME/venv/bin/pip" install -q -r "$REQ" autobahntestsuite==25.10.1 >&2
echo "$AB_HOME/venv/bin/wstest"
