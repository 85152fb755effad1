#!/usr/bin/env bash
# Makes sure what a command needs is present. Runs before every `npm test` and `npm start`
# (package.json pretest/prestart), so it is idempotent and silent when nothing is missing; it
# prints one line per action it takes.
#
#   ensure-deps.sh start   what running Tessera needs: npm packages, etcd, the native kernels
#   ensure-deps.sh [test]  that, plus what only the tests use (kubectl, Prometheus, Chromium,
#                          Python grpc and scikit-learn)
#
# It never stops or disables a service it did not start: a packaged service is stopped only
# when its own install started it (its port was free before and answers after).
#
#   TESSERA_DEPS_DRY_RUN=1  print what would be installed or stopped, and do none of it.
#   TESSERA_REQUIRE_ETCD=1  fail (exit 1) when etcd is absent and cannot be installed;
#                           otherwise warn, and etcd tests skip with a message.
#   TESSERA_REQUIRE_KUBECTL=1  the same for kubectl (test/k8s renders deploy/k8s with it).
#   TESSERA_REQUIRE_PYTHON_GRPC=1  the same for Python's grpcio and grpc_tools (the interop test of
#                           a Python client built from protos/).
#   TESSERA_REQUIRE_PYTHON_SKLEARN=1  the same for Python's scikit-learn (the check of `tessera eval
#                           --slice-by` against sklearn.metrics).
#   TESSERA_REQUIRE_PROMETHEUS=1  the same for prometheus and promtool (the dashboard and alert-rule
#                           tests against a real Prometheus).
#   TESSERA_REQUIRE_CHROMIUM=1  the same for Chromium (the training page's headless browser test).
#   TESSERA_WITH_REDIS=1    also install redis-server (benchmark peer; root only).
#   TESSERA_REQUIRE_NATIVE=1  fail when the native addons (native/: the OpenBLAS kernels, ADR 0014,
#                           and the data-plane kernels, ADR 0041) cannot be built; otherwise warn,
#                           and models run on the slower wasm kernels, the data plane on JavaScript.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
if [[ $mode != start && $mode != test ]]; then echo "ensure-deps: unknown mode '$mode' (start or test)" >&2; exit 2; fi

say() { echo "ensure-deps: $*" >&2; }

# --- npm packages -------------------------------------------------------------------------
# npm writes node_modules/.package-lock.json on every install, so it is older than the
# lockfile exactly when the lockfile changed since the last install.
if [[ -f package-lock.json ]]; then
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "node_modules missing or older than package-lock.json: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
elif [[ ! -d node_modules || package.json -nt node_modules ]]; then
  say "no package-lock.json: npm install"
  npm install --no-audit --no-fund --loglevel=error
fi

# --- system packages (Debian) ---------------------------------------------------------------
apt_updated=0
# Installs Debian packages without letting their services start: Debian's etcd-server and
# redis-server enable a service on 2379/6379, and our tests start their own on free ports.
apt_install() {
  if [[ ${TESSERA_DEPS_DRY_RUN:-0} == 1 ]]; then say "would apt-get install -y $*"; return 0; fi
  if [[ $apt_updated == 0 ]]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install -y $*"
  # Ports of packaged services that answer before the install belong to someone else.
  local -A busy=()
  local port
  for port in 2379 6379 9090; do answers "$port" && busy[$port]=1; done
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    # exit 101 = "action forbidden": invoke-rc.d and deb-systemd-invoke start nothing.
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [[ $own_policy == 1 ]]; then rm -f "$policy"; fi
  [[ -n ${busy[2379]:-} ]] || stop_service etcd 2379
  [[ -n ${busy[6379]:-} ]] || stop_service redis-server 6379
  [[ -n ${busy[9090]:-} ]] || stop_service prometheus 9090
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Stops and disables a packaged service that this install started on its default port.
stop_service() {
  local name=$1 port=$2
  answers "$port" || return 0
  say "stopping the packaged $name service this install started on port $port"
  if [[ -d /run/systemd/system ]]; then systemctl disable --now "$name" >/dev/null 2>&1 || true; fi
  if [[ -x /etc/init.d/$name ]]; then "/etc/init.d/$name" stop >/dev/null 2>&1 || true; fi
}

is_root() { [[ $(id -u) == 0 ]]; }

# A missing dependency: installed as root; otherwise a failure when the REQUIRE variable is 1,
# else a warning saying which tests skip.  missing_dependency WHAT REQUIRE_VAR SKIPS PKG...
missing_dependency() {
  local what=$1 require=$2 skips=$3
  shift 3
  if is_root; then
    apt_install "$@"
  elif [[ ${!require:-0} == 1 ]]; then
    say "$what is not installed; install it with: sudo apt-get install -y $*"
    exit 1
  else
    say "WARNING: $what is not installed; $skips. Install it with: sudo apt-get install -y $*"
  fi
}

# True when python3 on PATH or Debian's /usr/bin/python3 imports the module(s) "$1".
has_python_module() { python3 -c "import $1" >/dev/null 2>&1 || /usr/bin/python3 -c "import $1" >/dev/null 2>&1; }

command -v etcd >/dev/null 2>&1 || missing_dependency etcd TESSERA_REQUIRE_ETCD 'etcd tests will skip' etcd-server
# etcdctl: the TLS test shows etcdctl without a client certificate refused by a --tls etcd.
command -v etcdctl >/dev/null 2>&1 || missing_dependency etcdctl TESSERA_REQUIRE_ETCD 'the etcdctl refusal test will skip' etcd-client

# --- what only the tests use ---------------------------------------------------------------
if [[ $mode == test ]]; then

# kubectl renders deploy/k8s in test/k8s (kubectl kustomize; no cluster needed). The
# kustomizations need kubectl 1.22 or newer; Debian bookworm's kubernetes-client is 1.20, too old
# to render them (docs/adr/0026), so it is only the fallback offered when none is installed.
command -v "${KUBECTL:-kubectl}" >/dev/null 2>&1 \
  || missing_dependency kubectl TESSERA_REQUIRE_KUBECTL 'the deploy/k8s overlay tests will skip' kubernetes-client

# prometheus and promtool: test/observability checks the Grafana dashboard's queries and the alert
# rules against Debian's Prometheus scraping a `tessera local` run.
{ command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } \
  || missing_dependency Prometheus TESSERA_REQUIRE_PROMETHEUS 'the dashboard and alert-rule tests will skip' prometheus

# chromium: test/observability loads the chief's training page in headless Chromium.
[[ -x ${CHROMIUM_PATH:-/usr/bin/chromium} ]] \
  || missing_dependency Chromium TESSERA_REQUIRE_CHROMIUM 'the training-page browser test will skip' chromium

# Python grpcio and grpc_tools: test/multiprocess/python-client.test.ts generates a Python client
# from protos/ with Debian's protoc (3.5) and creates tables with it.
has_python_module 'grpc, grpc_tools' \
  || missing_dependency 'Python grpc' TESSERA_REQUIRE_PYTHON_GRPC 'the Python interop test will skip' python3-grpcio python3-grpc-tools

# scikit-learn: test/multiprocess/cli-eval-slices.test.ts checks `tessera eval --slice-by` and
# `--group-by` against sklearn.metrics over the rows' predictions.
has_python_module sklearn \
  || missing_dependency scikit-learn TESSERA_REQUIRE_PYTHON_SKLEARN 'the sliced-evaluation check against sklearn will skip' python3-sklearn

# redis-server: the stream (online learning) tests start their own on a free port.
command -v redis-server >/dev/null 2>&1 \
  || missing_dependency redis-server TESSERA_REQUIRE_REDIS 'the stream (online learning) tests will skip' redis-server

fi # mode test

if [[ ${TESSERA_WITH_REDIS:-0} == 1 ]] && ! command -v redis-server >/dev/null 2>&1; then
  if is_root; then
    apt_install redis-server
  else
    say "WARNING: redis-server is not installed (Redis bench peer will skip). Install it with: sudo apt-get install -y redis-server"
  fi
fi

# --- native addons: matMul kernels and data-plane kernels (scripts/build-native.sh) ---------
if ! bash scripts/build-native.sh; then
  if is_root && ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
    apt_install libopenblas-dev
  fi
  if is_root && ! command -v cc >/dev/null 2>&1; then
    apt_install gcc libc6-dev
  fi
  if ! bash scripts/build-native.sh; then
    if [[ ${TESSERA_REQUIRE_NATIVE:-0} == 1 ]]; then
      say "the native addons (matMul and data-plane kernels) could not be built (see above); install gcc and libopenblas-dev"
      exit 1
    fi
    say "WARNING: native addons not built; training uses tfjs's wasm kernels (about 3x slower) and the data plane its JavaScript loops. Install gcc and libopenblas-dev."
  fi
fi
