"""DQN and SNN agents side by side on the same frames (Tan et al. 2021, eq. 18).

One envpool holds (P + 1) x E envs: E episodes for each of P SNN agents (a population of
converted networks that differ only in parameters: percentile, threshold, ...) and E for the
DQN playing as an agent of its own. Env e of every agent gets the same evaluation seed and the
same per-step exploration draws, so an SNN agent that acts exactly like the DQN plays exactly
the DQN's games. The two play side by side as one agent (`agents.side_by_side`) in the one
play loop (`snnjax.play`): each step is ONE jitted call, the SNN population simulated on its
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

from snnjax import agents, envs, readout as ro, validate
from snnjax.config import EvalConfig
from snnjax.play import collect, play
from snnjax.snn import SpikingNetwork, check_args, float32_only
from snnjax.validate import ValidationError


class EvaluationError(ValidationError):
    """Bad evaluation request."""


def stack_networks(nets: Sequence[SpikingNetwork]) -> SpikingNetwork:
    """Stack P networks of one architecture into one pytree with a leading agent axis.

    Networks carry their int8 factorization only if every one of them does (a population is one
    program): otherwise all are simulated in float32."""
    if not all(n.int8 for n in nets):
        nets = [float32_only(n) for n in nets]
    first = nets[0]
    for n in nets[1:]:
        if jax.tree_util.tree_structure(n) != jax.tree_util.tree_structure(first):
            raise EvaluationError("population members must share one architecture and static settings")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *nets)


def dqn_agent(ann: SpikingNetwork, eps: float = 0.05) -> agents.Agent:
    """The DQN as an agent: the converter's ANN (the shipped Q-network), Q-values by `q_values`."""
    return agents.q_agent(agents.ann_q, ann.num_actions, eps)


def check_game(ann: SpikingNetwork, env_id: str) -> None:
    """EvaluationError unless `ann` fits `env_id` (action count and observation shape)."""
    envs.check_env_id(env_id)
    obs_shape, n_actions = envs.env_info(env_id)
    if n_actions != ann.num_actions:
        raise EvaluationError(f"the network has {ann.num_actions} actions but {env_id} "
                              f"has {n_actions}; use a checkpoint trained on this game")
    if tuple(obs_shape) != tuple(ann.obs_shape):
        raise EvaluationError(f"the network expects observations {ann.obs_shape}, "
                              f"{env_id} gives {obs_shape}")


def evaluate(ann: SpikingNetwork, population: Sequence[SpikingNetwork], cfg: EvalConfig, env_id: str,
             time_steps: int, cr_times: Sequence[int] = (), progress: bool = True) -> dict:
    """Play every SNN agent of `population` at T = `time_steps` and the DQN `ann` on `env_id`
    for `cfg.episodes` episodes each, under `cfg`'s protocol (eps, cap, seed, readout, V(0)).

    Returns a dict: per agent the episode scores, lengths and conversion rates per readout
    (at T and at every any-time step of `cr_times` < T), the DQN's scores, and timings.
    """
    check_game(ann, env_id)
    time_steps = validate.time_steps(time_steps)[0]
    times = tuple(sorted(set(validate.time_steps(cr_times)) | {time_steps})) if cr_times else (time_steps,)
    dummy = np.zeros((1, *ann.obs_shape), np.uint8)
    times = check_args(population[0], dummy, time_steps, times, cfg.input_encoding, cfg.initial_potential)
    P, E = len(population), cfg.episodes
    snn = agents.snn_agent(ann.num_actions, time_steps, times, cfg.readout, cfg.input_encoding,
                           cfg.initial_potential, P * E, cfg.eps)
    agent = agents.side_by_side(snn, dqn_agent(ann, cfg.eps))
    res = play(agent, (stack_networks(population), ann), env_id, E, num_agents=P + 1, seed=cfg.seed,
               max_episode_steps=cfg.max_episode_steps, count=("match",), progress=progress,
               desc=f"eval {env_id} T={time_steps}")
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
        "timing": res.timing,
    }


def score_dqn(params, meta: dict, episodes: int, seed: int = 0, eps: float = 0.05,
              max_episode_steps: int | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The DQN's own score: (raw returns [episodes], lengths [episodes]) under the evaluation
    protocol. The same agent and play loop as the DQN row of `evaluate`, so one model under one
    seed has one score wherever it is computed (trainer, `snnjax ship`, `snnjax evaluate`)."""
    from snnjax.convert import from_qnetwork

    ann = from_qnetwork(params, meta)
    res = play(dqn_agent(ann, eps), ann, meta["env_id"], episodes, seed=seed,
               max_episode_steps=max_episode_steps, progress=progress, desc=f"score {meta['env_id']}")
    return res.returns[0], res.lengths[0]


def random_scores(env_id: str, episodes: int, seed: int = 0,
                  max_episode_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random agent's (returns [episodes], lengths [episodes]) in the same play loop."""
    _, n = envs.env_info(env_id)
    res = play(agents.random_agent(n), None, env_id, episodes, seed=seed, max_episode_steps=max_episode_steps)
    return res.returns[0], res.lengths[0]


def collect_observations(ann: SpikingNetwork, env_id: str, num_frames: int, seed: int = 0,
                         eps: float = 0.05, num_envs: int = 16, max_episode_steps: int = 4500,
                         progress: bool = False) -> np.ndarray:
    """Observations seen by the DQN playing under the evaluation protocol (eps-greedy) on the
    calibration seed range: the paper's up-to-15,000 normalization frames. [num_frames, ...]."""
    if num_frames < 1:
        raise EvaluationError(f"calibration frames must be >= 1, got {num_frames}")
    out = collect(dqn_agent(ann, eps), ann, env_id, num_frames, num_envs, seed,
                  max_episode_steps=max_episode_steps, seed_base=envs.CALIBRATION_SEED_BASE, progress=progress)
    return out.astype(np.uint8 if ann.input_layout == "chw" else np.float32)
