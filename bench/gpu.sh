#!/usr/bin/env bash
# One prepared accelerator run (<= 8 minutes on one GPU): the simulator bench in fp32 and bf16,
# and one full evaluation of a shipped model at T=500 over 50 episodes. Everything printed is
# also written under ${OUT:-bench/gpu_out}/ so it can be copied into BENCHMARKS.md.
# Usage (on the accelerator machine, from the repository root): bash bench/gpu.sh
set -euo pipefail
OUT=${OUT:-bench/gpu_out}
mkdir -p "$OUT"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -e . "jax[cuda12]"
fi
. .venv/bin/activate
python -c "import jax; print('devices:', jax.devices())" | tee "$OUT/devices.txt"
timeout 150 snnjax bench -T 100,500 --agents 1,16,64,256,1024 --no-eval --section gpu-fp32 \
  --out "$OUT/BENCHMARKS.gpu.md" | tee "$OUT/bench_fp32.txt" || echo "fp32 bench stopped"
timeout 120 snnjax bench -T 100,500 --agents 1,16,64,256,1024 --no-eval --no-update --dtype bfloat16 \
  --section gpu-bf16 --out "$OUT/BENCHMARKS.gpu.md" | tee "$OUT/bench_bf16.txt" || echo "bf16 bench stopped"
MODEL=${MODEL:-models/Breakout-v5.npz}
timeout 200 snnjax evaluate --checkpoint "$MODEL" -T 500 -p 99.9 --episodes 50 --no-progress \
  --out "$OUT/eval_T500.json" | tee "$OUT/eval_T500.txt" || echo "evaluation stopped"
