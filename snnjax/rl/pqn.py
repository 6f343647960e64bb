"""PQN: parallel Q-learning, no replay buffer and no target network (Gallici et al., ICLR 2025,
"Simplifying Deep Temporal Difference Learning"), for the Nature-DQN on envpool.

One iteration: every one of the N envs takes `pqn_rollout` epsilon-greedy steps with the current
Q-network (the project's epsilon-greedy, one draw per env as the DQN trainer); Q(lambda) targets
are computed backwards over each env's rollout from the Q-values the acting pass already gave;
then `pqn_epochs` passes over the N x rollout transitions in `pqn_minibatches` shuffled
minibatches, each one gradient step on 0.5 (Q(s, a) - G)^2. Per agent step that is about 1
forward for acting and 3 x epochs for learning (~7 network passes at 2 epochs) against ~41 for
the campaign's DQN (replay ratio 8, Double DQN, target network): on a compute-bound CPU it sees
several times the frames per hour.

Unlike the paper's Atari runs the network has no LayerNorm: a converted SNN cannot normalize
per sample, so the Q-network stays the plain Nature CNN that `snnjax convert` maps to IF layers.

`train(cfg, run_dir)` writes the same files as `snnjax.rl.dqn.train` (config.json, log.csv,
episodes.csv, checkpoints/, qnetwork.npz, eval.json) and resumes the same way.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnjax.core.compile import FastJit
from snnjax.nets import checkpoint
from snnjax.nets.models import make_network
from snnjax.rl import agents, envs
from snnjax.rl.config import ConfigError, TrainConfig
from snnjax.rl.dqn import (
    LOG_FIELDS,
    CsvLog,
    epsilon,
    finish_run,
    init_params,
    log_row,
    make_optimizer,
    prepare_run_dir,
    record_episodes,
    resume_or_start,
    train_env,
    warm_start_params,
)


@flax.struct.dataclass
class PQNState:
    """What a checkpoint holds: the learner (no target network)."""

    params: Any
    opt_state: Any
    key: jax.Array
    step: jax.Array  # agent steps taken (all envs)
    updates: jax.Array  # gradient steps done


def q_lambda_targets(reward_t, term_t, valid_t, next_qmax_t, gamma: float, lam: float) -> jax.Array:
    """Q(lambda) targets of ONE env's rollout, all inputs time-major [T]:

        G_t = r_t + gamma (1 - term_t) [lam G'_{t+1} + (1 - lam) max_a Q(s_{t+1}, a)]

    (Watkins-free Peng-style Q(lambda), as PQN), where G'_{t+1} = G_{t+1} if step t+1 is a real
    decision of this rollout (`valid`), else max_a Q(s_{t+1}, a): the rollout's end, and a
    truncated episode whose next call is envpool's reset step. next_qmax_t[t] = max_a Q(s_{t+1}, a)
    from the acting pass. Invalid steps (reset steps) get a value that the loss masks out."""
    chex.assert_rank([reward_t, term_t, valid_t, next_qmax_t], 1)
    chex.assert_equal_shape([reward_t, term_t, valid_t, next_qmax_t])
    valid_next = jnp.concatenate([valid_t[1:], jnp.zeros((1,), bool)])

    def back(g_next, x):
        r, term, nq, v_next = x
        g = r + gamma * (1.0 - term) * (lam * jnp.where(v_next, g_next, nq) + (1.0 - lam) * nq)
        return g, g

    _, g = jax.lax.scan(back, next_qmax_t[-1], (reward_t, term_t, next_qmax_t, valid_next), reverse=True)
    return g


def make_act(network):
    """act(params, obs [N, ...], key, eps) -> (actions [N] int32, max_a Q(obs) [N])."""

    def act(params, obs, key, eps):
        q = network.apply({"params": params}, obs)
        actions = agents.epsilon_greedy(key, jnp.argmax(q, -1), eps, q.shape[-1])
        return actions, q.max(-1)

    return act


def make_update(network, optimizer):
    """update(state, obs [M, ...], action [M], target [M], mask [M]) -> (state, metrics): one
    gradient step on the masked mean of 0.5 (Q(s, a) - G)^2."""

    def loss_fn(params, obs, action, target, mask):
        q = network.apply({"params": params}, obs)
        q_a = jnp.take_along_axis(q, action[:, None], axis=1)[:, 0]
        err = 0.5 * (q_a - target) ** 2
        return (err * mask).sum() / jnp.maximum(mask.sum(), 1.0), q.mean()

    def update(state: PQNState, obs, action, target, mask):
        (loss, mean_q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, obs, action, target, mask)
        upd, opt_state = optimizer.update(grads, state.opt_state, state.params)
        state = state.replace(params=optax.apply_updates(state.params, upd), opt_state=opt_state,
                              updates=state.updates + 1)
        return state, {"loss": loss, "mean_q": mean_q}

    return update


def init_state(cfg: TrainConfig, network, optimizer, obs_shape) -> PQNState:
    """A fresh learner; with `init_from` (a new run, not a resume) its parameters are that Q-network's."""
    key, params = init_params(cfg, network, obs_shape)
    if cfg.init_from:
        params = warm_start_params(params, cfg.init_from, network.num_actions)
    return PQNState(params=params, opt_state=optimizer.init(params), key=key,
                    step=jnp.asarray(0, jnp.int32), updates=jnp.asarray(0, jnp.int32))


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, stop_after_checkpoints: int | None = None) -> dict:
    """Train a Q-network with PQN per `cfg` (algorithm = "pqn") in `run_dir`; returns the summary
    (also in eval.json). Checkpoints are written at rollout boundaries every `checkpoint_every`
    agent steps; `resume` continues from the latest one with fresh envs. The run ends at
    `total_steps` or, with `max_wall_s`, at the first rollout boundary past that wall time."""
    from tqdm.auto import tqdm

    if cfg.algorithm != "pqn":
        raise ConfigError(f"pqn.train needs algorithm = 'pqn', got {cfg.algorithm!r}")
    run_dir = prepare_run_dir(cfg, run_dir, resume, overwrite)
    obs_shape, num_actions = envs.env_info(cfg.env_id)
    network = make_network(cfg.network, num_actions, cfg.mlp_hidden)
    optimizer = make_optimizer(cfg)
    # A resume restores the learner: no warm-start file is read for it.
    fresh = init_state(dataclasses.replace(cfg, init_from="") if resume else cfg, network, optimizer, obs_shape)
    state, np_rng, prog = resume_or_start(cfg, run_dir, resume, fresh)
    log = CsvLog(run_dir / "log.csv", LOG_FIELDS, prog["log_rows"] if resume else None)
    episode_log = CsvLog(run_dir / "episodes.csv", ("step", "return", "length"), prog["episode_rows"] if resume else None)
    env = train_env(cfg, prog["resumes"])
    tracker = envs.EpisodeTracker(cfg.num_envs)
    act = FastJit(make_act(network))
    update = FastJit(make_update(network, optimizer))
    targets = jax.jit(jax.vmap(q_lambda_targets, in_axes=(1, 1, 1, 1, None, None), out_axes=1), static_argnums=(4, 5))

    n, T = cfg.num_envs, cfg.pqn_rollout
    mb = n * T // cfg.pqn_minibatches
    step, updates, start_step = int(state.step), int(state.updates), int(state.step)
    t0, recent, metrics = time.time(), [], {"loss": float("nan"), "mean_q": float("nan")}
    t_log, step_log, upd_log = t0, step, updates
    next_log = (step // cfg.log_every + 1) * cfg.log_every
    next_ckpt = (step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    written = 0
    obs, _ = env.reset()
    buf_obs = np.zeros((T, n, *obs_shape), obs.dtype)
    bar = tqdm(total=cfg.total_steps, initial=step, disable=None if progress else True, unit="step",
               desc=f"train {cfg.env_id} (pqn)", mininterval=1.0)

    def wall_s():
        return float(prog["wall_s"]) + time.time() - t0

    def save():
        nonlocal state
        state = state.replace(step=jnp.asarray(step, jnp.int32), updates=jnp.asarray(updates, jnp.int32))
        meta = dict(prog, log_rows=log.rows, episode_rows=episode_log.rows,
                    np_rng=np_rng.bit_generator.state, wall_s=wall_s())
        checkpoint.save_train_state(run_dir / "checkpoints", step, state, meta)

    def out_of_time():
        return bool(cfg.max_wall_s) and wall_s() >= cfg.max_wall_s

    while step < cfg.total_steps and not out_of_time():
        # --- rollout: T steps of every env with the current network ---
        act_t, rew_t, term_t, valid_t, qmax_t = (np.zeros((T, n), d) for d in (np.int32, np.float32, np.float32, bool, np.float32))
        eps = epsilon(cfg, step)
        for t in range(T):
            key, k_act = jax.random.split(state.key)
            state = state.replace(key=key)
            actions, qmax = act(state.params, obs, k_act, np.float32(eps))
            actions = np.asarray(actions)
            buf_obs[t], act_t[t], qmax_t[t] = obs, actions, np.asarray(qmax)
            obs, rew, term, trunc, info = env.step(actions)
            n_ep = len(tracker.returns)
            counted, _ = tracker.step(rew, term, trunc, info)
            rew_t[t], term_t[t], valid_t[t] = rew, np.asarray(term, np.float32), counted
            recent = record_episodes(tracker, n_ep, episode_log, step, recent, prog)
            step += int(counted.sum())
        _, qmax_last = act(state.params, obs, state.key, np.float32(0.0))
        next_qmax = np.concatenate([qmax_t[1:], np.asarray(qmax_last)[None]], axis=0)
        g = np.asarray(targets(jnp.asarray(rew_t), jnp.asarray(term_t), jnp.asarray(valid_t),
                               jnp.asarray(next_qmax), float(cfg.gamma), float(cfg.pqn_lambda)))
        # --- learning: epochs of shuffled minibatches over the rollout ---
        flat_obs = buf_obs.reshape(T * n, *obs_shape)
        flat = (act_t.reshape(-1), g.reshape(-1), valid_t.reshape(-1).astype(np.float32))
        for _ in range(cfg.pqn_epochs):
            perm = np_rng.permutation(T * n)
            for i in range(cfg.pqn_minibatches):
                idx = np.sort(perm[i * mb:(i + 1) * mb])
                state, metrics = update(state, flat_obs[idx], flat[0][idx], flat[1][idx], flat[2][idx])
                updates += 1
        bar.update(step - bar.n)
        if step >= next_log or step >= cfg.total_steps or out_of_time():
            now = time.time()
            row = log_row(step, updates, prog["episodes"], recent, metrics, eps, (t_log, step_log, upd_log), now, wall_s())
            log.write(row)
            bar.set_postfix(ret=row["return_mean10"] if recent else "-", sps=row["env_sps"], refresh=False)
            t_log, step_log, upd_log = now, step, updates
            next_log = (step // cfg.log_every + 1) * cfg.log_every
        if step >= next_ckpt and step < cfg.total_steps:
            save()
            written += 1
            next_ckpt = (step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
            if stop_after_checkpoints is not None and written >= stop_after_checkpoints:
                bar.close()
                env.close()
                return {"stopped_at_step": step, "updates": updates}
    bar.close()
    env.close()
    save()
    return finish_run(cfg, run_dir, network, state.params, obs_shape, num_actions,
                      {"agent_steps": step, "updates": updates, "episodes": prog["episodes"],
                       "wall_s": round(wall_s(), 1), "train_steps_this_call": step - start_step})
