#!/usr/bin/env bash
# Install aiosmtpd (PyPI) into its own virtualenv under the test state dir, idempotently and
# safely from several tests at once, for server/tests/notifications.rs: a real SMTP server on
# loopback that the e-mail notifications are sent to. Prints `export SLIPWAY_TEST_AIOSMTPD=PATH`
# (its `aiosmtpd` command: `aiosmtpd -n -l 127.0.0.1:PORT` prints each mail it receives).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION=1.4.6
VENV="$STATE/aiosmtpd-$VERSION"

venv_install "$VENV" "aiosmtpd==$VERSION"
echo "export SLIPWAY_TEST_AIOSMTPD=$VENV/bin/aiosmtpd"
