#!/usr/bin/env bash
# The benchmark's GPU tier (`bench --tier gpu`, issue 10 part 5) in ONE call of the device tool.
#
# A session is lent about 15 minutes of GPU time, and the tier's recipes are sized for about
# two minutes a method and seed, so one call cannot run every row over three seeds. This runs
# as many methods as fit in BUDGET seconds, one seed each by default (SEEDS="0 1 2" for three),
# in the order below: the contrastive methods first (the issue's aim is them within 10 points
# of the supervised reference), then the other methods without negatives, then the pretext
# tasks. Each method is its own `bench` process with a time limit of what is left of the
# budget, so a method cut off loses only itself; rows and baselines accumulate in
# $OUT/bench-gpu.json (each write is atomic), which the session then copies to
# docs/results/bench-gpu.json and commits. A row's command names its seeds (see bench.py).
#
#   run(command="bash benchmarks/gpu_tier.sh", timeout_s=600)
#   METHODS="simclr moco" SEEDS="0 1 2" bash benchmarks/gpu_tier.sh    # other rows, more seeds
#
# A smoke test on the CPU (the loop, the time limits and the output file, $OUT/bench-cpu.json:
# `--tier cpu` rows of two methods in 240 s, so the second is cut off): TINY=1 bash benchmarks/gpu_tier.sh
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-runs/gpu_tier}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_tier.log") 2>&1
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor-cache}

if [[ "${TINY:-0}" == 1 ]]; then
  PY=${PY:-.venv/bin/python}
  TIER=cpu BUDGET=${BUDGET:-240}
  METHODS=${METHODS:-"rotation context_encoder"}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
  PY=${PY:-python3}
  TIER=gpu BUDGET=${BUDGET:-560}  # the device tool stops a command at 600 s
  METHODS=${METHODS:-"simclr moco npid exemplar byol vicreg barlow_twins simsiam swav dino moco_v3 rotation
    context_prediction jigsaw colorization bownet context_encoder mae ijepa shuffle_and_learn order_prediction
    audio_visual tracking_colorization"}
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
SEEDS=${SEEDS:-0}
results="$OUT/bench-$TIER.json"
deadline=$(( $(date +%s) + BUDGET ))
echo "tier $TIER, seeds $SEEDS, budget $BUDGET s, results $results"

done_methods=() failed=() not_started=()
for m in $METHODS; do
  left=$(( deadline - $(date +%s) ))
  if (( left < 30 )); then not_started+=("$m"); continue; fi
  echo "== $m ($left s left)"
  start=$(date +%s)
  # shellcheck disable=SC2086  # SEEDS is a list of words on purpose
  timeout --signal=INT --kill-after=10 "$left" "$PY" -m ssl_examples bench --tier "$TIER" --seeds $SEEDS \
    --methods "$m" --out "$results" --no-progress
  rc=$?
  echo "== $m: exit $rc after $(( $(date +%s) - start )) s"
  if (( rc == 0 )); then done_methods+=("$m"); else failed+=("$m"); fi
done
echo "rows written: ${done_methods[*]:-none}"
echo "failed or cut off: ${failed[*]:-none}"
echo "not started (budget): ${not_started[*]:-none}"
