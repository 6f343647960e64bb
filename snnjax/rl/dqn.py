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
import dataclasses
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

from snnjax.core.compile import FastJit
from snnjax.core.io import write_json
from snnjax.nets import checkpoint
from snnjax.nets.models import layer_specs, make_network, param_count
from snnjax.rl import agents, envs
from snnjax.rl.config import ConfigError, TrainConfig
from snnjax.rl.replay import ReplayBuffer

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
    """act(params, obs [N, ...], key, eps) -> actions [N] int32: the Flax Q-network as one agent
    (`agents.q_agent`) over N envs, with the project's epsilon-greedy (one draw of shape [N])."""
    agent = agents.q_agent(agents.flax_q(network), network.num_actions)

    def act(params, obs, key, eps):
        return agent.act(params, obs[None], key, eps)[0][0]

    return act


def init_params(cfg: TrainConfig, network, obs_shape):
    """(the learner's jax key, fresh network parameters) from the run seed: one split, so every
    trainer starts a seed from the same network."""
    key = jax.random.key(cfg.seed)
    key, init_key = jax.random.split(key)
    dummy = jnp.zeros((1, *obs_shape), jnp.uint8 if cfg.network == "nature" else jnp.float32)
    return key, network.init(init_key, dummy)["params"]


def init_state(cfg: TrainConfig, network, optimizer, obs_shape) -> DQNState:
    key, params = init_params(cfg, network, obs_shape)
    return DQNState(params=params, target_params=params, opt_state=optimizer.init(params),
                    key=key, step=jnp.asarray(0, jnp.int64 if jax.config.jax_enable_x64 else jnp.int32),
                    updates=jnp.asarray(0, jnp.int32))


def warm_start_params(params, path: str, num_actions: int):
    """The Q-network in `path` (e.g. a shipped model) as parameters shaped like `params`.

    The file must hold this network: same layers, shapes and action count."""
    loaded, meta = checkpoint.load_qnetwork(path)
    if meta["num_actions"] != num_actions:
        raise ConfigError(f"init_from {path!r} has {meta['num_actions']} actions, this game has {num_actions}")
    want = jax.tree_util.tree_map(lambda x: x.shape, params)
    got = jax.tree_util.tree_map(lambda x: x.shape, loaded)
    if want != got:
        raise ConfigError(f"init_from {path!r} does not fit the network: shapes {got} vs {want}")
    return jax.tree_util.tree_map(lambda x, ref: jnp.asarray(x, ref.dtype), loaded, params)


def warm_start(state: DQNState, path: str, num_actions: int) -> DQNState:
    """params = target = the Q-network in `path`; optimizer state fresh."""
    params = warm_start_params(state.params, path, num_actions)
    return state.replace(params=params, target_params=params)


def qnetwork_meta(cfg: TrainConfig, num_actions: int, obs_shape, network) -> dict:
    return {"format": "snnjax-qnetwork-v1", "network": cfg.network, "num_actions": int(num_actions),
            "obs_shape": list(obs_shape), "env_id": cfg.env_id, "mlp_hidden": list(cfg.mlp_hidden),
            "layers": [s.name for s in layer_specs(network)]}


class CsvLog:
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


BUDGET_FIELDS = ("total_steps", "max_wall_s")  # may change on --resume: they say when to stop, not how to learn


def check_run_dir(cfg: TrainConfig, run_dir: Path, resume: bool, overwrite: bool) -> None:
    cfg_path = run_dir / "config.json"
    if resume:
        if not cfg_path.exists():
            raise checkpoint.CheckpointError(f"--resume: no run in {str(run_dir)!r} (config.json missing)")
        # A field added after the run started is compared against its default.
        saved = dict(TrainConfig().to_dict(), **json.loads(cfg_path.read_text()))
        now = cfg.to_dict()
        diff = [k for k in now if k not in BUDGET_FIELDS and saved.get(k) != now[k]]
        if diff:
            shown = ", ".join(f"{k}: run has {saved.get(k)!r}, given {now[k]!r}" for k in diff[:4])
            raise ConfigError(f"--resume with a different config ({shown}); only the budget ({', '.join(BUDGET_FIELDS)}) may change")
    elif run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise ConfigError(f"run folder {str(run_dir)!r} already holds a run; pass --resume to "
                          "continue it or --overwrite to replace it")


def prepare_run_dir(cfg: TrainConfig, run_dir: str | Path, resume: bool, overwrite: bool) -> Path:
    """Check the game, the run folder (`check_run_dir`) and a warm-start file before touching
    anything; then (re)create the folder and write the resolved config.json."""
    run_dir = Path(run_dir)
    envs.check_env_id(cfg.env_id)
    check_run_dir(cfg, run_dir, resume, overwrite)
    if cfg.init_from and not resume:
        checkpoint.load_qnetwork(cfg.init_from)  # missing or corrupt: fail before touching run_dir
    if overwrite and not resume and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", cfg.to_dict(), indent=2)
    return run_dir


@dataclasses.dataclass
class TrainRun:
    """One training run between steps. `learner` and `progress` (with the replay sampler's RNG)
    are what a checkpoint holds; the envs, the replay buffer and the logs are rebuilt on resume.

    The loop is `collect` (one env step of every env), `learn` (the updates now due), `log`
    (a log row when due) and `save` (a checkpoint when due)."""

    cfg: TrainConfig
    learner: DQNState  # params, target params, optimizer state, jax key, step, updates
    progress: dict  # episodes, resumes, wall_s (before this call), log_rows, episode_rows
    np_rng: np.random.Generator  # replay sampling
    env: Any
    replay: ReplayBuffer
    tracker: envs.EpisodeTracker
    obs: np.ndarray
    log: "CsvLog"
    episode_log: "CsvLog"
    frame: Any  # obs [N, ...] -> the newest frame per env, as the replay stores it
    step: int  # agent steps (all envs): the loop's copy of learner.step
    updates: int  # gradient updates: the loop's copy of learner.updates
    update_from: int  # agent step of the first update of this call (the replay refills after a resume)
    updates_at_start: int
    start_step: int
    t0: float = dataclasses.field(default_factory=time.time)
    recent: list = dataclasses.field(default_factory=list)  # last 10 episode returns
    metrics: dict = dataclasses.field(default_factory=lambda: {"loss": float("nan"), "mean_q": float("nan")})
    eps: float = 1.0
    t_log: float = 0.0
    step_log: int = 0
    updates_log: int = 0

    def wall_s(self) -> float:
        return float(self.progress["wall_s"]) + time.time() - self.t0

    def out_of_time(self) -> bool:
        """The run's wall time reached its budget (`max_wall_s`, 0 = none)."""
        return bool(self.cfg.max_wall_s) and self.wall_s() >= self.cfg.max_wall_s


def resume_or_start(cfg: TrainConfig, run_dir: Path, resume: bool, state):
    """(learner state, replay/minibatch numpy RNG, progress counters): fresh, or restored from the
    latest checkpoint in `run_dir` (`resume`; the resume counter goes up by one)."""
    np_rng = np.random.default_rng(cfg.seed)
    progress = {"log_rows": 0, "episode_rows": 0, "episodes": 0, "resumes": 0, "wall_s": 0.0}
    if resume:
        state, progress = checkpoint.restore_train_state(run_dir / "checkpoints", state)
        np_rng.bit_generator.state = progress.pop("np_rng")
        progress["resumes"] += 1
    return state, np_rng, progress


def train_env(cfg: TrainConfig, resumes: int):
    """The training envs (training protocol): fresh env seeds after each resume, still inside
    this run's training seed range."""
    seed_list = [s + resumes * cfg.num_envs for s in envs.seeds(envs.TRAIN_SEED_BASE, cfg.seed, cfg.num_envs)]
    over = {"max_episode_steps": cfg.max_episode_steps} if cfg.max_episode_steps else {}
    return envs.make_env(cfg.env_id, cfg.num_envs, seed_list, "train", **over)


def start(cfg: TrainConfig, run_dir: Path, resume: bool, network, optimizer) -> TrainRun:
    """A new run in `run_dir`, or the one whose latest checkpoint is there (`resume`)."""
    obs_shape, num_actions = envs.env_info(cfg.env_id)
    learner, np_rng, progress = resume_or_start(cfg, run_dir, resume, init_state(cfg, network, optimizer, obs_shape))
    if not resume and cfg.init_from:
        learner = warm_start(learner, cfg.init_from, num_actions)
    atari = envs.is_atari(cfg.env_id)
    stack = obs_shape[0] if atari else 1
    frame_shape = obs_shape[1:] if atari else obs_shape
    replay = ReplayBuffer(cfg.num_envs, cfg.replay_capacity, frame_shape, stack, np.uint8 if atari else np.float32)
    env = train_env(cfg, progress["resumes"])
    frame = (lambda o: o[:, -1]) if atari else (lambda o: o)
    obs, _ = env.reset()
    replay.add_frames(frame(obs), np.ones(cfg.num_envs, bool))
    step, updates = int(learner.step), int(learner.updates)
    run = TrainRun(cfg=cfg, learner=learner, progress=progress, np_rng=np_rng, env=env, replay=replay,
                   tracker=envs.EpisodeTracker(cfg.num_envs), obs=obs,
                   log=CsvLog(run_dir / "log.csv", LOG_FIELDS, progress["log_rows"] if resume else None),
                   episode_log=CsvLog(run_dir / "episodes.csv", ("step", "return", "length"),
                                       progress["episode_rows"] if resume else None),
                   frame=frame, step=step, updates=updates,
                   # After a resume the replay is empty: refill learning_starts steps before updating again.
                   update_from=step + cfg.learning_starts, updates_at_start=updates, start_step=step)
    run.t_log, run.step_log, run.updates_log = run.t0, step, updates
    return run


def collect(run: TrainRun, act) -> int:
    """One env step of every env with the epsilon-greedy agent; transitions into the replay,
    finished episodes into episodes.csv. Returns the decisions counted."""
    cfg = run.cfg
    key, k_act = jax.random.split(run.learner.key)
    run.eps = epsilon(cfg, run.step)
    actions = np.asarray(act(run.learner.params, run.obs, k_act, np.float32(run.eps)))
    run.obs, rew, term, trunc, info = run.env.step(actions)
    was_resetting = run.tracker.resetting.copy()
    n_ep = len(run.tracker.returns)
    counted, _ = run.tracker.step(rew, term, trunc, info)
    live = np.flatnonzero(counted)
    frame = run.frame(run.obs)
    run.replay.add_transition(frame[live], actions[live], np.asarray(rew, np.float32)[live],
                              np.asarray(term, bool)[live], live)
    new = np.flatnonzero(was_resetting)
    if len(new):
        run.replay.add_frames(frame[new], np.ones(len(new), bool), new)
    run.recent = record_episodes(run.tracker, n_ep, run.episode_log, run.step, run.recent, run.progress)
    run.step += len(live)
    run.learner = run.learner.replace(key=key)
    return len(live)


def learn(run: TrainRun, update) -> None:
    """The gradient updates due at this step (one per train_every agent steps, at most 8 at once)."""
    cfg = run.cfg
    if run.step < run.update_from:
        return
    due = (run.step - run.update_from) // cfg.train_every + 1 - (run.updates - run.updates_at_start)
    due = max(0, min(due, 8))  # a burst cap: never fall far behind or run far ahead
    for _ in range(due if run.replay.can_sample(cfg.n_step) else 0):
        batch = run.replay.sample(run.np_rng, cfg.batch_size, cfg.n_step, cfg.gamma)
        run.learner, run.metrics = update(run.learner, batch)
        run.updates += 1


def log_row(step: int, updates: int, episodes: int, recent: list, metrics: dict, eps: float,
            since: tuple[float, int, int], now: float, wall_s: float) -> dict:
    """One log.csv row (LOG_FIELDS); speeds since the last row, `since` = (time, step, updates)."""
    dt = max(now - since[0], 1e-9)
    return {"step": step, "updates": updates, "episodes": episodes,
            "return_mean10": float(np.mean(recent)) if recent else "",
            "loss": float(metrics["loss"]), "mean_q": float(metrics["mean_q"]), "eps": round(eps, 4),
            "env_sps": round((step - since[1]) / dt, 1), "ups": round((updates - since[2]) / dt, 2),
            "wall_s": round(wall_s, 1)}


def record_episodes(tracker: envs.EpisodeTracker, first: int, episode_log: CsvLog, step: int, recent: list,
                    progress: dict) -> list:
    """Write the games the tracker finished since index `first` into episodes.csv, count them in
    `progress`; returns the last 10 returns."""
    for ret, length in zip(tracker.returns[first:], tracker.lengths[first:]):
        episode_log.write({"step": step, "return": ret, "length": length})
        recent = (recent + [ret])[-10:]
        progress["episodes"] += 1
    return recent


def log(run: TrainRun) -> dict:
    """Append a row to log.csv (step, updates, returns, loss, speeds) and return it."""
    now = time.time()
    row = log_row(run.step, run.updates, run.progress["episodes"], run.recent, run.metrics, run.eps,
                  (run.t_log, run.step_log, run.updates_log), now, run.wall_s())
    run.log.write(row)
    run.t_log, run.step_log, run.updates_log = now, run.step, run.updates
    return row


def save(run: TrainRun, ckpt_dir: Path) -> None:
    """Checkpoint the learner (with this step and update count) and the progress counters."""
    run.learner = run.learner.replace(step=jnp.asarray(run.step, run.learner.step.dtype),
                                      updates=jnp.asarray(run.updates, run.learner.updates.dtype))
    meta = dict(run.progress, log_rows=run.log.rows, episode_rows=run.episode_log.rows,
                np_rng=run.np_rng.bit_generator.state, wall_s=run.wall_s())
    checkpoint.save_train_state(ckpt_dir, run.step, run.learner, meta)


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, stop_after_checkpoints: int | None = None) -> dict:
    """Train a DQN per `cfg` in `run_dir`; returns a summary dict (also in eval.json).

    stop_after_checkpoints: return right after that many checkpoints were written in this call
    (used to test kill-and-resume; the run is then resumable).
    """
    from tqdm.auto import tqdm

    run_dir = prepare_run_dir(cfg, run_dir, resume, overwrite)
    obs_shape, num_actions = envs.env_info(cfg.env_id)
    network = make_network(cfg.network, num_actions, cfg.mlp_hidden)
    optimizer = make_optimizer(cfg)
    run = start(cfg, run_dir, resume, network, optimizer)
    act = FastJit(make_act(network))
    update = FastJit(make_update(cfg, network, optimizer))
    ckpt_dir = run_dir / "checkpoints"
    next_log = (run.step // cfg.log_every + 1) * cfg.log_every
    next_ckpt = (run.step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    checkpoints_written = 0
    bar = tqdm(total=cfg.total_steps, initial=run.step, disable=None if progress else True, unit="step",
               desc=f"train {cfg.env_id}", mininterval=1.0)
    while run.step < cfg.total_steps and not run.out_of_time():
        bar.update(collect(run, act))
        learn(run, update)
        if run.step >= next_log or run.step >= cfg.total_steps or run.out_of_time():
            row = log(run)
            bar.set_postfix(ret=row["return_mean10"] if run.recent else "-", sps=row["env_sps"], refresh=False)
            next_log += cfg.log_every
        if run.step >= next_ckpt and run.step < cfg.total_steps:
            save(run, ckpt_dir)
            checkpoints_written += 1
            next_ckpt += cfg.checkpoint_every
            if stop_after_checkpoints is not None and checkpoints_written >= stop_after_checkpoints:
                bar.close()
                run.env.close()
                return {"stopped_at_step": run.step, "updates": run.updates}
    bar.close()
    run.env.close()
    save(run, ckpt_dir)
    return finish_run(cfg, run_dir, network, run.learner.params, obs_shape, num_actions,
                      {"agent_steps": run.step, "updates": run.updates, "episodes": run.progress["episodes"],
                       "wall_s": round(run.wall_s(), 1), "train_steps_this_call": run.step - run.start_step})


def finish_run(cfg: TrainConfig, run_dir: Path, network, params, obs_shape, num_actions, counts: dict) -> dict:
    """Write the final `qnetwork.npz` and `eval.json` (the summary: `counts`, frames, parameter
    count and, with eval_episodes, the evaluation under the paper's protocol); returns the summary."""
    meta = qnetwork_meta(cfg, num_actions, obs_shape, network)
    checkpoint.save_qnetwork(run_dir / "qnetwork.npz", params, meta)
    atari = envs.is_atari(cfg.env_id)
    summary = {"env_id": cfg.env_id, "algorithm": cfg.algorithm, **counts,
               "frames": counts["agent_steps"] * (4 if atari else 1), "params": param_count(params)}
    if cfg.eval_episodes:
        from snnjax.rl.play import score_dqn

        rets, lens = score_dqn(params, meta, cfg.eval_episodes, cfg.seed, cfg.eval_eps)
        summary.update(eval_episodes=cfg.eval_episodes, eval_eps=cfg.eval_eps,
                       eval_return_mean=float(rets.mean()), eval_return_std=float(rets.std()),
                       eval_returns=rets.tolist(), eval_lengths=lens.tolist())
    write_json(run_dir / "eval.json", summary, indent=2)
    return summary
