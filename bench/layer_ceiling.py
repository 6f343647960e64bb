#!/usr/bin/env python
# usage: python bench/layer_ceiling.py OUT.json
"""The ceiling the simulator can reach: each Nature-DQN layer's current (conv / matmul on spike
maps, as the simulator computes it) alone, in GFLOP/s and as a fraction of the fp32 matmul peak
measured in the same run, at the row counts the simulator uses (B x Tc = 16, 64 and 512).
For the spiking convolutions also the same sums as im2col + one matmul (the patches gathered by
strided slices, then [rows x Ho x Wo, kh kw C] x [kh kw C, C_out]), the usual alternative lowering."""
import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.compile import FastJit
from snnjax.experiments.speed import bench_network, best_time, matmul_peak
from snnjax.snn import fanout, layer_current


def im2col_conv(x, w, b, stride):
    """x [B, H, W, C], w [kh, kw, C, O] (VALID) -> [B, Ho, Wo, O] as im2col + one matmul."""
    kh, kw, c, o = w.shape
    n, h, wd, _ = x.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    cols = [x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride, :]
            for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(cols, -1).reshape(-1, kh * kw * c)  # (i, j, c) order = w's
    return (patches @ w.reshape(-1, o)).reshape(n, ho, wo, o) + b


ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("out", help="JSON file for the measured rows")
args = ap.parse_args()

snn = bench_network()
shapes = snn.layer_shapes()
macs = [float(f.sum()) for f in fanout(snn)]
peak = matmul_peak()
print(f"fp32 matmul peak {peak:.1f} GFLOP/s", flush=True)
rows_out = []
rng = np.random.default_rng(0)
for rows in (16, 64, 512):
    total_t, total_flop = 0.0, 0.0
    for l in range(1, snn.num_layers):
        x = jnp.asarray((rng.random((rows, *shapes[l - 1])) < 0.1).astype(np.float32))  # 10% spikes
        progs = {"library": FastJit(lambda s, l=l: jax.vmap(lambda one: layer_current(snn, l, one))(s))}
        if snn.kinds[l] == "conv":
            progs["im2col + matmul"] = FastJit(
                lambda s, l=l: im2col_conv(s, snn.weights[l], snn.biases[l], snn.strides[l]))
            ref, alt = (np.asarray(f(x)) for f in progs.values())
            assert np.allclose(ref, alt, atol=1e-4), "im2col sums differ from the convolution"
        secs = {k: [] for k in progs}
        for _ in range(3):
            for k, f in progs.items():
                secs[k].append(best_time(f, x, repeat=1, min_time=0.3))
        for k, s in secs.items():
            t = float(np.median(s))
            gf = 2 * macs[l] * rows / t / 1e9
            if k == "library":
                total_t += t
                total_flop += 2 * macs[l] * rows
            r = {"rows": rows, "layer": snn.names[l], "lowering": k, "gflops": gf, "frac_peak": gf / peak}
            print(r, flush=True)
            rows_out.append(r)
    r = {"rows": rows, "layer": "layers 2-5 together", "lowering": "library", "gflops": total_flop / total_t / 1e9,
         "frac_peak": total_flop / total_t / 1e9 / peak}
    print(r, flush=True)
    rows_out.append(r)
with open(args.out, "w") as f:
    json.dump({"peak_gflops": peak, "rows": rows_out}, f, indent=1)
