#!/usr/bin/env bash
# Install schemathesis (PyPI) into its own virtualenv under the test state dir, idempotently,
# for server/tests/api_schema.rs. Prints `export SLIPWAY_TEST_SCHEMATHESIS=PATH-TO-st`.
# Pinned: a new schemathesis generates other inputs and may change what the bounded run covers.
set -euo pipefail

VERSION=4.32.5
STATE=${SLIPWAY_TEST_STATE:-/tmp/slipway-test-env}
VENV="$STATE/schemathesis-$VERSION"
log() { echo "env: $*" >&2; }

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  command -v python3 >/dev/null || { log "python3 is missing: install python3 and python3-venv"; exit 1; }
  log "installing schemathesis $VERSION from PyPI into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || { log "python3 -m venv failed: install python3-venv"; exit 1; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
echo "export SLIPWAY_TEST_SCHEMATHESIS=$VENV/bin/st"
