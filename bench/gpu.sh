#!/usr/bin/env bash
# One prepared accelerator run (about 6 minutes on one GPU): the simulator bench on int8 spike
# propagation (the default: int8 tensor cores; beside it the float32 path in the same table), then
# in bf16, for T = 100 and 500 and 1-1024 agents. Uses the machine's preinstalled JAX, Flax, Optax and
# orbax (no pip install: the accelerator machine has no registry access) and needs no envpool
# (`--no-eval`; tested in tests/test_bench.py). Everything printed is also written under
# ${OUT:-bench/gpu_out}/ so it can be copied into BENCHMARKS.md.
# Usage (on the accelerator machine, from the repository root): bash bench/gpu.sh
set -uo pipefail
OUT=${OUT:-bench/gpu_out}
PY=${PYTHON:-python3}
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
$PY -c "import jax; print('jax', jax.__version__, 'devices:', jax.devices())" | tee "$OUT/devices.txt"
timeout 200 $PY -m snnjax.cli bench -T 100,500 --agents 1,16,64,256,1024 --no-eval --section gpu-int8 \
  --out "$OUT/BENCHMARKS.gpu.md" 2>&1 | tee "$OUT/bench_int8.txt" || echo "int8 bench stopped"
timeout 150 $PY -m snnjax.cli bench -T 100,500 --agents 1,16,64,256,1024 --no-eval --no-update --dtype bfloat16 \
  --section gpu-bf16 --out "$OUT/BENCHMARKS.gpu.md" 2>&1 | tee "$OUT/bench_bf16.txt" || echo "bf16 bench stopped"
