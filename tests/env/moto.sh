#!/usr/bin/env bash
# Install moto's server (PyPI `moto[server]`), an emulator of AWS's APIs (ECR and STS among
# them), into its own virtualenv under the test state dir, idempotently and safely from several
# tests at once, for server/tests/ecr.rs. Prints `export SLIPWAY_TEST_MOTO=PATH-TO-moto_server`.
# Pinned: the tests rely on what this version answers (its ECR token, its IAM checks).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=5.2.5
VENV="$STATE/moto-$VERSION"

venv_install "$VENV" "moto[server]==$VERSION"
echo "export SLIPWAY_TEST_MOTO=$VENV/bin/moto_server"
