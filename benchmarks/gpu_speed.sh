#!/usr/bin/env bash
# Every GPU number that issue 15 asks for, in ONE call of the device tool (about 8 minutes on an
# H200; each stage has its own time limit, and whatever finished is kept):
#
#   1. correctness on the GPU: LARS and fused AdamW against per-parameter references, batches
#      indexed on the GPU against the CPU's, and where the host waits for the GPU during train()
#      (torch.cuda.set_sync_debug_mode: only the epoch-end reads may appear)
#   2. our training loop (train.py) as `pretrain` runs it: SimCLR (LARS) and MoCo v2 (SGD, split
#      BatchNorm in 8 groups), ResNet-18 with the CIFAR stem, batch 512, bf16, channels_last,
#      torch.compile, 50 000 images at 32 px: images/s over epochs 2-3 and the GPU busy fraction
#      (nvidia-smi dmon -s u) -- the goal is >= 35 000 images/s and >= 90 % busy for SimCLR
#   4. `speed`: training step on given views (the MoCo step ratio, goal >= 1.0), end to end with
#      lightly's DataLoader at its best, augmentation; every contender timed alone
#   5. MoCo's step profiled, eager: ours (plain BatchNorm, split BatchNorm, split BatchNorm as it
#      was before this change) against lightly's: GPU time, host time, top kernels
#   3. our loop again, SimCLR with CUDA graphs (--compile reduce-overhead), then both without
#      torch.compile (what compile and graphs buy)
# The stages run in that order (the most wanted first) within 570 s (BUDGET).
#
# Prepare once, on a machine with the package index (wheels for the GPU machine's Python 3.12):
#     bash benchmarks/gpu_speed.sh --fetch-wheels
# Then, from the checkout that the device tool sends:
#     run(command="bash benchmarks/gpu_speed.sh", carry=[".whl"], timeout_s=600)
# The log and the JSON tables come back as files ($OUT/gpu_speed.log, $OUT/*.json).
# A smoke test of this script on the CPU (tiny sizes, a few minutes):  TINY=1 bash benchmarks/gpu_speed.sh
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--fetch-wheels" ]]; then
  exclude="$(git rev-parse --git-common-dir)/info/exclude"
  grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
  "${PY:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    lightly==1.6.0 kornia==0.9.0 kornia_rs==0.2.0
  exit
fi

OUT=${OUT:-runs/gpu_speed}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_speed.log") 2>&1
log_pid=$!
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor-cache}

if [[ "${TINY:-0}" == 1 ]]; then  # the CPU: every stage runs, on sizes that take seconds (compiling takes minutes)
  PY=${PY:-.venv/bin/python}
  export OMP_NUM_THREADS=1
  loop=(--device cpu --backbone convnet --batch-size 32 --num-images 256 --epochs 2)
  speed=(--device cpu --backbone convnet --batch-size 16 --num-images 128 --steps 1 --workers 2)
  BUDGET=${BUDGET:-4000} SCALE=10  # compiling on a (loaded) CPU takes minutes
else
  PY=${PY:-python3}
  if compgen -G ".whl/*.whl" > /dev/null; then  # lightly and kornia travel as wheels
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  loop=(--device cuda --precision bf16 --channels-last --backbone resnet18-cifar --batch-size 512
        --num-images 50000 --epochs 3)
  speed=(--device cuda --precision bf16 --channels-last --compile --backbone resnet18-cifar --batch-size 512
         --num-images 50000 --steps 3 --min-seconds 3)
  BUDGET=${BUDGET:-570} SCALE=1  # seconds for all stages: the device tool stops a command at 600
fi
stage() {  # stage NAME SECONDS COMMAND...: a time limit per stage, cut to what is left of BUDGET;
  local name=$1 seconds=$(($2 * SCALE)); shift 2  # a failed or stopped stage does not stop the others
  local left=$((BUDGET - SECONDS))
  (( left < 30 )) && { echo; echo "===== $name: skipped, ${left}s left"; return; }
  (( seconds > left )) && seconds=$left
  echo; echo "===== $name ($(date +%T), limit ${seconds}s): $*"
  local start=$SECONDS
  timeout --signal=INT --kill-after=10 "$seconds" "$@"; local rc=$?
  echo "===== $name: exit $rc after $((SECONDS - start))s"
}

echo "===== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
"$PY" -c "import lightly, kornia; print('lightly', lightly.__version__, 'kornia', kornia.__version__)" \
  || echo "lightly/kornia missing: run --fetch-wheels here and carry .whl (the speed tables need them)"

stage "1 correctness and host syncs" 60 "$PY" benchmarks/gpu_checks.py correct
stage "2 our loop, torch.compile (the headline)" 170 "$PY" -m ssl_examples speed --tables loop "${loop[@]}" \
  --compile --no-progress --out "$OUT/loop_compile.json"
stage "4 speed: ours vs lightly, each alone" 200 "$PY" -m ssl_examples speed --tables step end-to-end augmentation \
  "${speed[@]}" --out "$OUT/speed.json"
stage "5 MoCo step profiled (eager)" 60 "$PY" benchmarks/gpu_checks.py profile --compile ""
stage "3a our loop, SimCLR, CUDA graphs" 100 "$PY" -m ssl_examples speed --tables loop "${loop[@]}" --methods simclr \
  --compile reduce-overhead --no-progress --out "$OUT/loop_graphs.json"
stage "3b our loop, eager" 60 "$PY" -m ssl_examples speed --tables loop "${loop[@]}" --no-progress \
  --out "$OUT/loop_eager.json"
echo; echo "===== done after ${SECONDS}s ($(date +%T)); tables: $OUT/*.json"
exec >&- 2>&-
wait "$log_pid"  # the log file is complete before the command returns
