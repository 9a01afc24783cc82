#!/usr/bin/env bash
# Install what server/tests/lsp.rs drives, idempotently: Neovim from Debian (a real LSP
# client, run headless) and check-jsonschema (PyPI) in its own virtualenv under the test
# state dir. Prints `export SLIPWAY_TEST_NVIM=…` and `export SLIPWAY_TEST_CHECK_JSONSCHEMA=…`.
# Pinned: another check-jsonschema may bundle another validator with other opinions.
set -euo pipefail

VERSION=0.39.0
STATE=${SLIPWAY_TEST_STATE:-/tmp/slipway-test-env}
VENV="$STATE/check-jsonschema-$VERSION"
log() { echo "env: $*" >&2; }

if ! command -v nvim >/dev/null; then
  log "installing neovim (Debian)"
  apt-get install -y -q neovim >&2 || { apt-get update -q >&2 && apt-get install -y -q neovim >&2; }
fi

if ! "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -q "$VERSION"; then
  command -v python3 >/dev/null || { log "python3 is missing: install python3 and python3-venv"; exit 1; }
  log "installing check-jsonschema $VERSION from PyPI into $VENV"
  rm -rf "$VENV"
  mkdir -p "$STATE"
  python3 -m venv "$VENV" || { log "python3 -m venv failed: install python3-venv"; exit 1; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "check-jsonschema==$VERSION" >&2
fi
echo "export SLIPWAY_TEST_NVIM=$(command -v nvim)"
echo "export SLIPWAY_TEST_CHECK_JSONSCHEMA=$VENV/bin/check-jsonschema"
