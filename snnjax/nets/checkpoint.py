"""Checkpoints: the only module that imports orbax.

Two formats:
- Training checkpoints (orbax CheckpointManager, one folder per step under `RUN/checkpoints`):
  the whole trainer state (params, target params, optimizer state, counters, JAX RNG key) and
  JSON metadata (resolved config, log position, numpy RNG state). Used by `--resume`.
- Q-network files (`.npz`): the final network only, with keys `<layer>/bias` and `__meta__`
  (JSON: network kind, action count, env id, layer order) and either
    `<layer>/kernel`        float32 (what `snnjax train` writes; ~7 MB for the Nature-DQN), or
    `<layer>/kernel_int8`   int8 [..., out] and `<layer>/kernel_scale` float32 [out]: symmetric
                            per-output-channel quantization, kernel = kernel_int8 * kernel_scale
                            (what `models/` ships: ~1.7 MB, the precision of neuromorphic chips).
  Loading always gives float32 kernels, so an int8 file IS the network every table evaluates.
  This is what `convert` and `evaluate` load.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import numpy as np

from snnjax.core import validate
from snnjax.core.io import atomic_write
from snnjax.core.validate import ValidationError


class CheckpointError(ValidationError):
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


def quantize_int8(kernel) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 quantization of a kernel [..., out].

    scale[o] = max |kernel[..., o]| / 127 (1 for an all-zero channel); q = round(kernel / scale)
    in [-127, 127]. Returns (q int8 [..., out], scale float32 [out]); q * scale is within
    scale / 2 of the kernel.
    """
    k = np.asarray(kernel, np.float32)
    amax = np.abs(k.reshape(-1, k.shape[-1])).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(k / scale), -127, 127).astype(np.int8)
    return q, scale


def dequantize_int8(q, scale) -> np.ndarray:
    """kernel = q * scale in float32 (exact: |q| <= 127 has 7 bits, the product one rounding)."""
    return np.asarray(q, np.float32) * np.asarray(scale, np.float32)


def save_qnetwork(path: str | Path, params: dict, meta: dict, int8: bool = False) -> Path:
    """Write Q-network `params` ({layer: {kernel, bias}}) and `meta` to an `.npz` file.

    int8=True stores every kernel as int8 with per-output-channel float32 scales (compressed
    file); biases stay float32. The write is atomic (temp file, fsync, rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for layer, p in params.items():
        for name, v in p.items():
            if int8 and name == "kernel":
                arrays[f"{layer}/kernel_int8"], arrays[f"{layer}/kernel_scale"] = quantize_int8(v)
            else:
                arrays[f"{layer}/{name}"] = np.asarray(v, np.float32)
    meta = dict(meta, weights="int8-per-output-channel" if int8 else "float32")
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return atomic_write(path, lambda f: (np.savez_compressed if int8 else np.savez)(f, **arrays))


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
    source = f"checkpoint {str(path)!r}"
    try:
        with np.load(path) as data:
            meta = validate.qnetwork_meta(json.loads(bytes(data["__meta__"]).decode()), source)
            params: dict = {}
            for key in data.files:
                if key == "__meta__" or key.endswith("/kernel_scale"):
                    continue
                layer, name = key.split("/")
                if name == "kernel_int8":
                    if f"{layer}/kernel" in data.files:
                        raise ValidationError(f"{source}: {layer} holds both a float and an int8 kernel")
                    q = validate.weight_array(data[key], key, source, "int8")
                    scale = validate.weight_array(data[f"{layer}/kernel_scale"], f"{layer}/kernel_scale", source, "scale")
                    name, value = "kernel", dequantize_int8(q, scale)
                else:
                    value = validate.weight_array(data[key], key, source)
                params.setdefault(layer, {})[name] = jax.numpy.asarray(value)
    except ValidationError as exc:
        raise CheckpointError(str(exc)) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError, UnicodeDecodeError,
            TypeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or not a snnjax Q-network: "
                              f"{type(exc).__name__}: {exc}") from None
    missing = [n for n in meta.get("layers", []) if n not in params]
    if missing or "num_actions" not in meta or "network" not in meta:
        raise CheckpointError(f"checkpoint {str(path)!r} lacks layers {missing} or metadata")
    check_architecture(path, params, meta)
    return params, meta


def check_architecture(path, params: dict, meta: dict) -> None:
    """Every kernel and bias has the shape the named architecture needs, and is finite."""
    from snnjax.nets.models import network_from_meta

    try:
        net = network_from_meta(meta)
        obs_shape = tuple(int(x) for x in meta["obs_shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has unusable metadata: {exc}") from None
    dummy = jax.ShapeDtypeStruct((1, *obs_shape), np.uint8 if len(obs_shape) == 3 else np.float32)
    want = jax.eval_shape(lambda x: net.init(jax.random.key(0), x), dummy)["params"]
    for layer, arrays in want.items():
        for name, spec in arrays.items():
            got = params.get(layer, {}).get(name)
            if got is None:
                raise CheckpointError(f"checkpoint {str(path)!r} lacks {layer}/{name}")
            if tuple(got.shape) != tuple(spec.shape):
                raise CheckpointError(f"checkpoint {str(path)!r}: {layer}/{name} has shape {tuple(got.shape)}, "
                                      f"the {meta['network']} network needs {tuple(spec.shape)}")
            if not bool(np.all(np.isfinite(np.asarray(got)))):
                raise CheckpointError(f"checkpoint {str(path)!r}: {layer}/{name} holds NaN/inf values")
    extra = sorted(set(params) - set(want))
    if extra:
        raise CheckpointError(f"checkpoint {str(path)!r} has layers {extra} the {meta['network']} network lacks")
