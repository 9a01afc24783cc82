#!/usr/bin/env bash
# Install what server/tests/lsp.rs drives, idempotently and safely from several tests at once:
# Neovim from Debian (a real LSP client, run headless) and check-jsonschema (PyPI) in its own
# virtualenv under the test state dir. Prints `export SLIPWAY_TEST_NVIM=…` and
# `export SLIPWAY_TEST_CHECK_JSONSCHEMA=…`.
# Pinned: another check-jsonschema may bundle another validator with other opinions.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=0.39.0
VENV="$STATE/check-jsonschema-$VERSION"

need nvim
venv_install "$VENV" "check-jsonschema==$VERSION"
echo "export SLIPWAY_TEST_NVIM=$(command -v nvim)"
echo "export SLIPWAY_TEST_CHECK_JSONSCHEMA=$VENV/bin/check-jsonschema"
