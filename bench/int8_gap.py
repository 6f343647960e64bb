#!/usr/bin/env python
"""Where the int8 simulator's time goes: why it runs at a fraction of the int8 matmul peak.

usage: python bench/int8_gap.py [B] [T]      (default B = 64, T = 100; prints a table)

Side by side in one process, round-robin medians, per time step of the per-step scan on B
observations of the int8 bench network (`snnjax.experiments.speed.bench_network`):
  step          the default's loop (IF of every layer, int8 currents, readout state)
  layers only   the same four int8 library calls per step on fixed spike maps (no IF work)
  IF only       the IF updates of every layer on fixed currents (no matmuls)
and every spiking layer's int8 call alone at B rows against the 2048^3 int8 GEMM peak.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.experiments.speed import bench_network, matmul_peak
from snnjax.snn import if_step, input_current, spike_current


def median_time(f, *args, rounds: int = 5) -> float:
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("B", type=int, nargs="?", default=64, help="observations per step (default 64)")
    ap.add_argument("T", type=int, nargs="?", default=100, help="time steps per frame (default 100)")
    args = ap.parse_args()
    B, T = args.B, args.T
    net = bench_network()
    shapes = net.layer_shapes()
    L = net.num_layers
    obs = jnp.asarray(np.random.default_rng(1).integers(0, 256, (B, 4, 84, 84), dtype=np.uint8))
    spikes = [jnp.asarray(np.random.default_rng(l).random((B, *s)) < 0.15) for l, s in enumerate(shapes)]
    cur = [jax.vmap(lambda s, l=l: spike_current(net, l + 1, s))(spikes[l]) for l in range(L - 1)]

    def step_loop(net, o):
        z1 = jax.vmap(lambda x: input_current(net, x))(o)

        def step(c, _):
            us, started = c
            z, out = z1, []
            for l in range(L):
                s, u = if_step(us[l], z, 1.0, started)
                out.append(u)
                if l + 1 < L:
                    z = jax.vmap(lambda x, l=l: spike_current(net, l + 1, x))(s)
            return (out, jnp.asarray(True)), None

        (us, _), _ = jax.lax.scan(step, ([jnp.zeros((B, *s)) for s in shapes], jnp.asarray(False)), None, length=T)
        return us[-1]

    def layers_only(net, sp):
        def step(acc, _):
            tot = acc
            for l in range(L - 1):  # the carry feeds the input, so no call is hoisted out of the loop
                x = jnp.logical_xor(sp[l], acc > 1e30)
                tot = tot + jax.vmap(lambda s, l=l: spike_current(net, l + 1, s))(x).sum()
            return tot, None

        return jax.lax.scan(step, jnp.float32(0), None, length=T)[0]

    def if_only(currents):
        zs = [jax.vmap(lambda x: input_current(net, x))(obs)] + list(currents)

        def step(c, _):
            us, started = c
            out = [if_step(u, z, 1.0, started)[1] for u, z in zip(us, zs)]
            return (out, jnp.asarray(True)), None

        (us, _), _ = jax.lax.scan(step, ([jnp.zeros((B, *s)) for s in shapes], jnp.asarray(False)), None, length=T)
        return sum(u.sum() for u in us)

    progs = {"step": (jax.jit(step_loop), (net, obs)), "layers only": (jax.jit(layers_only), (net, spikes)),
             "IF only": (jax.jit(if_only), (cur,))}
    res = {k: [] for k in progs}
    for _ in range(3):
        for k, (f, args) in progs.items():
            res[k].append(median_time(f, *args, rounds=2) / T * 1e3)
    peak = matmul_peak(dtype="int8")
    print(f"B = {B}, T = {T}; int8 GEMM peak 2048^3: {peak:.0f} GOP/s")
    print("| part | ms per step | share of the step |\n|---|---|---|")
    full = float(np.median(res["step"]))
    for k, v in res.items():
        print(f"| {k} | {np.median(v):.3f} | {np.median(v) / full:.2f} |")
    print("\n| layer (int8, alone) | GOP/s | fraction of the GEMM peak |\n|---|---|---|")
    macs = []
    for l in range(1, L):
        f = jax.jit(jax.vmap(lambda s, l=l: spike_current(net, l, s)))
        t = median_time(f, spikes[l - 1], rounds=10)
        mac = int(np.prod(net.int8[l].kernel.shape)) * (int(np.prod(shapes[l][:-1])) if net.kinds[l] == "conv" else 1)
        macs.append(mac)
        print(f"| {net.names[l]} | {2 * B * mac / t / 1e9:.0f} | {2 * B * mac / t / 1e9 / peak:.2f} |")
    lo = float(np.median(res["layers only"]))
    print(f"\nlayers inside the loop: {2 * B * sum(macs) / (lo / 1e3) / 1e9:.0f} GOP/s; whole step: "
          f"{2 * B * sum(macs) / (full / 1e3) / 1e9:.0f} GOP/s of spiking-layer work")


if __name__ == "__main__":
    main()
