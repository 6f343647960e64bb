"""Conversion-aware fine-tuning with quantization-clip-floor-shift activations (Bu et al., ICLR
2022, "Optimal ANN-SNN Conversion for High-Accuracy and Ultra-Low-Latency SNNs").

Every hidden ReLU of the Q-network is replaced by the QCFS activation with L levels and a
trainable clip value lambda_l (one per layer, or one per channel):

    h(x) = lambda / L * clip(floor(x * L / lambda + 1/2), 0, L)                  (Bu et al. eq. 13)

The network is trained on frames of the DQN's own play to reproduce the original DQN's Q-values
(distillation, mean squared error); the original DQN stays the reference agent. Gradients pass
the floor by the straight-through estimator, so both the weights and lambda learn.

Conversion (`to_snn`): an IF neuron with threshold lambda_l and V(0) = lambda_l / 2, run for
T = L steps on a constant input x, fires exactly clip(floor(x L / lambda + 1/2), 0, L) times, so
spike count x lambda / T equals h(x) (tested on a grid). In snnjax's normalized form this is
eq. (16) with lambda_l = the clip value and V(0) = V_thr / 2; the output layer keeps the
paper's percentile lambda (its readout, eq. 17, does not depend on it).

Files: `save` writes a Q-network file (`snnjax.nets.checkpoint`, float32) whose metadata holds the
method, L and the clip values; `load` reads it back.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnjax.conversion.normalize import ActivationStats, check_percentile, from_qnetwork, normalize
from snnjax.core.validate import ValidationError
from snnjax.nets.checkpoint import CheckpointError, load_qnetwork, save_qnetwork
from snnjax.snn import SpikingNetwork, layer_current, prepare_input, q_values


class QCFSError(ValidationError):
    """Bad fine-tuning input."""


def qcfs(x: jax.Array, clip: jax.Array, levels: int) -> jax.Array:
    """The QCFS activation with shift 1/2; floor passes gradients straight through."""
    y = x * levels / clip + 0.5
    y = y + jax.lax.stop_gradient(jnp.floor(y) - y)
    return clip / levels * jnp.clip(y, 0.0, levels)


def forward(net: SpikingNetwork, clips, levels: int, obs: jax.Array) -> jax.Array:
    """Q-values [A] of the QCFS network for ONE raw observation: layers in the converter's order
    (`snn.layer_current`), QCFS after every hidden layer, linear output."""
    x = prepare_input(net, obs)
    for l in range(net.num_layers):
        x = layer_current(net, l, x)
        if l < net.num_layers - 1:
            x = qcfs(x, clips[l], levels)
    return x


def initial_clips(net: SpikingNetwork, frames, percentile: float = 99.9, channelwise: bool = False) -> list:
    """Start lambda_l at the p-th percentile of layer l's ReLU activations (the paper's lambda)."""
    lams = ActivationStats(net, frames, percentile, channelwise=channelwise).lambdas(percentile)
    return [jnp.asarray(lam, jnp.float32) for lam in lams[:-1]]


def finetune(ann: SpikingNetwork, frames: np.ndarray, levels: int = 8, steps: int = 2000, batch_size: int = 64,
             learning_rate: float = 1e-4, clip_learning_rate: float = 1e-3, channelwise: bool = False,
             seed: int = 0, progress: bool = False, log=print) -> tuple[SpikingNetwork, list, dict]:
    """Distil the analog network `ann` into a QCFS network with `levels` levels.

    frames: raw observations [N, ...] of the DQN's own play (uint8 Atari stacks).
    Returns (fine-tuned network, clips [per hidden layer], history {"step", "loss", "loss_start",
    "seconds"}). Teacher targets are the original Q-values on the same frames.
    """
    from tqdm.auto import tqdm

    from snnjax.core import validate

    validate.count(levels, "levels", 1, 1024)
    validate.count(steps, "steps", 1)
    validate.count(batch_size, "batch size", 1)
    validate.positive(learning_rate, "learning rate")
    frames = np.asarray(frames)
    validate.finite_array(frames, "fine-tuning frames")
    if len(frames) < batch_size:
        raise QCFSError(f"{len(frames)} frames are fewer than one batch of {batch_size}")
    teacher = jax.jit(jax.vmap(lambda o: q_values(ann, o)))
    targets = np.concatenate([np.asarray(teacher(jnp.asarray(frames[i:i + 256]))) for i in range(0, len(frames), 256)])
    clips0 = initial_clips(ann, frames, channelwise=channelwise)
    params = {"weights": ann.weights, "biases": ann.biases, "log_clips": [jnp.log(c) for c in clips0]}
    opt = optax.multi_transform(
        {"w": optax.adam(learning_rate), "c": optax.adam(clip_learning_rate)},
        {"weights": "w", "biases": "w", "log_clips": "c"})
    opt_state = opt.init(params)

    def loss_fn(p, obs, tgt):
        net = ann.replace(weights=tuple(p["weights"]), biases=tuple(p["biases"]))
        clips = [jnp.exp(c) for c in p["log_clips"]]
        q = jax.vmap(lambda o: forward(net, clips, levels, o))(obs)
        return jnp.mean((q - tgt) ** 2)

    @jax.jit
    def step(p, s, obs, tgt):
        loss, g = jax.value_and_grad(loss_fn)(p, obs, tgt)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    eval_idx = np.random.default_rng(seed + 1).choice(len(frames), min(512, len(frames)), replace=False)
    eval_loss = jax.jit(loss_fn)
    loss_start = float(eval_loss(params, jnp.asarray(frames[eval_idx]), jnp.asarray(targets[eval_idx])))
    rng = np.random.default_rng(seed)
    hist = {"step": [], "loss": [], "loss_start": loss_start}
    t0 = time.perf_counter()
    bar = tqdm(total=steps, unit="step", desc=f"QCFS fine-tuning, L={levels}", disable=None if progress else True)
    for i in range(steps):
        idx = rng.integers(0, len(frames), batch_size)
        params, opt_state, loss = step(params, opt_state, jnp.asarray(frames[idx]), jnp.asarray(targets[idx]))
        if (i + 1) % max(1, steps // 20) == 0 or i + 1 == steps:
            hist["step"].append(i + 1)
            hist["loss"].append(float(eval_loss(params, jnp.asarray(frames[eval_idx]), jnp.asarray(targets[eval_idx]))))
            bar.set_postfix(loss=f"{hist['loss'][-1]:.4g}", refresh=False)
        bar.update(1)
    bar.close()
    hist["seconds"] = time.perf_counter() - t0
    log(f"QCFS L={levels}: distillation loss {loss_start:.4g} -> {hist['loss'][-1]:.4g} in {steps} steps "
        f"({hist['seconds']:.0f} s)")
    tuned = ann.replace(weights=tuple(params["weights"]), biases=tuple(params["biases"]))
    return tuned, [jnp.exp(c) for c in params["log_clips"]], hist


def to_snn(tuned: SpikingNetwork, clips, frames, output_percentile: float = 99.9) -> SpikingNetwork:
    """The spiking network of a fine-tuned QCFS network: eq. (16) with lambda_l = clip_l for every
    hidden layer, V_thr = 1 (simulate it with initial_potential=0.5 and T = L); the output layer's
    lambda is the percentile of its positive Q-values on `frames`, as in the paper's method."""
    method = QCFS(tuned, tuple(clips), 0)
    return method.build(tuned, method.calibrate(tuned, frames, [output_percentile]), output_percentile)


def save(path: str | Path, tuned: SpikingNetwork, clips, meta: dict, levels: int, history: dict) -> Path:
    """A Q-network file of the fine-tuned weights; its metadata holds the method, L and clips."""
    params = {n: {"kernel": np.asarray(w), "bias": np.asarray(b)}
              for n, w, b in zip(tuned.names, tuned.weights, tuned.biases)}
    meta = dict(meta, method="qcfs", levels=int(levels), clips=[np.asarray(c).tolist() for c in clips],
                finetune=json.loads(json.dumps(history)))
    return save_qnetwork(path, params, meta)


def load(path: str | Path) -> tuple[SpikingNetwork, list, int, dict]:
    """(fine-tuned analog network, clips, L, meta) of a file written by `save`."""
    params, meta = load_qnetwork(path)
    if meta.get("method") != "qcfs":
        raise CheckpointError(f"{str(path)!r} is not a QCFS network (write one with `snnjax finetune`)")
    net = from_qnetwork(params, meta)
    clips = [jnp.asarray(c, jnp.float32) for c in meta["clips"]]
    return net, clips, int(meta["levels"]), meta


@dataclasses.dataclass(frozen=True)
class QCFS:
    """The conversion of a QCFS fine-tuned network: lambda_l = clip_l for every hidden layer."""

    tuned: SpikingNetwork
    clips: tuple
    levels: int
    env_id: str = ""  # the game it was fine-tuned on
    initial_potential: float = 0.5
    name: str = "qcfs"

    @classmethod
    def load(cls, path: str | Path) -> "QCFS":
        tuned, clips, levels, meta = load(path)
        return cls(tuned, tuple(clips), levels, meta["env_id"])

    def calibrate(self, ann: SpikingNetwork, frames, percentiles: Sequence[float]) -> ActivationStats:
        return ActivationStats(self.tuned, frames, min(check_percentile(p) for p in percentiles))

    def calibration_key(self) -> tuple:
        return ("qcfs", id(self.tuned))

    def build(self, ann: SpikingNetwork, cal: ActivationStats, percentile: float) -> SpikingNetwork:
        return normalize(self.tuned, [*self.clips, cal.lambdas(percentile)[-1]], 1.0, percentile)
