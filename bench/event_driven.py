#!/usr/bin/env python
# usage: python bench/event_driven.py OUT.json   (prints one row per layer x rows x firing rate)
"""Event-driven propagation for the dense layers, measured: dense matmul vs gathering the weight
rows of the inputs that spiked (fixed capacity K per row so shapes stay static under jit)."""
import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.compile import FastJit
from snnjax.experiments.speed import best_time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("out", help="JSON file for the measured rows")
args = ap.parse_args()

rng = np.random.default_rng(0)
out = []
for n_in, n_out, name in ((3136, 512, "fc1 (3136->512)"), (512, 6, "q (512->6)")):
    W = jnp.asarray(rng.normal(size=(n_in, n_out)).astype(np.float32))
    for rows in (16, 64, 512):
        for rate in (0.03, 0.06, 0.12):
            S = jnp.asarray((rng.random((rows, n_in)) < rate).astype(np.float32))
            K = int(min(n_in, max(8, np.ceil(2 * rate * n_in))))  # capacity: twice the mean count
            dense = FastJit(lambda s, w: s @ w)
            def ev(s, w):
                idx = jax.vmap(lambda r: jnp.nonzero(r, size=K, fill_value=n_in)[0])(s)  # [rows, K]
                wp = jnp.concatenate([w, jnp.zeros((1, w.shape[1]), w.dtype)])  # row n_in: zeros (padding)
                return wp[idx].sum(1)
            event = FastJit(ev)
            assert np.allclose(np.asarray(dense(S, W)), np.asarray(event(S, W)), atol=1e-3)

            t_d, t_e = [], []
            for _ in range(3):
                t_d.append(best_time(dense, S, W, repeat=1, min_time=0.2)); t_e.append(best_time(event, S, W, repeat=1, min_time=0.2))
            r = {"layer": name, "rows": rows, "rate": rate, "K": K, "dense_us": 1e6 * np.median(t_d), "event_us": 1e6 * np.median(t_e)}
            r["event_over_dense"] = r["event_us"] / r["dense_us"]
            print(r, flush=True); out.append(r)
json.dump(out, open(args.out, "w"), indent=1)
