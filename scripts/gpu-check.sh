#!/usr/bin/env bash
# The GPU check of issue #20: unpacks a pack from scripts/pack-gpu.sh on a GPU host (which may have
# no Node, no npm and no network) and measures the webgpu backend there. Run from the repository
# root:
#
#   bash scripts/gpu-check.sh --pack .gpu-pack --out DIR [--quick] [size flags]
#
# Each section prints one JSON line to stdout and appends it to DIR/gpu-check.jsonl as it goes;
# the output of every sub-run goes to DIR/gpu-check.log. Every section is time-boxed, and a
# section that fails or times out reports that in its own line while the check goes on. Sections:
#
#   env        the unpacked pack, the host (cores, memory, glibc, `nvidia-smi -L`), the Vulkan
#              driver found (VK_DRIVER_FILES / VK_ICD_FILENAMES), python3's torch
#   adapter    what Dawn reports for that driver (vendor, device, fallback or not, limits)
#   parity     the five models' trainStep and predict on webgpu against the cpu backend (1e-5)
#   step       DeepFM's trainStep samples/s at each batch size: fused, fused with two steps in
#              flight, and (first batch size) op by op through tfjs; dispatches per step
#   torch      the same step in PyTorch on the same GPU, same interface (bench/torch-gpu-step.py)
#   gen        the synthetic data of the cluster runs (tessera gen)
#   cluster-*  `tessera local` with its own etcd (from the pack): webgpu workers, then wasm
#              workers, on the same data, batch, epochs and PS count; then --gpu-workers webgpu
#              workers (several Dawn devices on one GPU). One line per run, with the backend each
#              worker really ran on (a worker that cannot start webgpu falls back to wasm).
#   summary    the figures against the issue's targets, and which sections failed
#
# Size flags (defaults for an H200 host with 16 cores; --quick picks tiny ones for a software
# Vulkan, and flags after it still apply):
#   --batches 4096,16384  --steps 20  --warmup 3  --hidden 400,400  --parity-batch 64
#   --rows 1000000  --eval-rows 100000  --epochs 1  --cluster-batch 4096
#   --workers 2  --gpu-workers 4  --ps auto (cores - workers - 2, at most 8)  --budget 440 (seconds)
#
# A software (fallback) adapter is refused unless TESSERA_WEBGPU_ALLOW_FALLBACK=1 is set.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
START=$(date +%s)

pack=""
out=""
batches=4096,16384; steps=20; warmup=3; tfjs_steps=5; hidden=400,400; parity_batch=64
rows=1000000; eval_rows=100000; epochs=1; cluster_batch=4096
workers=2; gpu_workers=4; ps=auto; budget=440; quick=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --pack) pack=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) quick=1; batches=64,128; steps=3; warmup=1; tfjs_steps=2; hidden=16,8; parity_batch=8
             rows=4000; eval_rows=1000; cluster_batch=256; workers=2; gpu_workers=2; ps=2; shift ;;
    --batches) batches=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --hidden) hidden=$2; shift 2 ;;
    --parity-batch) parity_batch=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --eval-rows) eval_rows=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --cluster-batch) cluster_batch=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --gpu-workers) gpu_workers=$2; shift 2 ;;
    --ps) ps=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $pack && -n $out ]] || { echo "gpu-check: --pack DIR and --out DIR are required (see --help)" >&2; exit 2; }
pack=$(cd "$pack" 2>/dev/null && pwd) || { echo "gpu-check: no pack at the --pack path" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)
JSONL=$out/gpu-check.jsonl
LOG=$out/gpu-check.log
DEADLINE=$((START + budget))
RUN=$(date -u +%Y%m%dT%H%M%SZ)
CORES=$(nproc 2>/dev/null || echo 1)
if [[ $ps == auto ]]; then ps=$((CORES - workers - 2)); ((ps > 8)) && ps=8; ((ps < 1)) && ps=1; fi
WORK=$(mktemp -d /tmp/tessera-gpu-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
NODE=$WORK/bin/node
APP=$WORK/tessera
echo "gpu-check run $RUN: work dir $WORK" >>"$LOG"

# --- JSON lines -------------------------------------------------------------------------------
# One line per section, built by the packed node once it is unpacked, else by python3, else by
# hand (the unpack section's failure line must still be JSON).
have_node() { [[ -x $NODE ]] && "$NODE" -e 0 2>/dev/null; }
# json_line SECTION [key value]... : values that parse as JSON stay JSON, others become strings.
json_line() {
  local section=$1; shift
  if have_node; then
    "$NODE" -e '
      const [run, section, ...kv] = process.argv.slice(1);
      const o = { section, run };
      for (let i = 0; i < kv.length; i += 2) { let v = kv[i + 1]; try { v = JSON.parse(v); } catch { /* a string */ } o[kv[i]] = v; }
      process.stdout.write(JSON.stringify(o));' "$RUN" "$section" "$@"
  elif command -v python3 >/dev/null; then
    python3 -c '
import json, sys
run, section, *kv = sys.argv[1:]
o = {"section": section, "run": run}
for k, v in zip(kv[::2], kv[1::2]):
    try: o[k] = json.loads(v)
    except ValueError: o[k] = v
sys.stdout.write(json.dumps(o))' "$RUN" "$section" "$@"
  else
    local s="{\"section\":\"$section\",\"run\":\"$RUN\""
    while [[ $# -gt 1 ]]; do s+=",\"$1\":\"$(printf '%s' "$2" | tr '\n"\\' '   ')\""; shift 2; done
    printf '%s}' "$s"
  fi
}
emit() { printf '%s\n' "$1"; printf '%s\n' "$1" >>"$JSONL"; }
elapsed() { echo $(($(date +%s) - START)); }

# --- time-boxed sub-runs ----------------------------------------------------------------------
# run_limited SECONDS OUTFILE CMD... : runs CMD in its own process group (stdout to OUTFILE,
# stderr to the log); after SECONDS the whole group gets SIGTERM, then SIGKILL 10 s later, so a
# cluster's etcd, PS and workers go too. Returns CMD's status, or 124 when it timed out.
run_limited() {
  local limit=$1 outfile=$2; shift 2
  setsid "$@" >"$outfile" 2>>"$LOG" </dev/null &
  local pid=$! i
  (
    for ((i = 0; i < limit; i++)); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 1; done
    echo "gpu-check: time limit of ${limit}s reached; stopping process group $pid" >>"$LOG"
    kill -TERM -- "-$pid" 2>/dev/null; sleep 10; kill -KILL -- "-$pid" 2>/dev/null
    touch "$outfile.timeout"
  ) &
  local watchdog=$!
  wait "$pid"; local rc=$?
  wait "$watchdog" 2>/dev/null
  kill -TERM -- "-$pid" 2>/dev/null # leftovers of a run that ended on its own
  if [[ -e $outfile.timeout ]]; then rc=124; fi
  return "$rc"
}

# section NAME LIMIT_S [key value]... -- CMD... : runs CMD time-boxed and emits its last stdout
# line (a JSON object, merged over {section, run, key: value...}) or a failure line.
section() {
  local name=$1 limit=$2; shift 2
  local meta=()
  while [[ $1 != -- ]]; do meta+=("$1" "$2"); shift 2; done
  shift
  local left=$((DEADLINE - $(date +%s) - 5))
  if ((left < 10)); then
    emit "$(json_line "$name" ok false skipped "the ${budget}s time budget is spent" ${meta[@]+"${meta[@]}"})"
    return 1
  fi
  ((limit > left)) && limit=$left
  local outfile=$WORK/$name.$RANDOM.out t0
  t0=$(date +%s)
  echo "=== $(date -u +%H:%M:%S) $name (limit ${limit}s): $*" >>"$LOG"
  run_limited "$limit" "$outfile" "$@"
  local rc=$? secs=$(($(date +%s) - t0))
  local last
  last=$(tail -n 1 "$outfile" 2>/dev/null)
  local merged status
  if ((rc == 0)) && have_node; then
    # Exit status 0: merged; 3: merged, and the section says it failed ("ok": false); else no JSON.
    merged=$("$NODE" -e '
      const [run, name, last, ...kv] = process.argv.slice(1);
      const parsed = JSON.parse(last);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      const o = { section: name, run };
      for (let i = 0; i < kv.length; i += 2) { let v = kv[i + 1]; try { v = JSON.parse(v); } catch { /* a string */ } o[kv[i]] = v; }
      process.stdout.write(JSON.stringify({ ...o, ...parsed, section: name, run }));
      if (parsed.ok === false) process.exitCode = 3;' "$RUN" "$name" "$last" ${meta[@]+"${meta[@]}"} 2>/dev/null)
    status=$?
    if ((status == 0 || status == 3)); then
      emit "$merged"
      return $((status == 0 ? 0 : 1))
    fi
  fi
  local why="exit status $rc"
  ((rc == 124)) && why="timed out after ${limit}s"
  ((rc == 0)) && why="its last output line is not a JSON object"
  emit "$(json_line "$name" ok false error "$why" rc "$rc" seconds "$secs" ${meta[@]+"${meta[@]}"} \
    output_tail "$(tail -n 3 "$outfile" 2>/dev/null)" log_tail "$(tail -n 12 "$LOG")")"
  return 1
}

# --- unpack -----------------------------------------------------------------------------------
unxz_to() { # FILE DEST
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
untar_xz() { # FILE DIR
  if command -v xz >/dev/null; then xz -dc "$1" | tar -C "$2" -xf -
  else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"; fi
}
undeb() { # DEB DIR: dpkg -x where dpkg exists, else the data member of the ar archive
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8  # "!<arch>\n"
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip(), int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size & 1)
EOF
}
unpack() {
  mkdir -p "$WORK/bin" "$WORK/vulkan" &&
  unxz_to "$pack/node.xz" "$NODE" && chmod 755 "$NODE" &&
  unxz_to "$pack/etcd.xz" "$WORK/bin/etcd" && chmod 755 "$WORK/bin/etcd" &&
  untar_xz "$pack/tessera.tar.xz" "$WORK" &&
  for deb in "$pack"/debs/*.deb; do undeb "$deb" "$WORK/vulkan" || return 1; done
}
t0=$(date +%s)
if ! unpack >>"$LOG" 2>&1 || ! have_node; then
  emit "$(json_line unpack ok false error "could not unpack $pack (see the log)" log_tail "$(tail -n 12 "$LOG")")"
  exit 1
fi
export PATH="$WORK/bin:$PATH"
vk_lib=$(dirname "$(find "$WORK/vulkan" -name 'libvulkan.so.1' | head -n 1)")
# The Vulkan loader from the pack, OpenBLAS for the wasm workers' native kernels: for our node
# only (python3's torch keeps its own libraries).
NODE_LD="$vk_lib:$APP/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
tnode() { LD_LIBRARY_PATH=$NODE_LD "$NODE" "$@"; }
tessera() { tnode "$APP/bin/tessera.js" "$@"; }
unpack_s=$(($(date +%s) - t0))

# --- env: the host and its Vulkan driver ------------------------------------------------------
find_icd() {
  local f lib
  if [[ -n ${VK_DRIVER_FILES:-} || -n ${VK_ICD_FILENAMES:-} ]]; then
    ICD=${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}; ICD_SOURCE=environment; return
  fi
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
           /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json; do
    if [[ -f $f ]]; then ICD=$f; ICD_SOURCE=found; return; fi
  done
  # The NVIDIA container runtime (graphics capability) mounts the driver's Vulkan library even
  # where no manifest names it: write one.
  lib=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ { print $NF; exit }'; \
          ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libGLX_nvidia.so.0 2>/dev/null) | head -n 1)
  if [[ -n $lib ]]; then
    ICD=$WORK/nvidia_icd.json ICD_SOURCE="written for $lib"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" >"$ICD"
    return
  fi
  for f in /usr/lib/chromium/vk_swiftshader_icd.json /usr/share/vulkan/icd.d/lvp_icd.x86_64.json; do
    if [[ -f $f ]]; then ICD=$f; ICD_SOURCE="software (no NVIDIA driver found)"; return; fi
  done
  ICD=""; ICD_SOURCE="none found"
}
find_icd
if [[ -n $ICD ]]; then export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD; fi
smi=$(timeout 20 nvidia-smi -L 2>&1 || echo "nvidia-smi: unavailable")
torch_version=$(timeout 60 python3 -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda")' 2>/dev/null || echo "")
mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
emit "$(json_line env ok true unpack_seconds "$unpack_s" work "$WORK" node "$("$NODE" --version)" \
  glibc "$(ldd --version 2>/dev/null | head -n 1)" cores "$CORES" mem_gib "${mem_gib:-null}" nvidia_smi "$smi" \
  vulkan_icd "${ICD:-null}" icd_source "$ICD_SOURCE" vulkan_loader "$vk_lib" python_torch "${torch_version:-null}" \
  allow_fallback "${TESSERA_WEBGPU_ALLOW_FALLBACK:-0}" quick "$quick" pack "$(cat "$pack/MANIFEST.json" 2>/dev/null | tr -d '\n' || echo null)")"

# --- the GPU sections -------------------------------------------------------------------------
check=$APP/dist/bench/gpu-check.js
section adapter 60 -- env LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$check" adapter
section parity 150 -- env LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$check" parity --batch "$parity_batch" --hidden "$hidden"
section step 240 -- env LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$check" step --batches "$batches" --steps "$steps" \
  --warmup "$warmup" --tfjs-steps "$tfjs_steps" --hidden "$hidden"
if [[ -n $torch_version ]]; then
  section torch 150 -- python3 "$APP/bench/torch-gpu-step.py" --batches "$batches" --steps "$steps" --warmup "$warmup" --hidden "$hidden"
else
  emit "$(json_line torch ok false skipped "python3 cannot import torch")"
fi

# --- the cluster: webgpu workers against wasm workers -----------------------------------------
data=$WORK/data
mkdir -p "$data"
section gen 120 rows "$rows" eval_rows "$eval_rows" -- env LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$APP/bin/tessera.js" gen \
  --rows "$rows" --out "$data/train.tsv" --eval-rows "$eval_rows" --eval-out "$data/eval.tsv" --seed 7 --json
tnode "$check" job --batch "$cluster_batch" --hidden "$hidden" >"$data/job.yaml" 2>>"$LOG"
cluster() { # NAME BACKEND WORKERS
  local run_dir=$WORK/$1
  mkdir -p "$run_dir"
  section "$1" 200 backend "$2" workers "$3" ps "$ps" batch "$cluster_batch" rows "$rows" epochs "$epochs" -- \
    env LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$check" cluster --job "$data/job.yaml" --ps "$ps" --workers "$3" \
    --data "$data/train.tsv" --eval "$data/eval.tsv" --epochs "$epochs" --backend "$2" --run-dir "$run_dir"
  local rc=$?
  if ((rc != 0)); then # the processes' own logs say why
    for f in "$run_dir"/*.log; do [[ -f $f ]] && { echo "--- tail of $f"; tail -n 20 "$f"; } >>"$LOG"; done
  fi
  return "$rc"
}
if [[ -s $data/train.tsv ]]; then
  cluster cluster-webgpu webgpu "$workers"; gpu_ok=$?
  cluster cluster-wasm wasm "$workers"
  if ((gpu_ok == 0)); then cluster cluster-webgpu-multi webgpu "$gpu_workers"; fi
else
  emit "$(json_line cluster ok false skipped "no training data (the gen section failed)")"
fi

# --- summary ----------------------------------------------------------------------------------
summary=$(tnode - "$JSONL" "$RUN" "$(elapsed)" <<'EOF'
const fs = require('fs');
const [file, run, seconds] = process.argv.slice(2);
const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } }).filter((l) => l.run === run);
const by = Object.fromEntries(lines.map((l) => [l.section, l]));
const at = (s, b) => (by[s]?.results ?? []).find((r) => r.batch === b);
const step4096 = at('step', 4096);
const best4096 = step4096 ? Math.max(step4096.fused_samples_per_s, step4096.pipelined_samples_per_s) : null;
const torch4096 = at('torch', 4096)?.samples_per_s ?? null;
const gpu = by['cluster-webgpu'];
const cpu = by['cluster-wasm'];
const ratio = gpu?.samples_per_s && cpu?.samples_per_s ? gpu.samples_per_s / cpu.samples_per_s : null;
const aucDiff = gpu?.auc != null && cpu?.auc != null ? Math.abs(gpu.auc - cpu.auc) : null;
const out = {
  section: 'summary', run, seconds: Number(seconds),
  failed: lines.filter((l) => l.ok === false).map((l) => l.section),
  adapter: by.adapter ? `${by.adapter.vendor} ${by.adapter.device}${by.adapter.fallback ? ' (fallback)' : ''}` : null,
  parity_ok: by.parity?.ok ?? null,
  step_samples_per_s: Object.fromEntries((by.step?.results ?? []).map((r) => [r.batch, Math.max(r.fused_samples_per_s, r.pipelined_samples_per_s)])),
  step_4096_samples_per_s: best4096, step_4096_target: 600000, step_4096_meets_target: best4096 === null ? null : best4096 >= 600000,
  tfjs_4096_samples_per_s: step4096?.tfjs_samples_per_s ?? null,
  dispatches_fused: step4096?.fused_dispatches ?? null, dispatches_tfjs: step4096?.tfjs_dispatches ?? null,
  torch_4096_samples_per_s: torch4096,
  step_vs_torch: best4096 && torch4096 ? best4096 / torch4096 : null, step_vs_torch_target: 0.25,
  cluster_webgpu_samples_per_s: gpu?.samples_per_s ?? null, cluster_wasm_samples_per_s: cpu?.samples_per_s ?? null,
  cluster_valid: gpu?.ok === true && cpu?.ok === true,
  cluster_ratio: ratio, cluster_ratio_target: 3, cluster_auc_diff: aucDiff, cluster_auc_diff_target: 0.005,
  cluster_webgpu_multi_samples_per_s: by['cluster-webgpu-multi']?.samples_per_s ?? null,
  cluster_webgpu_multi_workers: by['cluster-webgpu-multi']?.workers ?? null,
};
process.stdout.write(JSON.stringify(out));
EOF
)
if [[ -n $summary ]]; then emit "$summary"; else emit "$(json_line summary ok false error "could not summarise $JSONL")"; fi
echo "gpu-check run $RUN done in $(elapsed)s" >>"$LOG"
