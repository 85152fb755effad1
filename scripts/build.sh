#!/usr/bin/env bash
# `npm run build`: compiles into a fresh directory and swaps it in for dist/, so a second build
# started meanwhile (two `npm start` at once) never deletes the files a running one loads; and
# skips the compile when no source, test, bench, tsconfig or package.json changed since the last
# one (dist/.built). Then the native kernels (scripts/build-native.sh; optional).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.built
if [[ -f $stamp && -z $(find src test bench tsconfig.json package.json -newer "$stamp" -print -quit 2>/dev/null) ]]; then
  bash scripts/build-native.sh || true
  exit 0
fi
tmp=$(mktemp -d "dist.build-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/.started"
npx tsc -p tsconfig.json --outDir "$tmp"
# The stamp is the time the compile began: a source edited during it is compiled next time.
mv "$tmp/.started" "$tmp/.built"
old=$(mktemp -d "dist.old-XXXXXX")
if [[ -d dist ]]; then mv dist "$old/"; fi
mv "$tmp" dist
rm -rf "$old"
bash scripts/build-native.sh || true
