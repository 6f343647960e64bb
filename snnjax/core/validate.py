"""Every user-facing value is checked here, before any expensive work and before anything is
written: each check raises `ValidationError` naming the bad value and what is allowed.

The commands (`snnjax.cli`) and the Python API (`experiment.run_grid`, `latency.run`,
`benchmark.run`, `snn.simulate`, `convert.convert`) call these same functions.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

# The paper's largest T is 500 and latency studies go to 1,000; 10,000 steps of a Nature-DQN
# SNN is already minutes per decision batch on a CPU.
MAX_TIME_STEPS = 10_000
# Upper bounds of counts, so that a typo (1e8 episodes) fails at once instead of running until
# killed. Episodes run one env each, all at once: 4,096 envs of Atari is ~16 GB of emulators.
# Calibration frames are kept in memory (28 KB each): 100,000 frames = 2.8 GB (the paper: 15,000).
# Episode cap: 27,000 agent steps = 108,000 frames = ALE's 30-minute limit (the paper: 4,500).
MAX_EPISODES = 4_096
MAX_CALIBRATION_FRAMES = 100_000
MAX_EPISODE_STEPS = 27_000


class ValidationError(ValueError):
    """A bad value given by the user."""


def time_steps(values: int | Iterable[int], name: str = "time steps T") -> list[int]:
    """Integers in [1, MAX_TIME_STEPS]; returns them sorted and de-duplicated."""
    vals = [values] if isinstance(values, (int, np.integer, float, str)) else list(values)
    out = []
    for v in vals:
        try:
            t = int(v)
            ok = float(v) == t
        except (TypeError, ValueError):
            ok = False
        if not ok or not 1 <= t <= MAX_TIME_STEPS:
            raise ValidationError(f"{name} must be integers in [1, {MAX_TIME_STEPS}], got {v!r}")
        out.append(t)
    if not out:
        raise ValidationError(f"{name}: at least one value is needed")
    return sorted(set(out))


def percentile(p) -> float:
    """A percentile in (0, 100]."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValidationError(f"percentile must be a number in (0, 100], got {p!r}") from None
    if math.isnan(p) or not 0.0 < p <= 100.0:
        raise ValidationError(f"percentile must be in (0, 100], got {p}")
    return p


def percentiles(values: Iterable) -> list[float]:
    out = sorted({percentile(p) for p in values})
    if not out:
        raise ValidationError("percentiles: at least one value is needed")
    return out


def count(value, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum]."""
    try:
        v = int(value)
        ok = float(value) == v
    except (TypeError, ValueError):
        ok = False
    if not ok or v < minimum or (maximum is not None and v > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValidationError(f"{name} must be an integer {allowed}, got {value!r}")
    return v


def probability(value, name: str) -> float:
    v = float(value)
    if math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ValidationError(f"{name} must be in [0, 1], got {value!r}")
    return v


def finite(value, name: str) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValidationError(f"{name} must be finite, got {value!r}")
    return v


def positive(value, name: str) -> float:
    v = finite(value, name)
    if v <= 0:
        raise ValidationError(f"{name} must be > 0, got {value!r}")
    return v


def finite_array(x, name: str = "observations") -> None:
    """No NaN or inf in a concrete array (uint8 arrays always pass)."""
    a = np.asarray(x)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValidationError(f"{name} hold {bad} NaN/inf values; snnjax needs finite inputs")


NETWORKS = ("nature", "mlp")


def qnetwork_meta(meta, source: str) -> dict:
    """The `__meta__` of a Q-network file: a JSON object with network in NETWORKS, num_actions an
    integer >= 1, obs_shape a list of positive integers and, if present, layers a list of names."""
    if not isinstance(meta, dict):
        raise ValidationError(f"{source}: its metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("network") not in NETWORKS:
        raise ValidationError(f"{source}: metadata network must be one of {NETWORKS}, got {meta.get('network')!r}")
    n = meta.get("num_actions")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValidationError(f"{source}: metadata num_actions must be an integer >= 1, got {n!r}")
    shape = meta.get("obs_shape")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape)):
        raise ValidationError(f"{source}: metadata obs_shape must be a list of positive integers, got {shape!r}")
    layers = meta.get("layers", [])
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise ValidationError(f"{source}: metadata layers must be a list of layer names, got {layers!r}")
    return meta


def weight_array(x: np.ndarray, name: str, source: str, kind: str = "float") -> np.ndarray:
    """A stored weight array: kind "float" (real floating point), "int8" (exactly int8) or
    "scale" (real floating point, > 0)."""
    x = np.asarray(x)
    if kind == "int8":
        if x.dtype != np.int8:
            raise ValidationError(f"{source}: {name} must be stored as int8, got {x.dtype} "
                                  f"(values {x.min() if x.size else 0}..{x.max() if x.size else 0})")
    elif not np.issubdtype(x.dtype, np.floating):
        raise ValidationError(f"{source}: {name} must be real floating point, got {x.dtype}")
    elif kind == "scale" and not bool(np.all(x > 0)):
        raise ValidationError(f"{source}: {name} must be > 0 (per-channel int8 scales)")
    return x
