"""DQN and SNN agents side by side on the same frames (Tan et al. 2021, eq. 18).

One envpool holds (P + 1) x E envs: E episodes for each of P SNN agents (a population of
converted networks that differ only in parameters: percentile, threshold, ...) and E for the
DQN playing as an agent of its own. Env e of every agent gets the same evaluation seed and the
same per-step exploration draws, so an SNN agent that acts exactly like the DQN plays exactly
the DQN's games. The two play side by side as one agent (`agents.side_by_side`) in the one
play loop (`snnjax.rl.play`): each step is ONE jitted call, the SNN population simulated on its
envs' observations (vmapped over agents and envs), the DQN on every observation.

Conversion rate (eq. 18): CR = (# decisions where argmax SNN == argmax DQN on the same
observation) / (# decisions), per episode, for every readout from the one simulation, and at
every any-time readout step t <= T (the agent itself acts on the readout at T).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core import validate
from snnjax.core.validate import ValidationError
from snnjax.rl import agents, envs
from snnjax.rl.config import EvalConfig
from snnjax.rl.play import play
from snnjax.core.compile import machine_kind
from snnjax.snn import SpikingNetwork, check_args, float32_only, for_this_machine
from snnjax.snn import readout as ro


class EvaluationError(ValidationError):
    """Bad evaluation request."""


def stack_networks(nets: Sequence[SpikingNetwork]) -> SpikingNetwork:
    """Stack P networks of one architecture into one pytree with a leading agent axis.

    Networks carry their int8 factorization only if every one of them does (a population is one
    program): otherwise all are simulated in float32. Int8 kernels equal in every network (one
    DQN converted at several percentiles) are stored once, without the agent axis
    (`snn.shares_kernels`): the simulator then runs each layer as one convolution over all
    networks' observations. The int8 kernels in their fastest exact form on this machine
    (`snn.for_this_machine`)."""
    if not all(n.int8 for n in nets):
        nets = [float32_only(n) for n in nets]
    first = nets[0]
    for n in nets[1:]:
        if jax.tree_util.tree_structure(n) != jax.tree_util.tree_structure(first):
            raise EvaluationError("population members must share one architecture and static settings")
    pop = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *nets)
    if first.int8 and all(np.array_equal(q.kernel, q0.kernel) for n in nets[1:] for q, q0 in zip(n.int8, first.int8)):
        pop = pop.replace(int8=tuple(q.replace(kernel=q0.kernel) for q, q0 in zip(pop.int8, first.int8)))
    return for_this_machine(pop)


def check_game(ann: SpikingNetwork, env_id: str) -> None:
    """EvaluationError unless `ann` fits `env_id` (action count and observation shape)."""
    try:
        envs.check_fits(env_id, ann.num_actions, ann.obs_shape, "the network")
    except ValidationError as exc:
        raise EvaluationError(str(exc)) from None


def evaluate(ann: SpikingNetwork, population: Sequence[SpikingNetwork], cfg: EvalConfig, env_id: str,
             time_steps: int, cr_times: Sequence[int] = (), progress: bool = True,
             expected_lengths: Sequence[float] = (), heartbeat=None, memo: bool = False,
             deadline: float | None = None, env_range: tuple[int, int] | None = None) -> dict:
    """Play every SNN agent of `population` at T = `time_steps` and the DQN `ann` on `env_id`
    for `cfg.episodes` episodes each, under `cfg`'s protocol (eps, cap, seed, readout, V(0)).

    expected_lengths: episode lengths known beforehand (the shipped model's evaluation
    episodes), the progress bar's prior (`play.expected_decisions`). heartbeat: where a play
    without a progress bar writes a progress line every 10 minutes (`play.play`). memo: simulate
    each observation an agent meets again only once (`play.Memo`: the same episodes). deadline:
    a `time.time()` the play must end by, else it stops early (`play.play`, PastDeadline).
    env_range: (lo, hi), play only envs lo .. hi - 1 of the `cfg.episodes` (`play.play`: the
    same episodes as in one play of them all); the lists returned hold those envs only.

    Returns a dict: per agent the episode scores, lengths and conversion rates per readout
    (at T and at every any-time step of `cr_times` < T), the DQN's scores, and timings (with the
    kind of machine they were measured on, `compile.machine_kind`).
    """
    check_game(ann, env_id)
    time_steps = validate.time_steps(time_steps)[0]
    times = tuple(sorted(set(validate.time_steps(cr_times)) | {time_steps})) if cr_times else (time_steps,)
    dummy = np.zeros((1, *ann.obs_shape), np.uint8)
    times = check_args(population[0], dummy, time_steps, times, cfg.input_encoding, cfg.initial_potential)
    P, E = len(population), cfg.episodes
    snn = agents.snn_agent(ann.num_actions, time_steps, times, cfg.readout, cfg.input_encoding,
                           cfg.initial_potential, eps=cfg.eps)  # the path for each step's P x E (compaction)
    agent = agents.side_by_side(snn, agents.dqn_agent(ann, cfg.eps))
    res = play(agent, (stack_networks(population), ann), env_id, E, num_agents=P + 1, seed=cfg.seed,
               max_episode_steps=cfg.max_episode_steps, count=("match",), progress=progress,
               expected_lengths=expected_lengths, heartbeat=heartbeat, memo=memo, deadline=deadline,
               env_range=env_range, desc=f"eval {env_id} T={time_steps}")
    cr = res.counts["match"] / np.maximum(res.decisions[:P, :, None, None], 1)  # [P, E, 3, K]
    return {
        "times": list(times),
        "agents": [{
            "scores": res.returns[p].tolist(), "lengths": res.lengths[p].tolist(),
            "conversion_rate": {r: cr[p, :, i, -1].tolist() for i, r in enumerate(ro.READOUTS)},
            "conversion_rate_t": {r: cr[p, :, i, :].tolist() for i, r in enumerate(ro.READOUTS)},
            "decisions": res.decisions[p].tolist(),
        } for p in range(P)],
        "dqn": {"scores": res.returns[P].tolist(), "lengths": res.lengths[P].tolist()},
        "timing": dict(res.timing, machine=machine_kind()),
    }
