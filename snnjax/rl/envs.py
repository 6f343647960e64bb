"""envpool environments for the training and evaluation protocols, and episode bookkeeping.

The only module that imports envpool. Protocol facts (checked, see shared PROTOCOL.md):
- Atari observations are uint8 [N, 4, 84, 84]; `info["reward"]` is the raw score even when
  `reward_clip=True`; `info["terminated"]` is the real game over (with episodic life,
  `terminated` is per life).
- Auto-reset is "next step": the step after a done ignores its action, returns reward 0 and the
  new episode's first observation. That step belongs to no episode and is never counted.
- `max_episode_steps` counts agent steps (4 frames each).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Sequence

import numpy as np

from snnjax.core.validate import ValidationError

# Seed ranges: env i of a run with seed s gets BASE + s * SEEDS_PER_RUN + i, so training,
# calibration (conversion) and evaluation never share a seed.
SEEDS_PER_RUN = 100_000
TRAIN_SEED_BASE = 0
CALIBRATION_SEED_BASE = 1 << 29
EVAL_SEED_BASE = 1 << 30
MAX_RUN_SEED = (1 << 29) // SEEDS_PER_RUN  # run seeds are in [0, MAX_RUN_SEED)

TRAIN_ATARI = dict(
    episodic_life=True, reward_clip=True, noop_max=30, frame_skip=4, stack_num=4,
    repeat_action_probability=0.0, full_action_space=False, use_fire_reset=False,
    max_episode_steps=27_000,
)
EVAL_ATARI = dict(TRAIN_ATARI, episodic_life=False, reward_clip=False, max_episode_steps=4_500)


class EnvError(ValidationError):
    """Bad environment request (unknown game, bad sizes)."""


@functools.cache
def all_env_ids() -> tuple[str, ...]:
    import envpool

    return tuple(envpool.list_all_envs())


def is_atari(env_id: str) -> bool:
    return env_id.endswith("-v5")


def check_env_id(env_id: str) -> str:
    """The envpool id of `env_id`: itself if envpool knows it, `<name>-v5` for a bare Atari game
    name ("Pong" -> "Pong-v5"); else EnvError naming the closest ids (also for Gym/ALE spellings
    such as "PongNoFrameskip-v4" or "ALE/Pong-v5")."""
    ids = all_env_ids()
    if env_id in ids:
        return env_id
    if f"{env_id}-v5" in ids:
        return f"{env_id}-v5"
    base = env_id.split("/")[-1]
    for suffix in ("NoFrameskip-v4", "NoFrameskip-v0", "Deterministic-v4", "-v4", "-v0", "-v5"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    if f"{base}-v5" in ids:
        raise EnvError(f"unknown game/env id {env_id!r}; envpool names this Atari game {base + '-v5'!r} "
                       "(snnjax sets frame skip, sticky actions and no-op starts itself)")
    close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise EnvError(f"unknown game/env id {env_id!r}{hint} (envpool.list_all_envs() lists all {len(ids)})")


def seeds(base: int, run_seed: int, num_envs: int) -> list[int]:
    if not 0 <= run_seed < MAX_RUN_SEED:
        raise EnvError(f"seed {run_seed} out of range [0, {MAX_RUN_SEED})")
    start = base + run_seed * SEEDS_PER_RUN
    return list(range(start, start + num_envs))


def make_env(env_id: str, num_envs: int, seed_list: list[int], mode: str, **overrides):
    """envpool env for `mode` "train" or "eval" (Atari protocol settings; others use defaults).

    Returns a gymnasium-API batched env: `reset() -> (obs, info)`,
    `step(a) -> (obs, reward, terminated, truncated, info)`.
    """
    import envpool

    check_env_id(env_id)
    if num_envs < 1:
        raise EnvError(f"num_envs must be >= 1, got {num_envs}")
    kwargs = {}
    if is_atari(env_id):
        kwargs = dict(TRAIN_ATARI if mode == "train" else EVAL_ATARI)
    kwargs.update(overrides)
    return envpool.make(env_id, env_type="gymnasium", num_envs=num_envs, seed=seed_list, **kwargs)


def make_train_env(env_id: str, num_envs: int, run_seed: int, **overrides):
    return make_env(env_id, num_envs, seeds(TRAIN_SEED_BASE, run_seed, num_envs), "train", **overrides)


def make_eval_env(env_id: str, num_envs: int, run_seed: int, max_episode_steps: int | None = None,
                  seed_base: int = EVAL_SEED_BASE):
    over = {}
    if max_episode_steps is not None and is_atari(env_id):
        over["max_episode_steps"] = int(max_episode_steps)
    return make_env(env_id, num_envs, seeds(seed_base, run_seed, num_envs), "eval", **over)


def env_info(env_id: str) -> tuple[tuple[int, ...], int]:
    """(observation shape without batch axis, number of actions) of an env id."""
    env = make_env(env_id, 1, [0], "eval")
    shape = tuple(env.observation_space.shape)
    n = int(env.action_space.n)
    env.close()
    return shape, n


def check_fits(game: str, num_actions: int, obs_shape: Sequence[int], source: str = "the checkpoint") -> None:
    """EnvError unless the network (`num_actions`, `obs_shape` of one observation) fits `game`:
    the one network-against-game check of every command."""
    shape, n = env_info(check_env_id(game))
    if n != num_actions:
        raise EnvError(f"{source} has {num_actions} actions but {game} has {n}; use a network "
                       f"trained on {game}")
    if tuple(shape) != tuple(obs_shape):
        raise EnvError(f"{source} expects observations {tuple(obs_shape)}, {game} gives {tuple(shape)}")


def raw_reward(reward: np.ndarray, info: dict) -> np.ndarray:
    """The unclipped score of this step: `info["reward"]` where envpool provides it."""
    return np.asarray(info.get("reward", reward), np.float64)


def game_over(terminated: np.ndarray, info: dict) -> np.ndarray:
    """Real end of game (not a lost life): `info["terminated"]` on Atari, else `terminated`."""
    return np.asarray(info.get("terminated", terminated), bool)


@dataclasses.dataclass
class EpisodeTracker:
    """Raw-score bookkeeping over N envs with envpool's next-step auto-reset.

    Call `step(reward, terminated, truncated, info)` after every `env.step`. It returns a
    boolean mask of envs that were inside an episode on that step (`counted`): the auto-reset
    step after a done is not counted as a decision or a reward of either episode. An episode
    ends on the real game over (`info["terminated"]`) or truncation; a lost life with episodic
    life on does not end it. Finished episodes are appended to `returns` / `lengths`
    (with the env index in `env_index`).
    """

    num_envs: int
    returns: list = dataclasses.field(default_factory=list)
    lengths: list = dataclasses.field(default_factory=list)
    env_index: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.score = np.zeros(self.num_envs)
        self.length = np.zeros(self.num_envs, np.int64)
        self.resetting = np.zeros(self.num_envs, bool)  # next step is envpool's reset step
        self.episode_done = np.zeros(self.num_envs, bool)  # last done ended the whole game

    def step(self, reward, terminated, truncated, info) -> tuple[np.ndarray, np.ndarray]:
        """Returns (counted, finished): envs whose step was a real decision, and envs whose
        episode (game) finished on this step."""
        counted = ~self.resetting
        r = raw_reward(reward, info)
        self.score[counted] += r[counted]
        self.length[counted] += 1
        done = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        finished = counted & (game_over(terminated, info) | np.asarray(truncated, bool))
        for i in np.flatnonzero(finished):
            self.returns.append(float(self.score[i]))
            self.lengths.append(int(self.length[i]))
            self.env_index.append(int(i))
        self.score[finished] = 0.0
        self.length[finished] = 0
        # Every done (also a lost life) makes the next call a reset step; only a finished game
        # closes the episode's books.
        self.resetting = counted & done
        return counted, finished
