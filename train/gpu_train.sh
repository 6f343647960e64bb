#!/usr/bin/env bash
# Train a fuller Nature-DQN on one accelerator in under 10 minutes, then keep what it produced.
# Usage (repository root, on the GPU machine): GAME=Breakout-v5 bash train/gpu_train.sh
# The run stops after ~8 minutes of training (timeout), is resumed with total_steps set to the
# step it reached (which only writes the final Q-network and evaluates it), and is shipped into
# models/ with its provenance when SHIP=1.
set -euo pipefail
GAME=${GAME:-Breakout-v5}
RUN=${RUN:-runs/gpu-$GAME}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -e . "jax[cuda12]"
fi
. .venv/bin/activate
python -c "import jax; print('devices:', jax.devices())"
timeout ${TRAIN_SECONDS:-480} snnjax train --config configs/atari_gpu.toml --set env_id="$GAME" \
  --run-dir "$RUN" --no-progress || true
STEP=$(python -c "from snnjax.nets.checkpoint import latest_step; print(latest_step('$RUN/checkpoints') or 0)")
if [ ! -f "$RUN/qnetwork.npz" ] && [ "$STEP" -gt 0 ]; then
  snnjax train --config configs/atari_gpu.toml --set env_id="$GAME" --set total_steps="$STEP" \
    --run-dir "$RUN" --resume --no-progress
fi
if [ "${SHIP:-0}" = 1 ]; then snnjax ship "$RUN"; fi
