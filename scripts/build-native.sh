#!/usr/bin/env bash
# Builds the two N-API addons under native/build/:
# - tessera_rows.node, the data plane's probe, gather, dedup and row copies (src/common/native-rows.ts,
#   ADR 0041): needs a C compiler and Node's headers (node_api.h) only;
# - tessera_blas.node, the OpenBLAS matMul kernels for tfjs's wasm backend (src/model/native-kernels.ts,
#   ADR 0014): needs OpenBLAS too (Debian: libopenblas-dev).
# Skips an addon that is newer than its source and this script.
#
# Exit status: 0 when both are built (or already up to date), 1 when either cannot be built; the
# reason is printed. Everything still works without them, on the slower JavaScript/wasm loops.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "build-native: $*" >&2; }
# fresh OUT SRC...: OUT exists and is newer than every SRC and this script.
fresh() {
  local out=$1 f
  shift
  [[ -f $out && $out -nt $0 ]] || return 1
  for f in "$@"; do [[ $out -nt $f ]] || return 1; done
}
rows_src=(native/tessera_rows.c native/rows/*.c native/rows/*.h)
rows_out=native/build/tessera_rows.node
src=native/tessera_blas.c
out=native/build/tessera_blas.node

if fresh "$rows_out" "${rows_src[@]}" && fresh "$out" "$src"; then exit 0; fi

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

# compile NAME OUT SOURCES... [-lLIB...]: an addon, written atomically. No fused multiply-adds
# (-ffp-contract=off), so float results are the ones V8 computes (ADR 0041).
compile() {
  local name=$1 to=$2 tmp
  shift 2
  mkdir -p "$(dirname "$to")"
  tmp=$to.tmp.$$
  "$cc" -O3 -ffp-contract=off -fno-math-errno -Wall -Wextra -shared -fPIC -DNODE_GYP_MODULE_NAME="$name" -I"$include" "$@" -o "$tmp"
  mv -f "$tmp" "$to"
  say "built $to"
}

if ! fresh "$rows_out" "${rows_src[@]}"; then compile tessera_rows "$rows_out" native/tessera_rows.c native/rows/*.c -lm; fi
if fresh "$out" "$src"; then exit 0; fi

if ! printf '#include <cblas.h>\nint main(void){return 0;}\n' | "$cc" -x c - -o /dev/null -lopenblas 2>/dev/null; then
  say "OpenBLAS not found (install libopenblas-dev)"
  exit 1
fi

compile tessera_blas "$out" "$src" -lopenblas
