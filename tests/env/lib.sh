# Sourced by the installers in tests/env/. What they share:
# - `need PROGRAM…` installs the Debian packages of the programs that are missing, as
#   programs.tsv lists them (the one list of what the tests start);
# - `locked NAME COMMAND…` runs COMMAND holding an exclusive lock, so that several tests
#   running an installer at the same moment take turns instead of undoing each other's work;
# - `STATE`, the test state folder, and `log`.
# An install is recorded as done only at its very end (a stamp or a package's program), so an
# installer killed half-way is simply run again: nothing half-made is ever taken for done.

ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${SLIPWAY_TEST_STATE:-/tmp/slipway-test-env}
mkdir -p "$STATE"

log() { echo "env: $*" >&2; }

# Whether PROGRAM is here: an absolute path must be executable, a name must be on PATH.
have() {
  case $1 in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# The Debian package programs.tsv names for PROGRAM (empty when it is not an apt: program).
package_of() {
  awk -v p="$1" '$1 == p && $2 ~ /^apt:/ { sub(/^apt:/, "", $2); print $2; exit }' "$ENV_DIR/programs.tsv"
}

# Every program programs.tsv says comes from Debian.
apt_programs() {
  awk '!/^#/ && $2 ~ /^apt:/ { print $1 }' "$ENV_DIR/programs.tsv"
}

# Run "$@" holding the lock $STATE/NAME.lock (waits up to 30 minutes for it: a first install of
# Chromium and Docker over a slow mirror takes minutes). The lock is the file's flock, released
# by the kernel when the holder dies, so a killed installer never leaves it taken.
locked() {
  local name=$1
  shift
  (
    flock -w 1800 9 || { log "waited 30 minutes for $STATE/$name.lock; giving up"; exit 1; }
    "$@"
  ) 9>"$STATE/$name.lock"
}

# Install the Debian packages of every missing PROGRAM given (all apt: programs when none is).
need() {
  local programs=("$@")
  [ ${#programs[@]} -gt 0 ] || mapfile -t programs < <(apt_programs)
  local p missing=()
  for p in "${programs[@]}"; do have "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  locked apt _apt_install "${missing[@]}"
}

# Under the apt lock: look again (another test may have installed them while this one waited),
# then install what is still missing.
_apt_install() {
  local p pkg pkgs=()
  for p in "$@"; do
    have "$p" && continue
    pkg=$(package_of "$p")
    [ -n "$pkg" ] || { log "$p is missing and tests/env/programs.tsv names no Debian package for it"; return 1; }
    [[ " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "not root: install the test tools with: sudo apt-get install -y ${pkgs[*]}"
    return 1
  fi
  log "installing ${pkgs[*]} (Debian packages; log: $STATE/apt.log)"
  # A package's postinst must not start its service (openssh-server would listen on port 22,
  # lighttpd on port 80): policy-rc.d answering 101 forbids it, as in Debian's container images.
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold)
  local ok=0
  {
    # An install killed half-way leaves dpkg "interrupted"; finish its configuration first.
    DEBIAN_FRONTEND=noninteractive dpkg --configure -a
    "${apt[@]}" "${pkgs[@]}" || { apt-get update -q && "${apt[@]}" "${pkgs[@]}"; }
  } >>"$STATE/apt.log" 2>&1 || ok=1
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  if [ $ok -ne 0 ]; then
    log "apt-get install ${pkgs[*]} failed; the end of $STATE/apt.log:"
    tail -20 "$STATE/apt.log" >&2
    return 1
  fi
  for p in "$@"; do have "$p" || { log "$p is still missing after installing ${pkgs[*]}"; return 1; }; done
}

# A virtualenv at DIR with PACKAGE==VERSION, made under a lock and stamped only when complete.
# (A virtualenv cannot be made elsewhere and renamed into place: its scripts name their
# interpreter by absolute path. The stamp plays the rename's part: no stamp, no venv.)
venv_install() {
  local dir=$1 spec=$2
  [ -f "$dir/.slipway-complete" ] && [ "$(cat "$dir/.slipway-complete")" = "$spec" ] && return 0
  locked "venv-$(basename "$dir")" _venv_install "$dir" "$spec"
}

_venv_install() {
  local dir=$1 spec=$2
  [ -f "$dir/.slipway-complete" ] && [ "$(cat "$dir/.slipway-complete")" = "$spec" ] && return 0
  have python3 || { log "python3 is missing: install python3 and python3-venv"; return 1; }
  log "installing $spec from PyPI into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir" || { log "python3 -m venv failed: install python3-venv"; return 1; }
  "$dir/bin/pip" install -q --disable-pip-version-check "$spec" >&2 || { log "pip install $spec failed"; return 1; }
  echo "$spec" >"$dir/.slipway-complete"
}
