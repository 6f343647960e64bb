"""Checkpoints: the only module that imports orbax.

Two formats:
- Training checkpoints (orbax CheckpointManager, one folder per step under `RUN/checkpoints`):
  the whole trainer state (params, target params, optimizer state, counters, JAX RNG key) and
  JSON metadata (resolved config, log position, numpy RNG state). Used by `--resume`.
- Q-network files (`.npz`, ~7 MB float32 for the Nature-DQN): the final network only, with
  keys `<layer>/kernel`, `<layer>/bias` and `__meta__` (JSON: network kind, action count,
  env id, layer order). This is what `convert` and `evaluate` load and what `models/` ships.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or does not fit."""


def _manager(directory: Path, max_to_keep: int = 2):
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        directory.absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True),
    )


def save_train_state(directory: str | Path, step: int, state: Any, meta: dict) -> None:
    """Save trainer `state` (a pytree of arrays) and JSON-able `meta` at `step`; blocks."""
    import orbax.checkpoint as ocp

    mngr = _manager(Path(directory))
    mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                            meta=ocp.args.JsonSave(meta)))
    mngr.wait_until_finished()
    mngr.close()


def latest_step(directory: str | Path) -> int | None:
    directory = Path(directory)
    if not directory.is_dir():
        return None
    mngr = _manager(directory)
    step = mngr.latest_step()
    mngr.close()
    return step


def restore_train_state(directory: str | Path, abstract_state: Any, step: int | None = None):
    """Restore (state, meta) with the structure of `abstract_state`; CheckpointError if absent."""
    import orbax.checkpoint as ocp

    directory = Path(directory)
    step = latest_step(directory) if step is None else step
    if step is None:
        raise CheckpointError(f"no checkpoint found in {str(directory)!r}")
    mngr = _manager(directory)
    try:
        out = mngr.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()))
    except Exception as exc:  # noqa: BLE001 - orbax raises many types for a bad folder
        raise CheckpointError(f"checkpoint {str(directory)!r} step {step} is unreadable or "
                              f"does not match this config: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        mngr.close()
    return out.state, out.meta


def save_qnetwork(path: str | Path, params: dict, meta: dict) -> Path:
    """Write Q-network `params` ({layer: {kernel, bias}}) and `meta` to an `.npz` file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{layer}/{name}": np.asarray(v, np.float32)
              for layer, p in params.items() for name, v in p.items()}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def load_qnetwork(path: str | Path) -> tuple[dict, dict]:
    """Load (params, meta) from a Q-network file; accepts a run folder (uses `RUN/qnetwork.npz`).

    Raises CheckpointError for a missing, truncated or foreign file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "qnetwork.npz"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found (expected a Q-network .npz "
                              "written by `snnjax train`, or its run folder)")
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            params: dict = {}
            for key in data.files:
                if key == "__meta__":
                    continue
                layer, name = key.split("/")
                params.setdefault(layer, {})[name] = jax.numpy.asarray(data[key])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a snnjax Q-network: "
                              f"{type(exc).__name__}: {exc}") from None
    missing = [n for n in meta.get("layers", []) if n not in params]
    if missing or "num_actions" not in meta or "network" not in meta:
        raise CheckpointError(f"checkpoint {str(path)!r} lacks layers {missing} or metadata")
    return params, meta
