#!/usr/bin/env python
# usage: python bench/gap.py OUT.json [T]   (prints one row per batch; T defaults to 500)
"""Where a simulation step's time goes: the per-step scan (the default path from B = 64 on)
taken apart into programs that each keep one part of the work, timed side by side in one run
(medians of round-robin timings) beside the fp32 matmul peak.

  full            the per-step scan (simulate_one, robust readout)
  default         the default path at this batch (snn.choose_method), for comparison
  no hidden state layers 2-5 fire when their current crosses V_thr, no potential kept
                  (layer 1 keeps its IF state, so its spike maps still change every step)
  IF only         every layer's IF update on a fixed current of its shape: no conv or matmul
  currents only   layers 2-5's currents (conv / matmul + bias) on fixed 10%-dense spike maps of
                  B rows, each layer alone (bench/layer_ceiling.py's measurement), summed

The IF part is elementwise: per neuron and step it reads V and z and writes V and the spike
(16 bytes in fp32); its rate in GB/s is set beside a plain elementwise kernel of the same size
(y = a * x + b over the state's floats, 12 bytes per float) measured in the same run.
"""
import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.compile import FastJit
from snnjax.experiments.speed import bench_network, best_time, flops_per_decision, matmul_peak
from snnjax.snn import (
    choose_method,
    fanout,
    if_update,
    layer_current,
    prepare_input,
    simulate_fn,
    simulate_one,
)
from snnjax.snn.readout import robust_rate

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("out", help="JSON file for the measured rows")
ap.add_argument("T", type=int, nargs="?", default=500, help="time steps per frame (default 500)")
args = ap.parse_args()
T = args.T
snn = bench_network()
shapes = snn.layer_shapes()
neurons = sum(int(np.prod(s)) for s in shapes)
macs = [float(f.sum()) for f in fanout(snn)]
v_thr = jnp.asarray(snn.v_thr, jnp.float32)


def no_hidden_state(net, obs):
    a0 = prepare_input(net, obs)
    z1 = layer_current(net, 0, a0)

    def step(c, _):
        v1, acc = c
        s, v1 = if_update(v1, z1, v_thr)
        for l in range(1, net.num_layers):
            z = layer_current(net, l, s)
            s = (z >= v_thr).astype(z.dtype)
        return (v1, acc + z), None

    (_, acc), _ = jax.lax.scan(step, (jnp.zeros_like(z1), jnp.zeros(shapes[-1])), None, length=T)
    return acc / T


def if_only(net, obs, currents):
    def step(c, _):
        vs, n = c
        out = []
        for v, z in zip(vs, currents):
            s, v = if_update(v, z, v_thr)
            out.append(v)
        return (out, n + s), None

    (vs, n), _ = jax.lax.scan(step, ([jnp.zeros(s) for s in shapes], jnp.zeros(shapes[-1])), None, length=T)
    # Every layer's final potential feeds the result, so no layer's update is dead code.
    return robust_rate(n, vs[-1], jnp.float32(T), v_thr) + sum(v.mean() for v in vs[:-1])


rng = np.random.default_rng(0)
peak = matmul_peak()
print(f"fp32 matmul peak {peak:.1f} GFLOP/s, T = {T}, {neurons} neurons per example", flush=True)
out = {"T": T, "peak_gflops": peak, "neurons": neurons, "rows": []}
for B in (16, 64):
    obs = jnp.asarray(rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8))
    currents = [jnp.asarray(rng.normal(0.1, 0.3, (B, *s)).astype(np.float32)) for s in shapes]
    progs = {
        "full": (FastJit(lambda n, o: jax.vmap(lambda x: simulate_one(n, x, T).robust)(o)), (snn, obs)),
        "default": (FastJit(lambda n, o, B=B: jax.vmap(lambda x: simulate_fn(T, (T,), "constant", *choose_method(B, T))(n, x).robust)(o)), (snn, obs)),
        "no hidden state": (FastJit(lambda n, o: jax.vmap(lambda x: no_hidden_state(n, x))(o)), (snn, obs)),
        "IF only": (FastJit(lambda n, o, z: jax.vmap(lambda x, zz: if_only(n, x, zz))(o, z)), (snn, obs, currents)),
    }
    spikes = [jnp.asarray((rng.random((B, *shapes[l - 1])) < 0.1).astype(np.float32)) for l in range(1, snn.num_layers)]
    layer_fns = [FastJit(lambda s, l=l: jax.vmap(lambda r: layer_current(snn, l, r))(s)) for l in range(1, snn.num_layers)]
    state = jnp.asarray(rng.random(B * neurons).astype(np.float32))
    axpb = FastJit(lambda x: 1.0001 * x + 0.5)
    secs = {k: [] for k in (*progs, "currents only", "a*x+b")}
    for _ in range(3):
        for name, (f, args) in progs.items():
            secs[name].append(best_time(f, *args, repeat=1, min_time=0.0) / T)
        secs["currents only"].append(sum(best_time(f, s, repeat=1, min_time=0.2) for f, s in zip(layer_fns, spikes)))
        secs["a*x+b"].append(best_time(axpb, state, repeat=1, min_time=0.2))
    ms = {k: 1e3 * float(np.median(v)) for k, v in secs.items()}
    step_flop = B * 2 * sum(macs[1:])
    row = {"B": B, "default_method": "{} (chunk {})".format(*choose_method(B, T)), "ms_per_step": ms,
           "frac_peak": {k: step_flop / (ms[k] / 1e3) / 1e9 / peak for k in ("full", "default", "no hidden state", "currents only")},
           "full_frac_peak_whole_run": B * flops_per_decision(snn, T) / (ms["full"] * T / 1e3) / 1e9 / peak,
           "if_gb_per_s": 16 * B * neurons / (ms["IF only"] / 1e3) / 1e9,
           "axpb_gb_per_s": 12 * B * neurons / (ms["a*x+b"] / 1e3) / 1e9}
    print(row, flush=True)
    out["rows"].append(row)
with open(args.out, "w") as f:
    json.dump(out, f, indent=1)
