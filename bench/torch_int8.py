#!/usr/bin/env python
"""The simulator beside a naive PyTorch loop on oneDNN's int8 kernels, in one process.

usage: python bench/torch_int8.py [--time-steps 100] [--agents 16,64] [--out BENCHMARKS.md]

Needs PyTorch (`pip install "snnjax[bench]"`, CPU wheel): an optional benchmark extra, not a
dependency of the package. The PyTorch loop is what a straightforward port looks like: every
time step, every layer's IF update on float32 potentials, then the next layer's current as int8
spikes x int8 kernels -> int32 through `torch._int_mm` (oneDNN's s8 x s8 -> s32 GEMM; convolutions
as im2col of the int8 spike maps, channels last, by strided views), times the channel scale, plus
the bias: the same exact integer sums as
snnjax's int8 path, so the two agree on every action (checked below). Both run the same int8
network (`snnjax.experiments.speed.bench_network`); timings are medians of round-robin rounds; the table goes
into the `torch` section of the Markdown file.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def torch_layers(net):
    """snnjax int8 network -> per layer (int8 kernel [K, C_out] with rows in (C_in, kh, kw) order,
    the order of a channels-last map's im2col view; dense rows in snnjax's H, W, C order), scale
    [C_out], bias [C_out], kind, stride, kernel size)."""
    import torch

    layers = []
    for l in range(net.num_layers):
        k = np.asarray(net.int8[l].kernel)
        if net.kinds[l] == "conv":  # HWIO -> rows (C_in, kh, kw)
            kmat, size = np.transpose(k, (2, 0, 1, 3)).reshape(-1, k.shape[-1]), k.shape[0]
        else:
            kmat, size = k, 0
        layers.append((torch.from_numpy(np.ascontiguousarray(kmat)), torch.from_numpy(np.asarray(net.int8[l].scale)),
                       torch.from_numpy(np.asarray(net.biases[l])), net.kinds[l], net.strides[l], size))
    return layers


def torch_naive(layers, obs: np.ndarray, T: int, input_scale: float, v_thr: float = 1.0):
    """Robust readout [B, A] (eq. 17) of the naive per-step loop; obs uint8 [B, C, H, W]."""
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        B = obs.shape[0]
        k, s, b, _, stride, size = layers[0]
        w1 = (k.float() * s).T.reshape(k.shape[1], obs.shape[1], size, size)
        z1 = F.conv2d(torch.from_numpy(obs).float() * input_scale, w1, b, stride=stride)  # constant input current
        z1 = z1.permute(0, 2, 3, 1).contiguous()  # channels last from here on, as snnjax
        v = [None] * len(layers)
        n_out = 0.0
        for _ in range(T):
            z = z1
            for l in range(len(layers)):
                v[l] = z.clone() if v[l] is None else v[l].add_(z)
                spikes = v[l] >= v_thr
                v[l].sub_(spikes.to(v[l].dtype), alpha=v_thr)
                if l == len(layers) - 1:
                    n_out = n_out + spikes.float()
                    break
                k, s, b, kind, stride, size = layers[l + 1]
                s8 = spikes.to(torch.int8)
                if kind == "conv":  # [B, H, W, C] -> views [B, o, o, C, kh, kw] -> rows
                    cols = s8.unfold(1, size, stride).unfold(2, size, stride)
                    o = cols.shape[1]
                    cols = cols.reshape(B * o * o, -1)
                    z = (torch._int_mm(cols, k).float() * s + b).reshape(B, o, o, -1)
                else:
                    a = s8.reshape(B, -1)
                    pad = max(0, 17 - B)  # _int_mm wants more than 16 rows
                    if pad:
                        a = torch.cat([a, torch.zeros(pad, a.shape[1], dtype=torch.int8)])
                    z = torch._int_mm(a.contiguous(), k)[:B].float() * s + b
        return ((n_out + v[-1] / v_thr) / T).numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-steps", "-T", type=int, default=100)
    ap.add_argument("--agents", default="16,64", help="batch sizes")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    import jax
    import jax.numpy as jnp
    import torch

    from snnjax.core.compile import FastJit
    from snnjax.experiments.speed import bench_network, best_time, flops_per_decision, write_section
    from snnjax.snn import choose_method, simulate_fn

    T = args.time_steps
    snn = bench_network()
    layers = torch_layers(snn)
    rng = np.random.default_rng(1)
    rows = []
    for B in (int(x) for x in args.agents.split(",")):
        obs = rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8)
        one = simulate_fn(T, (T,), "constant", *choose_method(B, T))
        f = FastJit(lambda net, o: jax.vmap(lambda x: one(net, x).robust)(o))
        jo = jnp.asarray(obs)
        ours = np.asarray(f(snn, jo))
        theirs = torch_naive(layers, obs, T, snn.input_scale)
        agree = float((ours.argmax(-1) == theirs.argmax(-1)).mean())
        t_jax, t_torch = [], []
        for _ in range(args.rounds):
            t_jax.append(best_time(f, snn, jo, repeat=1, min_time=0.2))
            t0 = time.perf_counter()
            torch_naive(layers, obs, T, snn.input_scale)
            t_torch.append(time.perf_counter() - t0)
        dj, dt = B / float(np.median(t_jax)), B / float(np.median(t_torch))
        rows.append({"B": B, "snnjax": dj, "torch": dt, "agree": agree, "max_diff": float(np.abs(ours - theirs).max())})
        print(f"T={T} B={B}: snnjax default {dj:.2f} dec/s | PyTorch naive int8 loop {dt:.2f} dec/s | "
              f"x{dj / dt:.1f} | actions agree {agree:.3f}, max |readout diff| {rows[-1]['max_diff']:.2g}", flush=True)
    gop = flops_per_decision(snn, T) / 1e9
    md = [f"## snnjax beside a naive PyTorch int8 loop (`python bench/torch_int8.py`), T = {T}", "",
          f"torch {torch.__version__} ({torch.get_num_threads()} threads, `torch._int_mm` = oneDNN s8 x s8 -> s32), "
          f"jax {jax.__version__}; one process, medians of {args.rounds} round-robin rounds. {args.note}", "",
          "| agents | snnjax default (dec/s) | PyTorch naive int8 loop (dec/s) | snnjax / PyTorch | same action | "
          "max readout difference |", "|---|---|---|---|---|---|"]
    md += [f"| {r['B']} | {r['snnjax']:.2f} ({r['snnjax'] * gop:.0f} GOP/s) | {r['torch']:.2f} ({r['torch'] * gop:.0f} GOP/s) "
           f"| {r['snnjax'] / r['torch']:.1f}x | {100 * r['agree']:.1f}% | {r['max_diff']:.2g} |" for r in rows]
    from pathlib import Path

    write_section(Path(args.out), "torch", "\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
