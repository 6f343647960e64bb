#!/usr/bin/env python
"""A population of SNNs on one CPU: networks one after another against one vmap over them.

usage: python bench/population.py [--time-steps 500] [--episodes 25] [--networks 2] [--out BENCHMARKS.md]

The paper's protocol plays two SNNs (p = 99.9 and 99.99) beside the DQN, E envs each, so every
play step simulates P networks x E observations. A vmap over networks with different weights
turns each convolution into a grouped one; the agent (`snnjax.rl.agents.snn_agent`) runs the
networks one after another (`lax.map`) instead. Timed side by side, interleaved rounds (best
of 3), on the shipped Breakout network converted at P percentiles and real frames of its play:
the agent's step, the same simulation vmapped over the networks, and one network with all
P x E observations (what a single batch of that size costs). The percentiles' networks share
their int8 kernels (eq. 16 moves the per-channel scales only), so the agent runs each layer as
one convolution over all P x E spike maps; the same networks stacked whole (a kernel each) run
one after another. Writes BENCHMARKS.md's `bench:population` section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp

from snnjax.conversion.normalize import convert, from_qnetwork
from snnjax.experiments import report
from snnjax.experiments.evaluation import stack_networks
from snnjax.experiments.speed import interleaved_best
from snnjax.nets.checkpoint import load_qnetwork
from snnjax.rl import agents
from snnjax.rl.play import collect_observations
from snnjax.snn import choose_method, shares_kernels, simulate_fn

ROOT = Path(__file__).resolve().parents[1]
PERCENTILES = (99.9, 99.99, 99.0, 100.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-steps", "-T", type=int, default=500)
    ap.add_argument("--episodes", "-E", type=int, default=25, help="observations per network (envs per agent)")
    ap.add_argument("--networks", "-P", type=int, default=2, choices=range(1, len(PERCENTILES) + 1))
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    T, E, P = args.time_steps, args.episodes, args.networks
    ann = from_qnetwork(*load_qnetwork(ROOT / "models" / "Breakout-v5.npz"))
    frames = collect_observations(ann, "Breakout-v5", 1024, num_envs=8, max_episode_steps=400)
    nets = [convert(ann, frames, p) for p in PERCENTILES[:P]]
    obs = jnp.asarray(frames[-P * E:]).reshape(P, E, *frames.shape[1:])
    pop, one_net = stack_networks(nets), stack_networks(nets[:1])
    whole = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *nets)  # a kernel per network
    assert shares_kernels(pop) and not shares_kernels(whole)

    agent = agents.snn_agent(ann.num_actions, T, (T,))
    sim = simulate_fn(T, (T,), "constant", *choose_method(P * E, T))
    vmapped = jax.vmap(lambda net, o: jax.vmap(lambda x: sim(net, x).robust_t)(o))  # networks together
    act = jax.jit(lambda p, o: agent.greedy(p, o)[0])
    cases = {
        f"the agent: {P} networks sharing their kernels x {E}": (act, pop, obs),
        f"the agent, a kernel per network: {P} networks one after another x {E}": (act, whole, obs),
        f"one vmap over {P} networks with a kernel each x {E}": (jax.jit(vmapped), whole, obs),
        f"one network x {P * E}": (act, one_net, obs.reshape(1, P * E, *obs.shape[2:])),
    }
    for fn, p, o in cases.values():
        jax.block_until_ready(fn(p, o))  # compile
    assert (act(pop, obs) == act(whole, obs)).all()  # the same actions either way (exact int32 sums)
    best = interleaved_best({k: (fn, (p, o)) for k, (fn, p, o) in cases.items()})
    agent_s = best[next(iter(best))]
    lines = [f"## A population of SNNs on one CPU (`python bench/population.py -T {T} -E {E} -P {P}`)", "",
             "The paper's protocol simulates P networks x E observations per play step. Best of 3 interleaved "
             "rounds in one run (the machine was shared, so read the ratios): seconds per step, decisions/s, and "
             "each case's time over the agent's.", "",
             "| case | s per step | decisions/s | / the agent |", "|---|---|---|---|"]
    for k, s in best.items():
        lines.append(f"| {k} | {s:.3f} | {P * E / s:.1f} | {s / agent_s:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    report.write_section(Path(args.out), text, *report.bench_markers("population"), empty="# Benchmarks\n")


if __name__ == "__main__":
    main()
