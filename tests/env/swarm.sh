#!/usr/bin/env bash
# A real 3-node Docker Swarm on this one machine, for the cluster tests (issue 22):
#
#   bash tests/env/swarm.sh up     # idempotent; prints `export` lines on stdout
#   bash tests/env/swarm.sh down   # removes everything `up` made, also after a kill
#
# Each node is its own `dockerd` in its own network namespace (slw-n1..3, hostname slw-n1..3
# through a UTS namespace of its own), joined by a bridge that lives in a fifth namespace
# (slw-sw), never in the root one: the tests' own dockerd sets the root FORWARD policy to DROP,
# which would cut the nodes off each other. The cluster registry (no auth, HTTP, trusted by every
# node as an insecure registry) runs in slw-reg on the same bridge. Nothing here needs an IP
# route from the root namespace: each node's engine answers on a unix socket, which crosses
# network namespaces, and the registry is reached through the nodes.
#
# What `up` prints:
#   SLIPWAY_SWARM_MANAGER    the manager's DOCKER_HOST (unix://…/n1.sock)
#   SLIPWAY_SWARM_REGISTRY   HOST:PORT of the cluster registry, as the nodes reach it
#   SLIPWAY_SWARM_NODE_PIDS  `HOSTNAME=PID …`: each node's hostname (as `docker node ls` shows
#                            it) and its dockerd's pid, to kill a node in a test
#   SLIPWAY_SWARM_NODE_HOSTS `HOSTNAME=DOCKER_HOST …`: each node's own engine
#   SLIPWAY_SWARM_NODE_SOCKET the path of each node's engine socket as a container on that node
#                            mounts it (the same path on every node, like /var/run/docker.sock)
#   SLIPWAY_SWARM_NODE_WORK  a folder every node has, its own (like /var/lib/slipway-agent)
#   SLIPWAY_SWARM_AUTH_REGISTRY HOST:PORT of a second cluster registry, this one with basic auth
#                            (htpasswd, as a real cluster registry has), on the same host
#   SLIPWAY_SWARM_AUTH_USER / SLIPWAY_SWARM_AUTH_PASS  its one user
# Both registries hold the test base image as REGISTRY/slipway-test/busybox:latest.
#
# Facts this script works around (learned bringing the swarm up here):
# - `ip netns exec` gives the command a fresh /sys, without the cgroup mounts: each node mounts
#   the cgroup v1 hierarchies again before dockerd starts;
# - a SIGKILLed dockerd leaves its containers' cgroups behind: each node gets a cgroup parent of
#   its own (slw-nK), which `down` empties and removes;
# - busybox `wget` crashes inside these containers (exit 139): use `nc` in tests.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need ip unshare dockerd docker docker-registry htpasswd

DIR="$STATE/swarm"
NODES="n1 n2 n3"
SUBNET=10.77.0
REGISTRY="$SUBNET.10:5000"
AUTH_REGISTRY="$SUBNET.10:5001"
AUTH_USER=slipway-cluster
AUTH_PASS=cluster-pass-5a1f
BASE_IMAGE=slipway-test/busybox:latest
# On each node, in its own mount namespace only: the engine's socket and the agent's folder.
NODE_SOCKET=/run/slipway-node/docker.sock
NODE_WORK=/var/lib/slipway-agent
HIERARCHIES="cpu cpuacct cpuset memory devices freezer blkio pids"

sock() { echo "$DIR/$1.sock"; }
dk() { local n=$1; shift; docker -H "unix://$(sock "$n")" "$@"; }
ip_of() { echo "$SUBNET.${1#n}"; }

# Every namespace, process, cgroup and file `up` made; safe to run at any point of a failed `up`
# or after a kill.
down() {
  local n pid
  for n in $NODES reg; do
    if ip netns list 2>/dev/null | grep -qw "slw-$n"; then
      # dockerd, containerd and the shims live in the node's network namespace.
      for pid in $(ip netns pids "slw-$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    fi
  done
  # Containers have network namespaces of their own; their cgroups are under slw-nK.
  for n in $NODES; do
    for h in $HIERARCHIES systemd; do
      local cg="/sys/fs/cgroup/$h/slw-$n"
      [ -d "$cg" ] || continue
      find "$cg" -name tasks -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    done
  done
  sleep 0.5
  for n in $NODES; do
    for h in $HIERARCHIES systemd; do
      local cg="/sys/fs/cgroup/$h/slw-$n"
      [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
  for n in $NODES reg sw; do
    ip netns delete "slw-$n" 2>/dev/null || true
  done
  rm -rf "$DIR"
  # The mount points the nodes made on the shared file system (empty outside the nodes).
  rmdir "$(dirname "$NODE_SOCKET")" "$NODE_WORK" 2>/dev/null || true
}

# A node's dockerd: in its network namespace, with its own hostname, cgroup mounts, data and
# exec roots, socket and cgroup parent.
start_node() {
  local n=$1 d="$DIR/$1"
  mkdir -p "$d/data" "$d/exec"
  local mounts="mount -t tmpfs cgroup /sys/fs/cgroup"
  for h in $HIERARCHIES; do
    mounts+=" && mkdir -p /sys/fs/cgroup/$h && mount -t cgroup -o $h cgroup /sys/fs/cgroup/$h"
  done
  mounts+=" && mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd"
  # What a real node has at fixed paths, private to this node's mount namespace: its engine's
  # socket ($NODE_SOCKET, for the run agent to mount) and the agent's work folder ($NODE_WORK).
  mkdir -p "$d/agent" "$(dirname "$NODE_SOCKET")" "$NODE_WORK"
  mounts+=" && mount -t tmpfs slipway-node $(dirname "$NODE_SOCKET") && mount --bind '$d/agent' '$NODE_WORK'"
  nohup ip netns exec "slw-$n" unshare --uts sh -c "hostname slw-$n && $mounts && exec dockerd \
      --data-root '$d/data' --exec-root '$d/exec' --pidfile '$d/dockerd.pid' \
      -H 'unix://$(sock "$n")' -H 'unix://$NODE_SOCKET' \
      --cgroup-parent 'slw-$n' --insecure-registry '$REGISTRY' --insecure-registry '$AUTH_REGISTRY' \
      --containerd-namespace 'slw-$n' --containerd-plugins-namespace 'slw-$n-plugins'" \
    >"$d/dockerd.log" 2>&1 9>&- &
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "swarm: $what did not come up"
  return 1
}

ready() {
  local n
  # Every node's dockerd alive and answering (a killed node stays "Ready" in `node ls` for
  # a few seconds, until its heartbeat is missed).
  for n in $NODES; do
    [ -f "$DIR/$n/dockerd.pid" ] && kill -0 "$(cat "$DIR/$n/dockerd.pid")" 2>/dev/null || return 1
    dk "$n" info >/dev/null 2>&1 || return 1
  done
  [ "$(dk n1 node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)" = 3 ] || return 1
  dk n1 image inspect "$REGISTRY/$BASE_IMAGE" >/dev/null 2>&1 || return 1
  dk n1 image inspect "$AUTH_REGISTRY/$BASE_IMAGE" >/dev/null 2>&1
}

print_env() {
  local pids="" hosts="" n
  for n in $NODES; do
    pids+="slw-$n=$(cat "$DIR/$n/dockerd.pid") "
    hosts+="slw-$n=unix://$(sock "$n") "
  done
  echo "export SLIPWAY_SWARM_MANAGER=unix://$(sock n1)"
  echo "export SLIPWAY_SWARM_REGISTRY=$REGISTRY"
  echo "export SLIPWAY_SWARM_AUTH_REGISTRY=$AUTH_REGISTRY"
  echo "export SLIPWAY_SWARM_AUTH_USER=$AUTH_USER"
  echo "export SLIPWAY_SWARM_AUTH_PASS=$AUTH_PASS"
  echo "export SLIPWAY_SWARM_NODE_PIDS='${pids% }'"
  echo "export SLIPWAY_SWARM_NODE_HOSTS='${hosts% }'"
  echo "export SLIPWAY_SWARM_NODE_SOCKET=$NODE_SOCKET"
  echo "export SLIPWAY_SWARM_NODE_WORK=$NODE_WORK"
}

up() {
  if ready; then
    print_env
    return 0
  fi
  log "swarm: bringing up 3 nodes and a registry (state: $DIR)"
  down
  mkdir -p "$DIR"
  # The switch: a bridge in a namespace of its own, a veth to each node and the registry.
  ip netns add slw-sw
  ip -n slw-sw link add br0 type bridge
  ip -n slw-sw link set br0 up
  local n host
  for n in $NODES reg; do
    ip netns add "slw-$n"
    ip -n "slw-$n" link set lo up
    ip link add "slw-$n-e" type veth peer name "slw-$n-b"
    ip link set "slw-$n-e" netns "slw-$n"
    ip link set "slw-$n-b" netns slw-sw
    ip -n slw-sw link set "slw-$n-b" master br0 up
    ip -n "slw-$n" link set "slw-$n-e" name eth0
    if [ "$n" = reg ]; then host=10; else host=${n#n}; fi
    ip -n "slw-$n" addr add "$SUBNET.$host/24" dev eth0
    ip -n "slw-$n" link set eth0 up
  done
  # The cluster registry.
  mkdir -p "$DIR/registry"
  cat >"$DIR/registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
YAML
  nohup ip netns exec slw-reg docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 9>&- &
  # The second one, with basic auth over HTTP (the nodes trust it as an insecure registry).
  mkdir -p "$DIR/auth-registry"
  htpasswd -Bbn "$AUTH_USER" "$AUTH_PASS" >"$DIR/auth-htpasswd"
  cat >"$DIR/auth-registry.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/auth-registry
  delete:
    enabled: true
http:
  addr: $AUTH_REGISTRY
auth:
  htpasswd:
    realm: slipway-cluster
    path: $DIR/auth-htpasswd
YAML
  nohup ip netns exec slw-reg docker-registry serve "$DIR/auth-registry.yml" >"$DIR/auth-registry.log" 2>&1 9>&- &
  for n in $NODES; do start_node "$n"; done
  for n in $NODES; do
    wait_for "dockerd $n (log: $DIR/$n/dockerd.log)" 120 dk "$n" info || { tail -20 "$DIR/$n/dockerd.log" >&2; exit 1; }
  done
  dk n1 swarm init --advertise-addr "$(ip_of n1)" --listen-addr "$(ip_of n1):2377" >/dev/null
  local token
  token=$(dk n1 swarm join-token -q worker)
  for n in n2 n3; do
    dk "$n" swarm join --token "$token" --advertise-addr "$(ip_of "$n")" "$(ip_of n1):2377" >/dev/null
  done
  wait_for "3 Ready nodes" 120 sh -c "[ \$(docker -H unix://$(sock n1) node ls --format '{{.Status}}' | grep -c Ready) = 3 ]"
  # The base image, into the cluster registry through the manager (no image is ever pulled
  # from outside: it comes from the tests' own engine, where up.sh imported it).
  if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    bash "$ENV_DIR/up.sh" >/dev/null
  fi
  docker save "$BASE_IMAGE" | dk n1 load -q >/dev/null
  dk n1 tag "$BASE_IMAGE" "$REGISTRY/$BASE_IMAGE"
  wait_for "the cluster registry" 60 dk n1 push -q "$REGISTRY/$BASE_IMAGE"
  # Into the authenticated one with a login on the manager's CLI only (its config in $DIR, so
  # no engine and no other test sees the credentials), then logged out again.
  dk n1 tag "$BASE_IMAGE" "$AUTH_REGISTRY/$BASE_IMAGE"
  wait_for "the authenticated cluster registry" 60 sh -c \
    "echo '$AUTH_PASS' | docker --config '$DIR/cli' -H unix://$(sock n1) login -u '$AUTH_USER' --password-stdin '$AUTH_REGISTRY'"
  docker --config "$DIR/cli" -H "unix://$(sock n1)" push -q "$AUTH_REGISTRY/$BASE_IMAGE" >/dev/null
  rm -rf "$DIR/cli"
  ready || { log "swarm: not ready after up"; exit 1; }
  print_env
}

case "${1:-}" in
  up)
    exec 9>"$STATE/swarm.lock"
    flock -w 600 9 || { log "waited 10 minutes for $STATE/swarm.lock; giving up"; exit 1; }
    up
    ;;
  down)
    exec 9>"$STATE/swarm.lock"
    flock -w 600 9 || { log "waited 10 minutes for $STATE/swarm.lock; giving up"; exit 1; }
    down
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
