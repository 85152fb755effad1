#!/usr/bin/env bash
# Builds native/build/tessera_blas.node, the OpenBLAS matMul kernels for tfjs's wasm backend
# (src/model/native-kernels.ts, ADR 0014). Needs a C compiler, Node's headers (node_api.h) and
# OpenBLAS (Debian: libopenblas-dev). Skips the build when the addon is newer than its source.
#
# Exit status: 0 when the addon is built (or already up to date), 1 when it cannot be built;
# the reason is printed. Training still works without it, on the slower wasm kernels.
set -euo pipefail
cd "$(dirname "$0")/.."

src=native/tessera_blas.c
out=native/build/tessera_blas.node
say() { echo "build-native: $*" >&2; }

if [[ -f $out && $out -nt $src && $out -nt "$0" ]]; then exit 0; fi

cc=${CC:-$(command -v cc || command -v gcc || true)}
if [[ -z $cc ]]; then say "no C compiler (install gcc)"; exit 1; fi

# node_api.h: next to the running node (official tarballs, Debian's nodejs), else npm's nodedir,
# else the node-api-headers package (a devDependency; Node-API is ABI-stable across versions).
node_bin=$(command -v node)
include=""
for dir in "$(dirname "$(readlink -f "$node_bin")")/../include/node" /usr/include/node /usr/local/include/node \
           "$(npm config get nodedir 2>/dev/null)/include/node" node_modules/node-api-headers/include; do
  if [[ -f $dir/node_api.h ]]; then include=$dir; break; fi
done
if [[ -z $include ]]; then say "node_api.h not found (Node's headers)"; exit 1; fi

if ! printf '#include <cblas.h>\nint main(void){return 0;}\n' | "$cc" -x c - -o /dev/null -lopenblas 2>/dev/null; then
  say "OpenBLAS not found (install libopenblas-dev)"
  exit 1
fi

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
"$cc" -O3 -Wall -Wextra -shared -fPIC -DNODE_GYP_MODULE_NAME=tessera_blas -I"$include" "$src" -o "$tmp" -lopenblas
mv -f "$tmp" "$out"
say "built $out"
