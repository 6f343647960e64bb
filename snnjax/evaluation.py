"""DQN and SNN agents side by side on the same frames (Tan et al. 2021, eq. 18).

One envpool holds (P + 1) x E envs: E episodes for each of P SNN agents (a population of
converted networks that differ only in parameters: percentile, threshold, ...) and E for the
DQN playing as an agent of its own. Env e of every agent gets the same evaluation seed and the
same per-step exploration draws, so an SNN agent that acts exactly like the DQN plays exactly
the DQN's games. Each step is ONE jitted call: the SNN population simulated on its envs'
observations (vmapped over agents and envs), the DQN on every observation.

Conversion rate (eq. 18): CR = (# decisions where argmax SNN == argmax DQN on the same
observation) / (# decisions), per episode, for every readout from the one simulation, and at
every any-time readout step t <= T (the agent itself acts on the readout at T).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import envs, readout as ro
from snnjax.compile import FastJit
from snnjax.validate import MAX_TIME_STEPS, ValidationError
from snnjax.snn import SpikingNetwork, auto_chunk, check_args, q_values, simulate_fn


class EvaluationError(ValidationError):
    """Bad evaluation request."""


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """Protocol of one evaluation (defaults: the paper's)."""

    env_id: str
    episodes: int = 10  # episodes per agent (one per env: no short-episode bias)
    time_steps: int = 500  # T, SNN steps per frame
    readout: str = "robust"  # readout the SNN agent acts on
    eps: float = 0.05  # epsilon-greedy, applied by the agent
    max_episode_steps: int = 4500  # agent steps (18,000 frames); the paper's code: 18,000
    seed: int = 0  # evaluation seed range index (disjoint from training)
    cr_times: tuple[int, ...] = ()  # extra any-time readout steps for conversion rates
    initial_potential: float = 0.0  # V(0) in units of V_thr
    input_encoding: str = "constant"

    def __post_init__(self):
        if self.episodes < 1:
            raise EvaluationError(f"episodes must be >= 1, got {self.episodes}")
        if self.time_steps < 1:
            raise EvaluationError(f"time steps T must be >= 1, got {self.time_steps}")
        if self.time_steps > MAX_TIME_STEPS:
            raise EvaluationError(f"time steps T must be <= {MAX_TIME_STEPS}, got {self.time_steps}")
        if not 0 <= self.eps <= 1:
            raise EvaluationError(f"eps must be in [0, 1], got {self.eps}")
        if self.max_episode_steps < 1:
            raise EvaluationError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")
        ro.check_readout(self.readout)


def stack_networks(nets: Sequence[SpikingNetwork]) -> SpikingNetwork:
    """Stack P networks of one architecture into one pytree with a leading agent axis."""
    first = nets[0]
    for n in nets[1:]:
        if jax.tree_util.tree_structure(n) != jax.tree_util.tree_structure(first):
            raise EvaluationError("population members must share one architecture and static settings")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *nets)


def make_step(settings: EvalSettings, times: tuple[int, ...], snn_is_dqn: bool = False, batch: int = 1):
    """step(pop [P-stacked], ann, obs [P+1, E, ...]) -> (snn_act [P, E], dqn_act [P+1, E],
    match [P, E, 3, K]): agreement of every readout at every time with the DQN."""

    one = simulate_fn(settings.time_steps, times, settings.input_encoding, "chunked",
                      auto_chunk(batch, settings.time_steps))

    def sim(net, o):
        return one(net, o, initial_potential=settings.initial_potential)

    def step(pop, ann, obs):
        q = jax.vmap(jax.vmap(q_values, in_axes=(None, 0)), in_axes=(None, 0))(ann, obs)
        dqn_act = ro.select_action(q)  # [P+1, E]
        if snn_is_dqn:  # test mode: the "SNN" is the DQN itself
            n_agents = obs.shape[0] - 1
            reads = jnp.broadcast_to(q[:-1, :, None, None, :], (*q[:-1].shape[:2], 3, len(times), q.shape[-1]))
        else:
            res = jax.vmap(jax.vmap(sim, in_axes=(None, 0)), in_axes=(0, 0))(pop, obs[:-1])
            reads = jnp.stack([res.normal_t, res.robust_t, res.membrane_t], axis=2)  # [P, E, 3, K, A]
            n_agents = obs.shape[0] - 1
        acts = ro.select_action(reads)  # [P, E, 3, K]
        match = acts == dqn_act[:n_agents, :, None, None]
        snn_act = acts[:, :, ro.READOUTS.index(settings.readout), -1]
        return snn_act, dqn_act, match

    return step


def evaluate(ann: SpikingNetwork, population: Sequence[SpikingNetwork], settings: EvalSettings,
             progress: bool = True, snn_is_dqn: bool = False) -> dict:
    """Play every SNN agent of `population` and the DQN `ann` for `settings.episodes` episodes.

    Returns a dict: per agent the episode scores, lengths and conversion rates per readout
    (at T and at every cr_time), the DQN's scores, and timings.
    """
    from tqdm.auto import tqdm

    envs.check_env_id(settings.env_id)
    obs_shape, n_actions = envs.env_info(settings.env_id)
    if n_actions != ann.num_actions:
        raise EvaluationError(f"the network has {ann.num_actions} actions but {settings.env_id} "
                              f"has {n_actions}; use a checkpoint trained on this game")
    if tuple(obs_shape) != tuple(ann.obs_shape):
        raise EvaluationError(f"the network expects observations {ann.obs_shape}, "
                              f"{settings.env_id} gives {obs_shape}")
    times = tuple(sorted(set(settings.cr_times) | {settings.time_steps}))
    dummy = np.zeros((1, *ann.obs_shape), np.uint8)
    times = check_args(population[0], dummy, settings.time_steps, times, settings.input_encoding,
                       settings.initial_potential)
    P, E = len(population), settings.episodes
    pop = stack_networks(population)
    step = FastJit(make_step(settings, times, snn_is_dqn, batch=P * E))
    seed_list = envs.seeds(envs.EVAL_SEED_BASE, settings.seed, E) * (P + 1)
    env = envs.make_env(settings.env_id, (P + 1) * E, seed_list, "eval",
                        **({"max_episode_steps": settings.max_episode_steps} if envs.is_atari(settings.env_id) else {}))
    rng = np.random.default_rng(settings.seed)
    match = np.zeros((P, E, 3, len(times)), np.int64)
    decisions = np.zeros((P + 1, E), np.int64)
    sim_time = 0.0
    calls = 0
    # Progress in decisions (they move every step; episodes run in parallel and would all finish
    # near the end). The total is the cap on every episode's length, an upper bound.
    bar = tqdm(total=(P + 1) * E * settings.max_episode_steps, disable=None if progress else True, unit="dec",
               desc=f"eval {settings.env_id} T={settings.time_steps}", mininterval=1.0)
    finished = 0

    def on_finished(n):
        nonlocal finished
        finished += n

    def policy(obs, active):
        nonlocal sim_time, calls
        calls += 1
        t0 = time.perf_counter()
        o = jnp.asarray(obs).reshape((P + 1, E, *obs.shape[1:]))
        snn_act, dqn_act, m = step(pop, ann, o)
        snn_act, dqn_act, m = np.asarray(snn_act), np.asarray(dqn_act), np.asarray(m)
        sim_time += time.perf_counter() - t0
        act = active.reshape(P + 1, E)
        match[...] += m * act[:P, :, None, None]
        decisions[...] += act
        bar.update(int(act.sum()))
        # Same exploration draws for env e of every agent: identical agents play identical games.
        explore = rng.random(E) < settings.eps
        rand = rng.integers(0, n_actions, E)
        greedy = np.concatenate([snn_act, dqn_act[-1:]], axis=0)
        chosen = np.where(explore[None, :], rand[None, :], greedy)
        bar.set_postfix(episodes=f"{finished}/{(P + 1) * E}", dec_s=f"{decisions.sum() / max(sim_time, 1e-9):.0f}",
                        refresh=False)
        return chosen.reshape(-1)

    t_start = time.perf_counter()
    returns, lengths = envs.play_episodes(env, policy, (P + 1) * E, 1, progress=on_finished)
    wall = time.perf_counter() - t_start
    bar.total = bar.n  # every episode has ended: the bar ends full
    bar.close()
    env.close()
    returns = returns[:, 0].reshape(P + 1, E)
    lengths = lengths[:, 0].reshape(P + 1, E)
    cr = match / np.maximum(decisions[:P, :, None, None], 1)
    total_decisions = int(decisions.sum())
    return {
        "times": list(times),
        "agents": [{
            "scores": returns[p].tolist(), "lengths": lengths[p].tolist(),
            "conversion_rate": {r: cr[p, :, i, -1].tolist() for i, r in enumerate(ro.READOUTS)},
            "conversion_rate_t": {r: cr[p, :, i, :].tolist() for i, r in enumerate(ro.READOUTS)},
            "decisions": decisions[p].tolist(),
        } for p in range(P)],
        "dqn": {"scores": returns[P].tolist(), "lengths": lengths[P].tolist()},
        "timing": {"wall_s": wall, "policy_s": sim_time, "env_s": wall - sim_time,
                   "decisions": total_decisions, "decisions_per_s": total_decisions / max(wall, 1e-9),
                   "env_steps_per_s": calls * (P + 1) * E / max(wall, 1e-9)},
    }


def collect_observations(ann: SpikingNetwork, env_id: str, num_frames: int, seed: int = 0,
                         eps: float = 0.05, num_envs: int = 16, max_episode_steps: int = 4500,
                         progress: bool = False) -> np.ndarray:
    """Observations seen by the DQN playing under the evaluation protocol (eps-greedy) on the
    calibration seed range: the paper's up-to-15,000 normalization frames. [num_frames, ...]."""
    if num_frames < 1:
        raise EvaluationError(f"calibration frames must be >= 1, got {num_frames}")
    from tqdm.auto import tqdm

    env = envs.make_eval_env(env_id, num_envs, seed, max_episode_steps, seed_base=envs.CALIBRATION_SEED_BASE)
    q_fn = jax.jit(jax.vmap(lambda o: q_values(ann, o)))
    rng = np.random.default_rng(seed + 7)
    tracker = envs.EpisodeTracker(num_envs)
    out = np.zeros((num_frames, *ann.obs_shape), np.uint8 if ann.input_layout == "chw" else np.float32)
    n = 0
    obs, _ = env.reset()
    bar = tqdm(total=num_frames, disable=None if progress else True, desc="calibration frames", unit="frame")
    while n < num_frames:
        active = np.flatnonzero(~tracker.resetting)[: num_frames - n]
        out[n:n + len(active)] = obs[active]
        n += len(active)
        bar.update(len(active))
        greedy = np.asarray(ro.select_action(q_fn(jnp.asarray(obs))))
        explore = rng.random(num_envs) < eps
        act = np.where(explore, rng.integers(0, ann.num_actions, num_envs), greedy).astype(np.int32)
        obs, r, te, tr, info = env.step(act)
        tracker.step(r, te, tr, info)
    bar.close()
    env.close()
    return out
