#!/usr/bin/env bash
# Bring up what the integration tests need, idempotently: every Debian package of
# programs.tsv, a Docker engine, a busybox base image made from Debian's busybox-static (no
# image is ever pulled), a password-protected registry on 127.0.0.1, and Chromium with
# chromedriver for the browser tests. Prints the environment the tests read, as `export`
# lines, on stdout. Tests run it at the same moment: what it starts is started under a lock.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REGISTRY_ADDR=${SLIPWAY_TEST_REGISTRY:-127.0.0.1:5000}
REG_USER=ci-pusher
REG_PASS=slipway-test-password
BASE_IMAGE=slipway-test/busybox:latest

# Every Debian package programs.tsv lists, installed when its program is missing.
need

# The rest runs under a lock, so that two tests never start two engines or import the image
# twice. The daemons are started without the lock's descriptor (9>&-): they outlive this script
# and would otherwise hold the lock for ever.
exec 9>"$STATE/up.lock"
flock -w 600 9 || { log "waited 10 minutes for $STATE/up.lock; giving up"; exit 1; }

# 1. Docker engine
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: $STATE/dockerd.log)"
  nohup dockerd >"$STATE/dockerd.log" 2>&1 9>&- &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up"; tail -30 "$STATE/dockerd.log" >&2; exit 1; }
fi

# 2. Base image from busybox-static
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "importing $BASE_IMAGE from /bin/busybox"
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
fi

# 3. Registry with basic auth
if ! curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" 2>/dev/null | grep -q 401; then
  log "starting docker-registry on $REGISTRY_ADDR (log: $STATE/registry.log)"
  mkdir -p "$STATE/registry-data"
  htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$STATE/htpasswd"
  cat >"$STATE/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
auth:
  htpasswd:
    realm: slipway-test
    path: $STATE/htpasswd
YAML
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 9>&- &
  for _ in $(seq 1 30); do
    curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" 2>/dev/null | grep -q 401 && break
    sleep 0.5
  done
  curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY_ADDR/v2/" | grep -q 401 || { log "registry did not come up"; tail -20 "$STATE/registry.log" >&2; exit 1; }
fi
exec 9>&-

echo "export CHROMEDRIVER=$(command -v chromedriver)"
echo "export SLIPWAY_TEST_DOCKER=1"
echo "export SLIPWAY_TEST_BASE_IMAGE=$BASE_IMAGE"
echo "export SLIPWAY_TEST_REGISTRY=$REGISTRY_ADDR"
echo "export SLIPWAY_TEST_REGISTRY_USER=$REG_USER"
echo "export SLIPWAY_TEST_REGISTRY_PASSWORD=$REG_PASS"
bash "$(dirname "${BASH_SOURCE[0]}")/export-tools.sh"
