#!/usr/bin/env bash
# Builds .gpu-pack/: a self-contained Tessera for a GPU host that may have no Node, no npm and no
# network (issue #20). scripts/gpu-check.sh unpacks it there and runs the GPU check. Run it from
# a Debian machine with the npm packages installed (npm ci, optional dependencies included):
#
#   bash scripts/pack-gpu.sh [--out DIR]          (default DIR: .gpu-pack)
#
# What goes in (everything xz-compressed; the whole must stay under 60 MB):
#   node.xz           this machine's node binary, stripped (it needs glibc >= 2.28 and libstdc++)
#   tessera.tar.xz    dist/ (sources and benches), bin/, protos/, examples/, package.json,
#                     bench/torch-gpu-step.py, the native OpenBLAS addon with the shared
#                     libraries it links (lib/: OpenBLAS, gfortran, quadmath; a GPU host may
#                     lack them), and the production node_modules with the webgpu packages,
#                     pruned to what Node loads (tfjs packages keep their Node bundle and wasm
#                     binaries; Dawn keeps its linux-x64 binding; no maps, types, docs or tests)
#   etcd.xz           Debian's etcd-server binary (tessera local starts its own etcd)
#   debs/             the Vulkan loader (apt-get download libvulkan1), unpacked on the host with
#                     dpkg -x into a private directory
#   MANIFEST.json     versions, sizes and checksums
set -euo pipefail
cd "$(dirname "$0")/.."

out=.gpu-pack
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "pack-gpu: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
LIMIT_BYTES=$((60 * 1000 * 1000))

say() { echo "pack-gpu: $*" >&2; }
die() { say "$*"; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is required ($2)"; }
need node 'Node 20'
need npm 'npm'
need xz 'apt-get install -y xz-utils'
need strip 'apt-get install -y binutils'
need apt-get 'a Debian machine'
need etcd 'apt-get install -y etcd-server'
for pkg in webgpu @tensorflow/tfjs-backend-webgpu; do
  [[ -f node_modules/$pkg/package.json ]] || die "node_modules/$pkg is missing: run npm ci (with optional dependencies)"
done

say "building dist/ and the native addon"
npm run build --silent
[[ -f native/build/tessera_blas.node ]] || die "native/build/tessera_blas.node was not built (scripts/build-native.sh: needs gcc and libopenblas-dev)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/tessera-pack.XXXXXX")
trap 'rm -rf "$stage"' EXIT
app=$stage/tessera
pack=$stage/pack
mkdir -p "$app/dist" "$app/bench" "$app/native/build" "$app/lib" "$pack/debs"

cp -a bin protos examples package.json "$app/"
cp -a dist/src dist/bench "$app/dist/"
cp bench/torch-gpu-step.py "$app/bench/"
cp native/build/tessera_blas.node "$app/native/build/"
for lib in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0; do
  path=$(ldd native/build/tessera_blas.node | awk -v l="$lib" '$1 == l { print $3 }')
  [[ -n $path ]] || die "the native addon does not link $lib (ldd native/build/tessera_blas.node)"
  cp -L "$path" "$app/lib/$lib"
done

say "copying the production node_modules"
npm ls --omit=dev --parseable --all 2>/dev/null | sed "s|^$PWD/||" \
  | grep -E '^node_modules/(@[^/]+/)?[^/]+$' | sort -u >"$stage/packages"
while read -r dir; do
  mkdir -p "$app/$(dirname "$dir")"
  cp -a "$dir" "$app/$dir"
done <"$stage/packages"

say "pruning node_modules"
nm=$app/node_modules
# Not loaded by Node: source maps, type declarations, docs, tests.
find "$nm" -type f \( -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.md' \
  -o -name '*.markdown' -o -name 'CHANGELOG*' -o -name '*.tsbuildinfo' -o -name '*.flow' \) -delete
find "$nm" -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name .github -o -name docs \
  -o -name benchmark -o -name benchmarks \) -exec rm -rf {} +
find "$nm" -depth -type d -name '@types' -exec rm -rf {} +
# tfjs packages: Node loads each package's `main` bundle (and the wasm backend its binaries);
# the browser, ES-module and per-file builds are most of their weight.
for pkg in "$nm"/@tensorflow/*; do
  main=$(node -p "require(process.argv[1]).main" "$pkg/package.json")
  find "$pkg" -mindepth 1 -maxdepth 1 ! -name package.json ! -name dist ! -name node_modules ! -name 'LICENSE*' -exec rm -rf {} +
  find "$pkg/dist" -type f ! -path "$pkg/$main" ! -name '*.wasm' -delete
  find "$pkg/dist" -depth -type d -empty -delete
  [[ -f $pkg/$main ]] || die "$pkg: its main bundle $main is missing"
done
# Dawn: the linux-x64 binding only (Tessera loads it directly, see src/model/webgpu/dawn.ts).
find "$nm/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -rf "$nm/webgpu/build" "$nm/webgpu/node_modules/@webgpu"
# Not loaded under Node: core-js (a browser polyfill tfjs depends on); lmdb's musl build.
rm -rf "$nm/core-js" "$nm"/@lmdb/*/node.napi.musl.node

say "compressing"
tar -C "$stage" -cf - tessera | xz -9 -T0 >"$pack/tessera.tar.xz"
strip -o "$stage/node" "$(readlink -f "$(command -v node)")"
xz -9 -T0 -c "$stage/node" >"$pack/node.xz"
xz -9 -T0 -c "$(readlink -f "$(command -v etcd)")" >"$pack/etcd.xz"
if ! (cd "$pack/debs" && apt-get download libvulkan1 >/dev/null 2>&1); then
  say "apt-get download libvulkan1 failed; running apt-get update once"
  apt-get update -qq >/dev/null
  (cd "$pack/debs" && apt-get download libvulkan1 >/dev/null)
fi

node - "$pack" "$stage/node" <<'EOF'
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const [pack, nodeBin] = process.argv.slice(2);
const sh = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return null; } };
const files = {};
for (const f of ['node.xz', 'tessera.tar.xz', 'etcd.xz', ...fs.readdirSync(path.join(pack, 'debs')).map((d) => `debs/${d}`)]) {
  const buf = fs.readFileSync(path.join(pack, f));
  files[f] = { bytes: buf.length, sha256: crypto.createHash('sha256').update(buf).digest('hex') };
}
const version = (p) => JSON.parse(fs.readFileSync(`node_modules/${p}/package.json`, 'utf8')).version;
const manifest = {
  created: new Date().toISOString(),
  commit: sh('git', ['rev-parse', 'HEAD']),
  node: sh(nodeBin, ['--version']),
  etcd: (sh('etcd', ['--version']) ?? '').split('\n')[0],
  webgpu: version('webgpu'), tfjs: version('@tensorflow/tfjs'), tfjs_backend_webgpu: version('@tensorflow/tfjs-backend-webgpu'),
  files,
  total_bytes: Object.values(files).reduce((a, f) => a + f.bytes, 0),
};
fs.writeFileSync(path.join(pack, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);
EOF

total=$(du -sb "$pack" | cut -f1)
if (( total > LIMIT_BYTES )); then
  du -ab "$pack" | sort -n | tail -8 >&2
  die "the pack is $total bytes, over the $LIMIT_BYTES limit"
fi
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$pack" "$out"
say "wrote $out ($total bytes):"
ls -l "$out" "$out/debs" >&2
