#!/usr/bin/env bash
# Throughput of SimCLR and MoCo (ours vs lightly) on a GPU: fp32, bf16 autocast,
# bf16 + channels_last, and bf16 + channels_last + torch.compile. Data are generated on
# the device for our side; lightly's per-image transforms run in DataLoader workers.
#
#   bash benchmarks/gpu_check.sh                 # a CUDA machine: ResNet-18, batch 512, 20 steps
#   TINY=1 bash benchmarks/gpu_check.sh          # smoke test on the CPU (a few seconds a setting)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [[ "${TINY:-0}" == 1 ]]; then
  common=(--device cpu --speed-backbone convnet --speed-batch 8 --steps 1 --workers 0 --no-progress)
  settings=("--precision fp32" "--precision bf16 --channels-last")
else
  common=(--device cuda --speed-backbone resnet18-cifar --speed-batch "${BATCH:-512}" --steps "${STEPS:-20}"
          --workers "${WORKERS:-8}" --no-progress)
  settings=("--precision fp32" "--precision bf16" "--precision bf16 --channels-last"
            "--precision bf16 --channels-last --compile")
fi
for s in "${settings[@]}"; do
  echo "=== bench --speed ${common[*]} $s"
  # shellcheck disable=SC2086
  "$PY" -m ssl_examples bench --speed "${common[@]}" $s
done
