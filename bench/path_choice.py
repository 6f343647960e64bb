#!/usr/bin/env python
# usage: python bench/path_choice.py OUT.json   (the measurements behind snnjax.snn.choose_method)
"""Round-robin medians: simulation paths at several (T, B), same compile option unless named."""
import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.compile import FastJit
from snnjax.experiments.speed import bench_network, best_time
from snnjax.snn import auto_chunk, simulate_fn

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("out", help="JSON file for the measured rows")
args = ap.parse_args()

snn = bench_network(6)
rng = np.random.default_rng(1)
shapes = [(100, 1), (100, 16), (100, 64), (500, 16), (500, 64)]
res = {}
for T, B in shapes:
    obs = jnp.asarray(rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8))
    cands = {"reference": ("reference", auto_chunk(B, T), True), "chunked": ("chunked", auto_chunk(B, T), True),
             "chunked-nofast": ("chunked", auto_chunk(B, T), False)}
    for c in (2, 4, 16, 32):
        if c != auto_chunk(B, T) and B >= 16:
            cands[f"chunk{c}"] = ("chunked", c, True)
    fns = {}
    for name, (m, ch, fast) in cands.items():
        one = simulate_fn(T, (T,), "constant", m, ch)
        fns[name] = FastJit(lambda net, o, one=one: jax.vmap(lambda x: one(net, x).robust)(o), fast=fast)
    one = simulate_fn(T, (T,), "constant", "chunked", auto_chunk(B, T))
    fns["chunked-full"] = FastJit(lambda net, o: jax.vmap(lambda x: one(net, x))(o), fast=True)
    times = {k: [] for k in fns}
    for r in range(3):
        for k, f in fns.items():
            times[k].append(best_time(f, snn, obs, repeat=1, min_time=0.0))
    res[f"{T},{B}"] = {k: B / float(np.median(v)) for k, v in times.items()}
    print(T, B, {k: round(v, 2) for k, v in res[f"{T},{B}"].items()}, flush=True)
json.dump(res, open(args.out, "w"), indent=1)
