"""Configurations: frozen dataclasses loaded from TOML, with per-game overrides for training.

`TrainConfig` (`snnjax train`, `snnjax campaign`) and `EvalConfig` (`snnjax evaluate` and
`sweep`) load the same way. A training config file is a flat TOML table of `TrainConfig` fields
plus optional per-game tables, applied when `env_id` matches:

    env_id = "Breakout-v5"
    learning_rate = 1e-4
    [games."Pong-v5"]
    learning_rate = 2e-4

Command-line `--set key=value` overrides come last. Unknown keys are errors naming the key
and the allowed ones; each dataclass validates itself (one place), and the resolved config is
saved beside every run (`config.json`) and inside every evaluation's results JSON.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from pathlib import Path
from typing import Any

from snnjax.core.validate import NETWORKS, ValidationError


class ConfigError(ValidationError):
    """A bad configuration value or key."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """DQN training hyperparameters. Step counts are AGENT steps summed over all envs."""

    env_id: str = "CartPole-v1"  # envpool id, e.g. "Breakout-v5"
    network: str = "mlp"  # "nature" (Mnih 2015 CNN) or "mlp" (vector observations)
    mlp_hidden: tuple[int, ...] = (64, 64)  # hidden widths of the MLP network
    seed: int = 0  # run seed: network init, exploration, env seeds (training range)
    num_envs: int = 8  # parallel envpool envs
    total_steps: int = 100_000  # agent steps to train for (all envs together)
    replay_capacity: int = 100_000  # transitions kept (single frames stored once)
    learning_starts: int = 1_000  # agent steps of experience before the first update
    train_every: int = 4  # agent steps (all envs together) per gradient update
    batch_size: int = 32  # minibatch size
    target_update_every: int = 1_000  # gradient updates between target-network copies
    gamma: float = 0.99  # discount
    n_step: int = 1  # n-step returns (1 = Mnih 2015)
    double_dqn: bool = False  # Double DQN target (van Hasselt et al. 2016)
    huber_delta: float = 1.0  # Huber loss threshold (Mnih 2015 "error clipping")
    optimizer: str = "rmsprop"  # "rmsprop" (Mnih 2015, centered) or "adam"
    learning_rate: float = 2.5e-4  # step size
    rmsprop_decay: float = 0.95  # RMSProp squared-gradient decay
    rmsprop_eps: float = 1e-5  # RMSProp epsilon (Dopamine dqn_nature uses 1e-5)
    rmsprop_centered: bool = True  # centered RMSProp as in Mnih 2015
    adam_eps: float = 1.5e-4  # Adam epsilon (Dopamine/Rainbow value)
    max_grad_norm: float = 0.0  # global gradient-norm clip; 0 = off
    eps_start: float = 1.0  # initial exploration epsilon
    eps_end: float = 0.1  # final exploration epsilon
    eps_decay_steps: int = 1_000_000  # agent steps of linear epsilon decay
    eval_eps: float = 0.05  # evaluation epsilon (paper's protocol)
    eval_episodes: int = 20  # episodes of the final evaluation (0 = skip)
    checkpoint_every: int = 50_000  # agent steps between orbax checkpoints
    log_every: int = 5_000  # agent steps between log rows
    max_episode_steps: int = 0  # training episode cap in agent steps; 0 = protocol default
    init_from: str = ""  # warm start: Q-network .npz whose weights become params = target
    max_wall_s: float = 0.0  # wall-time budget (all calls of a resumed run): stop and finish there; 0 = none
    # The learning algorithm. "dqn": replay, target network (Mnih et al. 2015, the fields above).
    # "pqn": parallel Q-learning (Gallici et al. 2025): no replay and no target network; rollouts
    # of pqn_rollout steps of num_envs envs, Q(lambda) targets, pqn_epochs passes over each rollout
    # in pqn_minibatches minibatches. The replay, target and n-step fields are then unused.
    algorithm: str = "dqn"
    pqn_rollout: int = 32  # agent steps per env in one rollout (PQN: NUM_STEPS)
    pqn_lambda: float = 0.65  # lambda of the Q(lambda) targets
    pqn_epochs: int = 2  # passes over each rollout
    pqn_minibatches: int = 32  # minibatches per pass (minibatch = num_envs x pqn_rollout / this)

    def __post_init__(self):
        positive = ("num_envs", "total_steps", "replay_capacity", "train_every", "batch_size",
                    "target_update_every", "n_step", "checkpoint_every", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_starts", "eps_decay_steps", "eval_episodes", "max_episode_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.max_wall_s >= 0:
            raise ConfigError(f"max_wall_s must be >= 0 (0 = no budget), got {self.max_wall_s}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("eps_start", "eps_end", "eval_eps"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ConfigError(f"optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.network not in NETWORKS:
            raise ConfigError(f"network must be 'nature' or 'mlp', got {self.network!r}")
        from snnjax.rl.envs import MAX_RUN_SEED

        if not 0 <= self.seed < MAX_RUN_SEED:
            raise ConfigError(f"seed must be in [0, {MAX_RUN_SEED}) (each seed owns a range of env seeds), "
                              f"got {self.seed}")
        if self.replay_capacity < self.batch_size:
            raise ConfigError(f"replay_capacity {self.replay_capacity} < batch_size {self.batch_size}")
        if self.algorithm not in ("dqn", "pqn"):
            raise ConfigError(f"algorithm must be 'dqn' or 'pqn', got {self.algorithm!r}")
        for name in ("pqn_rollout", "pqn_epochs", "pqn_minibatches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.pqn_lambda <= 1:
            raise ConfigError(f"pqn_lambda must be in [0, 1], got {self.pqn_lambda}")
        if self.algorithm == "pqn" and (self.num_envs * self.pqn_rollout) % self.pqn_minibatches:
            raise ConfigError(f"num_envs x pqn_rollout = {self.num_envs * self.pqn_rollout} is not divisible by "
                              f"pqn_minibatches = {self.pqn_minibatches}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mlp_hidden"] = list(self.mlp_hidden)
        return d


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """The evaluation protocol and conversion of `snnjax evaluate` / `sweep`.

    Defaults: the main job (the paper's protocol with 8 episodes instead of 50 and T = 100
    instead of 500, so that it finishes in minutes on a CPU)."""

    time_steps: tuple[int, ...] = (100,)  # T values, SNN steps per frame (the paper: 500)
    percentiles: tuple[float, ...] = (99.9,)  # normalization percentiles p in (0, 100] (eq. 16)
    episodes: int = 8  # episodes per agent, one per env (the paper: 50)
    readout: str = "robust"  # readout the SNN agents act on: normal, robust (eq. 17), membrane
    eps: float = 0.05  # evaluation epsilon-greedy (the paper's protocol)
    max_episode_steps: int = 4500  # episode cap in agent steps (18,000 frames)
    seed: int = 0  # evaluation and calibration seed range (disjoint from training)
    calibration_frames: int = 15000  # frames of the DQN's own play for the percentiles
    channelwise: bool = False  # one lambda per channel (Kim et al. 2020) instead of per layer
    v_thr: float = 1.0  # threshold V_thr
    initial_potential: float = 0.0  # V(0) in units of V_thr
    input_encoding: str = "constant"  # "constant" current (the paper) or "if" spikes

    def __post_init__(self):
        from snnjax.core import validate
        from snnjax.rl.envs import MAX_RUN_SEED
        from snnjax.snn import readout

        object.__setattr__(self, "time_steps", tuple(validate.time_steps(_as_tuple(self.time_steps))))
        object.__setattr__(self, "percentiles", tuple(validate.percentiles(_as_tuple(self.percentiles))))
        validate.count(self.episodes, "episodes", 1, validate.MAX_EPISODES)
        validate.count(self.max_episode_steps, "max_episode_steps", 1, validate.MAX_EPISODE_STEPS)
        validate.count(self.calibration_frames, "calibration frames", 1, validate.MAX_CALIBRATION_FRAMES)
        validate.count(self.seed, "seed", 0, MAX_RUN_SEED - 1)
        validate.probability(self.eps, "eps")
        validate.positive(self.v_thr, "v_thr")
        validate.finite(self.initial_potential, "initial_potential")
        if self.readout not in readout.READOUTS:
            raise ConfigError(f"readout must be one of {', '.join(readout.READOUTS)}, got {self.readout!r}")
        if self.input_encoding not in ("constant", "if"):
            raise ConfigError(f"input_encoding must be 'constant' or 'if', got {self.input_encoding!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.update(time_steps=list(self.time_steps), percentiles=list(self.percentiles))
        return d

    def replace(self, **changes) -> "EvalConfig":
        return dataclasses.replace(self, **changes)


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _fields(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _check_key(key: str, cls=TrainConfig) -> None:
    fields = _fields(cls)
    if key not in fields:
        close = difflib.get_close_matches(key, fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown config key {key!r}{hint}; allowed: {', '.join(fields)}")


def _coerce(key: str, value: Any, cls=TrainConfig) -> Any:
    """Convert a TOML value or a `--set` string to the field's type."""
    default = _fields(cls)[key].default
    if isinstance(default, bool):
        if isinstance(value, str):
            if value.lower() in ("true", "1", "yes"):
                return True
            if value.lower() in ("false", "0", "no"):
                return False
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return bool(value)
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        kind = type(default[0]) if default else int
        name = "integers" if kind is int else "numbers"
        try:
            return tuple(kind(v) if kind is float else _coerce_int(key, v) for v in _as_tuple(value))
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be comma-separated {name}, got {value!r}") from None
    try:
        if isinstance(default, int):
            f = float(value)
            if f != int(f):
                raise ValueError
            return int(f)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a {type(default).__name__}, got {value!r}") from None
    return str(value)


def _coerce_int(key: str, v) -> int:
    f = float(v)
    if f != int(f):
        raise ConfigError(f"{key} must be comma-separated integers, got {v!r}")
    return int(f)


def parse_overrides(pairs: list[str], cls=TrainConfig) -> dict[str, Any]:
    """['key=value', ...] -> {key: value (as string)}; keys checked."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip()
        _check_key(key, cls)
        out[key] = value.strip()
    return out


def resolve(raw: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Apply a raw TOML dict (with optional [games.ID] tables) and overrides."""
    raw = dict(raw)
    games = raw.pop("games", {})
    values: dict[str, Any] = {}
    for key, value in raw.items():
        _check_key(key)
        values[key] = value
    overrides = dict(overrides or {})
    env_id = str(overrides.get("env_id", values.get("env_id", TrainConfig.env_id)))
    for key, value in games.get(env_id, {}).items():
        _check_key(key)
        values[key] = value
    values.update(overrides)
    return TrainConfig(**{k: _coerce(k, v) for k, v in values.items()})


def _read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text (TOML is UTF-8): byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def load(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a TOML config file and `--set key=value` overrides into a TrainConfig."""
    return resolve(_read_toml(path), parse_overrides(overrides or []))


def load_eval(path: str | Path | None = None, overrides: list[str] | None = None,
              values: dict[str, Any] | None = None) -> EvalConfig:
    """An EvalConfig from defaults <- TOML file `path` <- `--set key=value` overrides <- `values`
    (command-line flags that were given). Every value is validated by EvalConfig itself."""
    merged: dict[str, Any] = {}
    if path is not None:
        for key, value in _read_toml(path).items():
            _check_key(key, EvalConfig)
            merged[key] = value
    merged.update(parse_overrides(overrides or [], EvalConfig))
    merged.update(values or {})
    return EvalConfig(**{k: _coerce(k, v, EvalConfig) for k, v in merged.items()})


def from_json(path: str | Path) -> TrainConfig:
    return resolve(json.loads(Path(path).read_text()))
