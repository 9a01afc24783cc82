#!/usr/bin/env bash
# Install schemathesis (PyPI) into its own virtualenv under the test state dir, idempotently and
# safely from several tests at once, for server/tests/api_schema.rs. Prints
# `export SLIPWAY_TEST_SCHEMATHESIS=PATH-TO-st`.
# Pinned: a new schemathesis generates other inputs and may change what the bounded run covers.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=4.32.5
VENV="$STATE/schemathesis-$VERSION"

venv_install "$VENV" "schemathesis==$VERSION"
echo "export SLIPWAY_TEST_SCHEMATHESIS=$VENV/bin/st"
