"""Training configuration: a frozen dataclass, loaded from TOML with per-game overrides.

A config file is a flat TOML table of `TrainConfig` fields plus optional per-game tables,
applied when `env_id` matches:

    env_id = "Breakout-v5"
    learning_rate = 1e-4
    [games."Pong-v5"]
    learning_rate = 2e-4

Command-line `--set key=value` overrides come last. Unknown keys are errors naming the key
and the allowed ones; the resolved config is saved beside every run (`config.json`).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from pathlib import Path
from typing import Any

from snnjax.validate import ValidationError


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

    def __post_init__(self):
        positive = ("num_envs", "total_steps", "replay_capacity", "train_every", "batch_size",
                    "target_update_every", "n_step", "checkpoint_every", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_starts", "eps_decay_steps", "eval_episodes", "max_episode_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("eps_start", "eps_end", "eval_eps"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ConfigError(f"optimizer must be 'rmsprop' or 'adam', got {self.optimizer!r}")
        if self.network not in ("nature", "mlp"):
            raise ConfigError(f"network must be 'nature' or 'mlp', got {self.network!r}")
        from snnjax.envs import MAX_RUN_SEED

        if not 0 <= self.seed < MAX_RUN_SEED:
            raise ConfigError(f"seed must be in [0, {MAX_RUN_SEED}) (each seed owns a range of env seeds), "
                              f"got {self.seed}")
        if self.replay_capacity < self.batch_size:
            raise ConfigError(f"replay_capacity {self.replay_capacity} < batch_size {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mlp_hidden"] = list(self.mlp_hidden)
        return d


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _check_key(key: str) -> None:
    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown config key {key!r}{hint}; allowed: {', '.join(FIELDS)}")


def _coerce(key: str, value: Any) -> Any:
    """Convert a TOML value or a `--set` string to the field's type."""
    default = FIELDS[key].default
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
        return tuple(int(v) for v in value)
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


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """['key=value', ...] -> {key: value (as string)}; keys checked."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        key = key.strip()
        _check_key(key)
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


def load(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a TOML config file and `--set key=value` overrides into a TrainConfig."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return resolve(raw, parse_overrides(overrides or []))


def from_json(path: str | Path) -> TrainConfig:
    return resolve(json.loads(Path(path).read_text()))
