#!/usr/bin/env python
"""How spikes x int8 kernels are best summed on this CPU: int8 x int8 -> int32, or the same
integers in float32 (exact), against the float32 weights.

usage: python bench/arithmetic.py [--time-steps 500] [--episodes 25] [--out BENCHMARKS.md]

The shipped networks are int8 kernels x per-channel scales, so a layer's input current is an
integer sum of kernel entries over the inputs that spiked, times the scale. int8 x int8 -> int32
products are fast only on CPUs with int8 dot-product units (AVX-512 VNNI, AVX-VNNI, AMX); on an
AVX2-only CPU XLA runs them slower than float32. The same integers summed in float32 are exact
(every partial sum an integer below 2^24), so `snn.int8_as_float32` gives the int8 program's
spikes bit for bit. Timed side by side, interleaved rounds (best of 3): the paper protocol's
agent step (the shipped Breakout network at p = 99.9 and 99.99 sharing their kernels, E envs
each, T steps), with the int8 kernels, the same kernels in float32, and the float32 weights
(`snn.float32_only`: rounded sums, the comparison path). Writes BENCHMARKS.md's
`bench:arithmetic` section, with the CPU's name and int8 dot-product flags and the form
`snn.for_this_machine` picks here.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from snnjax.conversion.normalize import convert, from_qnetwork
from snnjax.core.compile import INT8_DOT_FLAGS, FastJit, cpu_info, int8_dots_fast
from snnjax.experiments import report
from snnjax.experiments.evaluation import stack_networks
from snnjax.experiments.speed import interleaved_best
from snnjax.nets.checkpoint import load_qnetwork
from snnjax.rl import agents
from snnjax.rl.play import collect_observations
from snnjax.snn import float32_only, int8_as_float32

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> tuple[str, list[str]]:
    """(the CPU's model name, its int8 dot-product flags)."""
    name, flags = cpu_info()
    return name or platform.processor() or "unknown CPU", [f for f in INT8_DOT_FLAGS if f in flags.split()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-steps", "-T", type=int, default=500)
    ap.add_argument("--episodes", "-E", type=int, default=25, help="observations per network (envs per agent)")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    T, E = args.time_steps, args.episodes
    ann = from_qnetwork(*load_qnetwork(ROOT / "models" / "Breakout-v5.npz"))
    frames = collect_observations(ann, "Breakout-v5", 1024, num_envs=8, max_episode_steps=400)
    nets = [convert(ann, frames, p) for p in (99.9, 99.99)]
    obs = jnp.asarray(frames[-2 * E:]).reshape(2, E, *frames.shape[1:])
    pop = stack_networks(nets)  # int8 kernels again whatever this machine prefers (their values are integers)
    pop = pop.replace(int8=tuple(q.replace(kernel=q.kernel.astype(jnp.int8)) for q in pop.int8))
    agent = agents.snn_agent(ann.num_actions, T, (T,))
    cases = {"int8 x int8 -> int32": pop, "int8 kernels in float32 (exact)": int8_as_float32(pop),
             "float32 weights (rounded sums)": float32_only(pop)}
    fns = {k: FastJit(lambda p, o: agent.greedy(p, o)[1]["actions"]) for k in cases}  # the fast option off int8
    acts = {k: np.asarray(fns[k](p, obs)) for k, p in cases.items()}  # compile
    best = interleaved_best({k: (fns[k], (p, obs)) for k, p in cases.items()})
    first = next(iter(best))
    name, flags = cpu()
    picked = "int8 x int8 -> int32" if int8_dots_fast() else "int8 kernels in float32"
    lines = [f"## Summing spikes x int8 kernels on this CPU (`python bench/arithmetic.py -T {T} -E {E}`)", "",
             f"CPU: {name}; int8 dot-product flags: {', '.join(flags) or 'none'}; `snn.for_this_machine` picks: "
             f"{picked}. The paper protocol's agent step (2 networks sharing their kernels x {E} observations, "
             f"T = {T}); best of 3 interleaved rounds in one run; actions of every readout against the int8 "
             "program's.", "",
             "| arithmetic | s per step | SNN decisions/s | / int8 | actions differing from int8 |", "|---|---|---|---|---|"]
    for k, s in best.items():
        diff = int((acts[k] != acts[first]).sum())
        lines.append(f"| {k} | {s:.3f} | {2 * E / s:.1f} | {s / best[first]:.2f}x | {diff} of {acts[k].size} |")
    text = "\n".join(lines) + "\n"
    print(text)
    report.write_section(Path(args.out), text, *report.bench_markers("arithmetic"), empty="# Benchmarks\n")


if __name__ == "__main__":
    main()
