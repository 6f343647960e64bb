#!/usr/bin/env python
# usage: python bench/layer_ceiling.py OUT.json
"""The ceiling the simulator can reach: each Nature-DQN layer's current (conv / matmul on spike
maps, as the simulator computes it) alone, in GFLOP/s and as a fraction of the fp32 matmul peak
measured in the same run, at the row counts the simulator uses (B x Tc = 64 and 512)."""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.bench import _time, bench_network, matmul_peak
from snnjax.compile import FastJit
from snnjax.snn import fanout, layer_current

snn = bench_network()
shapes = snn.layer_shapes()
macs = [float(f.sum()) for f in fanout(snn)]
peak = matmul_peak()
rows_out = []
rng = np.random.default_rng(0)
for rows in (64, 512):
    total_t, total_flop = 0.0, 0.0
    for l in range(1, snn.num_layers):
        x = jnp.asarray((rng.random((rows, *shapes[l - 1])) < 0.1).astype(np.float32))  # 10% spikes
        f = FastJit(lambda s, l=l: jax.vmap(lambda r: layer_current(snn, l, r))(s))
        t = float(np.median([_time(f, x, repeat=1, min_time=0.3) for _ in range(3)]))
        gf = 2 * macs[l] * rows / t / 1e9
        total_t += t
        total_flop += 2 * macs[l] * rows
        r = {"rows": rows, "layer": snn.names[l], "gflops": gf, "frac_peak": gf / peak}
        print(r, flush=True)
        rows_out.append(r)
    r = {"rows": rows, "layer": "layers 2-5 together", "gflops": total_flop / total_t / 1e9,
         "frac_peak": total_flop / total_t / 1e9 / peak}
    print(r, flush=True)
    rows_out.append(r)
json.dump({"peak_gflops": peak, "rows": rows_out}, open(sys.argv[1], "w"), indent=1)
