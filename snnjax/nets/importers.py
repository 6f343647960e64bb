"""Q-networks trained elsewhere, as snnjax Q-network files (`snnjax import`).

Every supported format is the Nature-DQN (conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1, all VALID;
dense 512; dense A; ReLU) fed 4 stacked 84x84 grayscale frames scaled by 1/255 inside the network,
the architecture snnjax converts. What differs is how each library stores it, and this module maps
each convention explicitly (and writes the mapping into the file's provenance):

| format | file | layer names | kernel layout | flatten order before the dense layer | input |
|---|---|---|---|---|---|
| cleanrl-jax (`dqn_atari_jax.py`) | `flax.serialization.to_bytes(params)` | Conv_0..2, Dense_0..1 | HWIO | H, W, C (NHWC) | [4, 84, 84] uint8, transposed to NHWC, / 255 |
| cleanrl-torch (`dqn_atari.py`) | `torch.save(state_dict)` | network.{0,2,4,7,9} | OIHW | C, H, W (NCHW) | [4, 84, 84], / 255 |
| sb3 (Stable-Baselines3 `DQN("CnnPolicy")`) | the `.zip` of `model.save` (policy.pth) | q_net.features_extractor.cnn.{0,2,4}, .linear.0, q_net.q_net.0 | OIHW | C, H, W | [4, 84, 84] after VecTransposeImage, / 255 |

snnjax's own layout is cleanrl-jax's (HWIO kernels, HWC flatten; `snnjax.nets.models.NatureDQN`),
so a torch model's conv kernels are transposed OIHW -> HWIO, its dense kernels [out, in] -> [in, out],
and the first dense layer's input rows permuted from C, H, W order to H, W, C. The frames of both
libraries' Atari wrappers (NoFrameskip-v4, max-pool over 2 frames, 84x84 grayscale, a stack of 4,
the minimal action set) are what envpool's Atari v5 envs give snnjax, up to the resize
implementation; an action-count mismatch with the game is refused. Dopamine's JAX Nature network
uses SAME padding (an 11x11x64 feature map): a different architecture, not supported.
"""

from __future__ import annotations

import io as _stdio
import zipfile
from pathlib import Path

import numpy as np

from snnjax.core.validate import ValidationError
from snnjax.nets.models import ATARI_OBS_SHAPE, NatureDQN, layer_specs

FORMATS = ("cleanrl-jax", "cleanrl-torch", "sb3")
NAMES = tuple(spec.name for spec in layer_specs(NatureDQN(1)))  # conv1, conv2, conv3, fc1, q
FEATURE_MAP = (7, 7, 64)  # after conv3, H, W, C


class ImportFormatError(ValidationError):
    """A file that is not the format it was named as, or not a Nature-DQN."""


def _torch_state_dict(path: Path, fmt: str) -> dict:
    try:
        import torch
    except ModuleNotFoundError:
        raise ImportFormatError(f"--from {fmt} reads PyTorch files: pip install 'snnjax[torch]'") from None
    try:
        if fmt == "sb3":
            with zipfile.ZipFile(path) as z:
                if "policy.pth" not in z.namelist():
                    raise ImportFormatError(f"{str(path)!r} is a zip without policy.pth: not a Stable-Baselines3 model")
                blob = _stdio.BytesIO(z.read("policy.pth"))
            return torch.load(blob, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except ImportFormatError:
        raise
    except (OSError, RuntimeError, zipfile.BadZipFile, EOFError) as exc:
        raise ImportFormatError(f"{str(path)!r} is not a {fmt} file: {type(exc).__name__}: {exc}") from None


def chw_rows_to_hwc(w: np.ndarray, chw=(64, 7, 7)) -> np.ndarray:
    """Rows of a dense kernel [C*H*W, out] in C, H, W order, reordered to H, W, C order."""
    c, h, wd = chw
    return w.reshape(c, h, wd, -1).transpose(1, 2, 0, 3).reshape(c * h * wd, -1)


def _from_torch(sd: dict, keys: tuple[str, ...], fmt: str) -> dict:
    """snnjax params from a torch state dict; `keys`: the five layers' prefixes, input to output."""
    missing = [f"{k}.weight" for k in keys if f"{k}.weight" not in sd]
    if missing:
        raise ImportFormatError(f"not a {fmt} Nature-DQN: missing {', '.join(missing[:3])}")
    params = {}
    for name, key in zip(NAMES, keys):
        w = np.asarray(sd[f"{key}.weight"].detach().cpu().numpy(), np.float32)
        b = np.asarray(sd[f"{key}.bias"].detach().cpu().numpy(), np.float32)
        if name.startswith("conv"):
            w = w.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        else:
            w = w.T  # [out, in] -> [in, out]
            if name == "fc1":
                w = chw_rows_to_hwc(w, (FEATURE_MAP[2], FEATURE_MAP[0], FEATURE_MAP[1]))
        params[name] = {"kernel": w, "bias": b}
    return params


def _from_cleanrl_jax(path: Path) -> dict:
    import flax.serialization

    try:
        tree = flax.serialization.msgpack_restore(path.read_bytes())
    except Exception as exc:  # msgpack raises its own error types
        raise ImportFormatError(f"{str(path)!r} is not a flax-serialized cleanrl-jax model: {type(exc).__name__}") from None
    tree = tree.get("params", tree) if isinstance(tree, dict) else {}
    keys = ("Conv_0", "Conv_1", "Conv_2", "Dense_0", "Dense_1")
    if not all(isinstance(tree.get(k), dict) and {"kernel", "bias"} <= set(tree[k]) for k in keys):
        raise ImportFormatError(f"{str(path)!r} is not a cleanrl-jax Nature-DQN (expected layers {', '.join(keys)})")
    return {n: {"kernel": np.asarray(tree[k]["kernel"], np.float32), "bias": np.asarray(tree[k]["bias"], np.float32)}
            for n, k in zip(NAMES, keys)}


LAYOUT = {
    "cleanrl-jax": "Conv_0..2/Dense_0..1, HWIO kernels, HWC flatten: taken as they are",
    "cleanrl-torch": "network.{0,2,4,7,9}: OIHW -> HWIO, [out, in] -> [in, out], fc1 rows CHW -> HWC",
    "sb3": "q_net.features_extractor.cnn.{0,2,4}/linear.0, q_net.q_net.0: OIHW -> HWIO, [out, in] -> "
           "[in, out], fc1 rows CHW -> HWC",
}


def read(path: str | Path, fmt: str) -> dict:
    """snnjax params ({conv1, conv2, conv3, fc1, q: {kernel, bias}}) of a Nature-DQN saved in
    `fmt` (one of FORMATS); ImportFormatError for a missing, foreign or mis-shaped file."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ImportFormatError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if not path.is_file():
        raise ImportFormatError(f"{str(path)!r} not found")
    if fmt == "cleanrl-jax":
        params = _from_cleanrl_jax(path)
    elif fmt == "cleanrl-torch":
        params = _from_torch(_torch_state_dict(path, fmt), tuple(f"network.{i}" for i in (0, 2, 4, 7, 9)), fmt)
    else:
        params = _from_torch(_torch_state_dict(path, fmt), (
            "q_net.features_extractor.cnn.0", "q_net.features_extractor.cnn.2", "q_net.features_extractor.cnn.4",
            "q_net.features_extractor.linear.0", "q_net.q_net.0"), fmt)
    expect = {"conv1": (8, 8, 4, 32), "conv2": (4, 4, 32, 64), "conv3": (3, 3, 64, 64), "fc1": (3136, 512)}
    for name, shape in expect.items():
        if params[name]["kernel"].shape != shape:
            raise ImportFormatError(f"{str(path)!r}: {name} kernel is {params[name]['kernel'].shape}, the Nature-DQN "
                               f"needs {shape} (4 stacked 84x84 frames, VALID padding)")
    if params["q"]["kernel"].shape[0] != 512:
        raise ImportFormatError(f"{str(path)!r}: the output layer takes {params['q']['kernel'].shape[0]} inputs, not 512")
    return params


def import_qnetwork(path: str | Path, fmt: str, game: str, out: str | Path) -> dict:
    """Write `out`, a snnjax Q-network file of the model at `path` for `game`; returns its meta."""
    return write(read(path, fmt), path, fmt, game, out)


def write(params: dict, path: str | Path, fmt: str, game: str, out: str | Path) -> dict:
    """Write `out` from `params` (`read` of the file at `path`), with the import's provenance."""
    from snnjax.core.io import file_sha256
    from snnjax.nets.checkpoint import save_qnetwork

    num_actions = int(params["q"]["kernel"].shape[1])
    meta = {"format": "snnjax-qnetwork-v1", "network": "nature", "num_actions": num_actions,
            "obs_shape": list(ATARI_OBS_SHAPE), "env_id": game, "layers": list(NAMES),
            "imported": {"from": fmt, "file": str(path), "sha256": file_sha256(path), "layout": LAYOUT[fmt],
                         "input": "4 stacked 84x84 grayscale uint8 frames, channel-first, / 255 inside the network"}}
    save_qnetwork(out, params, meta)
    return meta
