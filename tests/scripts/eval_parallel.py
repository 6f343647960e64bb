"""Evaluate the shipped Breakout DQN and its SNN briefly; write the result JSON (process 0).

usage: eval_parallel.py OUT [COORDINATOR NUM_PROCESSES PROCESS_ID]
Run by tests/core/test_parallel.py on 1 device, 4 forced host devices and 2 processes."""

import json
import sys

from snnjax.core import parallel

if len(sys.argv) > 2:
    parallel.initialize(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))

import jax  # noqa: E402

from snnjax.conversion.normalize import convert, from_qnetwork  # noqa: E402
from snnjax.experiments.evaluation import evaluate  # noqa: E402
from snnjax.nets.checkpoint import load_qnetwork  # noqa: E402
from snnjax.rl.config import EvalConfig  # noqa: E402
from snnjax.rl.play import collect_observations  # noqa: E402

params, meta = load_qnetwork("models/Breakout-v5.npz")
ann = from_qnetwork(params, meta)
calib = collect_observations(ann, "Breakout-v5", 128, num_envs=4, max_episode_steps=100)
pop = [convert(ann, calib, 99.9), convert(ann, calib, 99.0)]
res = evaluate(ann, pop, EvalConfig(episodes=5, max_episode_steps=120, eps=0.2), "Breakout-v5", 8, cr_times=(4,),
               progress=False)
res["timing"] = {k: res["timing"][k] for k in ("processes", "devices")}
res["calibration_sum"] = int(calib.astype("int64").sum())
if jax.process_index() == 0:
    with open(sys.argv[1], "w") as f:
        json.dump(res, f)
