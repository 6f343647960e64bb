"""DQN (Mnih et al. 2015) on envpool: loss, jitted update, epsilon schedule, training loop.

`train(cfg, run_dir)` trains, logs, checkpoints and evaluates; the `snnjax train` command only
parses arguments and calls it. Files in `run_dir`:
  config.json      the resolved TrainConfig
  log.csv          step, updates, episodes, return_mean10, loss, mean_q, eps, env_sps, ups, wall_s
  episodes.csv     step, return (raw score), length (agent steps), one row per finished game
  checkpoints/     orbax trainer checkpoints (for --resume)
  qnetwork.npz     the final Q-network (what `convert` / `evaluate` load)
  eval.json        final evaluation under the evaluation protocol
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnjax import checkpoint, envs
from snnjax.compile import FastJit
from snnjax.config import ConfigError, TrainConfig
from snnjax.io import write_json
from snnjax.models import layer_specs, make_network, param_count
from snnjax.replay import ReplayBuffer

LOG_FIELDS = ("step", "updates", "episodes", "return_mean10", "loss", "mean_q", "eps",
              "env_sps", "ups", "wall_s")


@flax.struct.dataclass
class DQNState:
    """Everything the update and the checkpoint need, as named pytree fields."""

    params: Any
    target_params: Any
    opt_state: Any
    key: jax.Array
    step: jax.Array  # agent steps taken (all envs)
    updates: jax.Array  # gradient updates done


def epsilon(cfg: TrainConfig, step) -> float:
    """Linear decay from eps_start to eps_end over eps_decay_steps agent steps, then flat."""
    if cfg.eps_decay_steps == 0:
        return cfg.eps_end
    frac = min(float(step) / cfg.eps_decay_steps, 1.0)
    return cfg.eps_start + frac * (cfg.eps_end - cfg.eps_start)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "rmsprop":
        opt = optax.rmsprop(cfg.learning_rate, decay=cfg.rmsprop_decay, eps=cfg.rmsprop_eps,
                            centered=cfg.rmsprop_centered)
    else:
        opt = optax.adam(cfg.learning_rate, eps=cfg.adam_eps)
    if cfg.max_grad_norm > 0:
        opt = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), opt)
    return opt


def td_target(ret_t, discount_t, q_next_target, q_next_online=None):
    """n-step TD target for ONE transition: ret + discount * Q_target(s', a').

    a' = argmax Q_target(s') (Mnih 2015) or argmax Q_online(s') when `q_next_online` is given
    (Double DQN). Shapes: ret_t, discount_t scalars; q_next_* [A].
    """
    selector = q_next_target if q_next_online is None else q_next_online
    a_next = jnp.argmax(selector)
    return ret_t + discount_t * q_next_target[a_next]


def make_update(cfg: TrainConfig, network, optimizer):
    """Returns update(state, batch) -> (state, metrics): one Huber-loss gradient step."""

    def loss_fn(params, target_params, batch):
        q = network.apply({"params": params}, batch["obs"])
        q_next_target = network.apply({"params": target_params}, batch["next_obs"])
        q_next_online = network.apply({"params": params}, batch["next_obs"]) if cfg.double_dqn else None
        target = jax.vmap(td_target)(batch["ret"], batch["discount"], q_next_target,
                                     *(() if q_next_online is None else (q_next_online,)))
        q_a = jnp.take_along_axis(q, batch["action"][:, None], axis=1)[:, 0]
        td = q_a - jax.lax.stop_gradient(target)
        loss = optax.huber_loss(td, delta=cfg.huber_delta).mean()
        return loss, q.mean()

    def update(state: DQNState, batch) -> tuple[DQNState, dict]:
        (loss, mean_q), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state.target_params, batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        n = state.updates + 1
        target_params = jax.tree_util.tree_map(
            lambda t, p: jnp.where(n % cfg.target_update_every == 0, p, t), state.target_params, params)
        state = state.replace(params=params, target_params=target_params, opt_state=opt_state, updates=n)
        return state, {"loss": loss, "mean_q": mean_q}

    return update


def make_act(network):
    """act(params, obs [N, ...], key, eps) -> actions [N] int32, epsilon-greedy per env."""

    def act(params, obs, key, eps):
        q = network.apply({"params": params}, obs)
        k1, k2 = jax.random.split(key)
        greedy = jnp.argmax(q, axis=-1)
        rand = jax.random.randint(k1, greedy.shape, 0, q.shape[-1])
        explore = jax.random.uniform(k2, greedy.shape) < eps
        return jnp.where(explore, rand, greedy).astype(jnp.int32)

    return act


def init_state(cfg: TrainConfig, network, optimizer, obs_shape) -> DQNState:
    key = jax.random.key(cfg.seed)
    key, init_key = jax.random.split(key)
    dummy = jnp.zeros((1, *obs_shape), jnp.uint8 if cfg.network == "nature" else jnp.float32)
    params = network.init(init_key, dummy)["params"]
    return DQNState(params=params, target_params=params, opt_state=optimizer.init(params),
                    key=key, step=jnp.asarray(0, jnp.int64 if jax.config.jax_enable_x64 else jnp.int32),
                    updates=jnp.asarray(0, jnp.int32))


def warm_start(state: DQNState, path: str, num_actions: int) -> DQNState:
    """params = target = the Q-network in `path` (e.g. a shipped model); optimizer state fresh.

    The file must hold this network: same layers, shapes and action count."""
    params, meta = checkpoint.load_qnetwork(path)
    if meta["num_actions"] != num_actions:
        raise ConfigError(f"init_from {path!r} has {meta['num_actions']} actions, this game has {num_actions}")
    want = jax.tree_util.tree_map(lambda x: x.shape, state.params)
    got = jax.tree_util.tree_map(lambda x: x.shape, params)
    if want != got:
        raise ConfigError(f"init_from {path!r} does not fit the network: shapes {got} vs {want}")
    params = jax.tree_util.tree_map(lambda x, ref: jnp.asarray(x, ref.dtype), params, state.params)
    return state.replace(params=params, target_params=params)


def qnetwork_meta(cfg: TrainConfig, num_actions: int, obs_shape, network) -> dict:
    return {"format": "snnjax-qnetwork-v1", "network": cfg.network, "num_actions": int(num_actions),
            "obs_shape": list(obs_shape), "env_id": cfg.env_id, "mlp_hidden": list(cfg.mlp_hidden),
            "layers": [s.name for s in layer_specs(network)]}


class _CsvLog:
    """Append-only CSV that can be truncated back to a row count on resume."""

    def __init__(self, path: Path, fields, keep_rows: int | None):
        self.path, self.fields = path, fields
        rows = []
        if keep_rows is not None and path.exists():
            with path.open() as f:
                rows = list(csv.DictReader(f))[:keep_rows]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fields)
            w.writeheader()
            w.writerows(rows)
        self.rows = len(rows)

    def write(self, row: dict):
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow(row)
        self.rows += 1


def _check_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool, overwrite: bool) -> None:
    cfg_path = run_dir / "config.json"
    if resume:
        if not cfg_path.exists():
            raise checkpoint.CheckpointError(f"--resume: no run in {str(run_dir)!r} (config.json missing)")
        # A field added after the run started is compared against its default.
        saved = dict(TrainConfig().to_dict(), **json.loads(cfg_path.read_text()))
        now = cfg.to_dict()
        diff = [k for k in now if k != "total_steps" and saved.get(k) != now[k]]
        if diff:
            shown = ", ".join(f"{k}: run has {saved.get(k)!r}, given {now[k]!r}" for k in diff[:4])
            raise ConfigError(f"--resume with a different config ({shown}); only total_steps may change")
    elif run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise ConfigError(f"run folder {str(run_dir)!r} already holds a run; pass --resume to "
                          "continue it or --overwrite to replace it")


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, stop_after_checkpoints: int | None = None) -> dict:
    """Train a DQN per `cfg` in `run_dir`; returns a summary dict (also in eval.json).

    stop_after_checkpoints: return right after that many checkpoints were written in this call
    (used to test kill-and-resume; the run is then resumable).
    """
    from tqdm.auto import tqdm

    run_dir = Path(run_dir)
    envs.check_env_id(cfg.env_id)
    _check_run_dir(cfg, run_dir, resume, overwrite)
    if cfg.init_from and not resume:
        checkpoint.load_qnetwork(cfg.init_from)  # missing or corrupt: fail before touching run_dir
    if overwrite and not resume and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", cfg.to_dict(), indent=2)

    over = {"max_episode_steps": cfg.max_episode_steps} if cfg.max_episode_steps else {}
    obs_shape, num_actions = envs.env_info(cfg.env_id)
    network = make_network(cfg.network, num_actions, cfg.mlp_hidden)
    optimizer = make_optimizer(cfg)
    state = init_state(cfg, network, optimizer, obs_shape)
    np_rng = np.random.default_rng(cfg.seed)
    meta = {"log_rows": 0, "episode_rows": 0, "episodes": 0, "resumes": 0, "wall_s": 0.0}
    ckpt_dir = run_dir / "checkpoints"
    if resume:
        state, meta = checkpoint.restore_train_state(ckpt_dir, state)
        np_rng.bit_generator.state = meta["np_rng"]
        meta["resumes"] += 1
    elif cfg.init_from:
        state = warm_start(state, cfg.init_from, num_actions)
    log = _CsvLog(run_dir / "log.csv", LOG_FIELDS, meta["log_rows"] if resume else None)
    ep_log = _CsvLog(run_dir / "episodes.csv", ("step", "return", "length"),
                     meta["episode_rows"] if resume else None)

    atari = envs.is_atari(cfg.env_id)
    stack = obs_shape[0] if atari else 1
    frame_shape = obs_shape[1:] if atari else obs_shape
    replay = ReplayBuffer(cfg.num_envs, cfg.replay_capacity, frame_shape, stack,
                          np.uint8 if atari else np.float32)
    # Fresh env seeds after each resume, still inside this run's training seed range.
    seed_list = [s + meta["resumes"] * cfg.num_envs
                 for s in envs.seeds(envs.TRAIN_SEED_BASE, cfg.seed, cfg.num_envs)]
    env = envs.make_env(cfg.env_id, cfg.num_envs, seed_list, "train", **over)

    act = FastJit(make_act(network))
    update = FastJit(make_update(cfg, network, optimizer))
    frame = (lambda o: o[:, -1]) if atari else (lambda o: o)

    obs, _ = env.reset()
    replay.add_frames(frame(obs), np.ones(cfg.num_envs, bool))
    tracker = envs.EpisodeTracker(cfg.num_envs)
    step = int(state.step)
    start_step = step
    updates_done = updates_at_start = int(state.updates)
    wall_before = float(meta["wall_s"])
    # After a resume the replay is empty: refill learning_starts steps before updating again.
    update_from = step + cfg.learning_starts
    recent: list[float] = []
    last_metrics = {"loss": float("nan"), "mean_q": float("nan")}
    t0 = time.time()
    t_log, step_log, upd_log = t0, step, updates_done
    next_log = (step // cfg.log_every + 1) * cfg.log_every
    next_ckpt = (step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    checkpoints_written = 0
    key = state.key
    bar = tqdm(total=cfg.total_steps, initial=step, disable=None if progress else True, unit="step",
               desc=f"train {cfg.env_id}", mininterval=1.0)

    def save_checkpoint():
        nonlocal state
        state = state.replace(key=key, step=jnp.asarray(step, state.step.dtype),
                              updates=jnp.asarray(updates_done, state.updates.dtype))
        meta.update(log_rows=log.rows, episode_rows=ep_log.rows, np_rng=np_rng.bit_generator.state,
                    wall_s=wall_before + time.time() - t0)
        checkpoint.save_train_state(ckpt_dir, step, state, meta)

    while step < cfg.total_steps:
        key, k_act = jax.random.split(key)
        eps = epsilon(cfg, step)
        actions = np.asarray(act(state.params, obs, k_act, np.float32(eps)))
        obs, rew, term, trunc, info = env.step(actions)
        was_resetting = tracker.resetting.copy()
        n_ep = len(tracker.returns)
        counted, _ = tracker.step(rew, term, trunc, info)
        live = np.flatnonzero(counted)
        replay.add_transition(frame(obs)[live], actions[live], np.asarray(rew, np.float32)[live],
                              np.asarray(term, bool)[live], live)
        new = np.flatnonzero(was_resetting)
        if len(new):
            replay.add_frames(frame(obs)[new], np.ones(len(new), bool), new)
        for ret, length in zip(tracker.returns[n_ep:], tracker.lengths[n_ep:]):
            ep_log.write({"step": step, "return": ret, "length": length})
            recent = (recent + [ret])[-10:]
            meta["episodes"] += 1
        step += len(live)
        bar.update(len(live))

        if step >= update_from:
            due = (step - update_from) // cfg.train_every + 1 - (updates_done - updates_at_start)
            due = max(0, min(due, 8))  # a burst cap: never fall far behind or run far ahead
            for _ in range(due if replay.can_sample(cfg.n_step) else 0):
                batch = replay.sample(np_rng, cfg.batch_size, cfg.n_step, cfg.gamma)
                state, m = update(state, batch)
                updates_done += 1
                last_metrics = m

        if step >= next_log or step >= cfg.total_steps:
            now = time.time()
            row = {"step": step, "updates": updates_done, "episodes": meta["episodes"],
                   "return_mean10": float(np.mean(recent)) if recent else "",
                   "loss": float(last_metrics["loss"]), "mean_q": float(last_metrics["mean_q"]),
                   "eps": round(eps, 4), "env_sps": round((step - step_log) / max(now - t_log, 1e-9), 1),
                   "ups": round((updates_done - upd_log) / max(now - t_log, 1e-9), 2),
                   "wall_s": round(wall_before + now - t0, 1)}
            log.write(row)
            bar.set_postfix(ret=row["return_mean10"] if recent else "-", sps=row["env_sps"], refresh=False)
            t_log, step_log, upd_log = now, step, updates_done
            next_log += cfg.log_every
        if step >= next_ckpt and step < cfg.total_steps:
            save_checkpoint()
            checkpoints_written += 1
            next_ckpt += cfg.checkpoint_every
            if stop_after_checkpoints is not None and checkpoints_written >= stop_after_checkpoints:
                bar.close()
                env.close()
                return {"stopped_at_step": step, "updates": updates_done}
    bar.close()
    env.close()
    save_checkpoint()
    checkpoint.save_qnetwork(run_dir / "qnetwork.npz", state.params,
                             qnetwork_meta(cfg, num_actions, obs_shape, network))
    summary = {"env_id": cfg.env_id, "agent_steps": step, "frames": step * (4 if atari else 1),
               "updates": updates_done, "episodes": meta["episodes"],
               "wall_s": round(wall_before + time.time() - t0, 1), "train_steps_this_call": step - start_step,
               "params": param_count(state.params)}
    if cfg.eval_episodes:
        rets, lens = evaluate_qnetwork(network, state.params, cfg.env_id, cfg.eval_episodes,
                                       cfg.seed, cfg.eval_eps)
        summary.update(eval_episodes=cfg.eval_episodes, eval_eps=cfg.eval_eps,
                       eval_return_mean=float(rets.mean()), eval_return_std=float(rets.std()),
                       eval_returns=rets.tolist(), eval_lengths=lens.tolist())
    write_json(run_dir / "eval.json", summary, indent=2)
    return summary


def evaluate_qnetwork(network, params, env_id: str, episodes: int, seed: int = 0,
                      eps: float = 0.05, max_episode_steps: int | None = None):
    """Play `episodes` episodes (one per env) under the evaluation protocol.

    Returns (raw returns [episodes], lengths [episodes])."""
    env = envs.make_eval_env(env_id, episodes, seed, max_episode_steps)
    act = jax.jit(make_act(network))
    key = jax.random.key(seed + 12345)

    def policy(obs, active):
        nonlocal key
        key, k = jax.random.split(key)
        return act(params, obs, k, eps)

    rets, lens = envs.play_episodes(env, policy, episodes, 1)
    env.close()
    return rets[:, 0], lens[:, 0]
