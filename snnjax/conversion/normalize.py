"""DQN -> SNN conversion by data-based normalization (Tan et al. 2021, eq. 16).

For every layer l (the output layer included) lambda_l is the p-th percentile of its ReLU
activations over calibration observations, pooled over neurons and frames (as the paper does;
p = 100 is the max-norm of Diehl et al. 2015); lambda_0 = 1 for the [0, 1] input. Then
  w_l <- w_l * lambda_{l-1} / lambda_l,   b_l <- b_l / lambda_l.            (eq. 16)
Channel-wise normalization (Kim et al. 2020) uses one lambda per output channel of each hidden
layer; the output layer always gets one lambda, because per-action scales would reorder the
Q-values. The output layer is linear, so its lambda is the percentile of its positive part;
if it has none, of its magnitude.

Percentiles are exact (numpy's "linear" method): a streaming top-k keeps only the values above
the lowest percentile asked for, so 15,000 Nature-DQN frames at p >= 99 need ~O(100 MB).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core import validate
from snnjax.core.io import atomic_write
from snnjax.core.validate import ValidationError, finite_array
from snnjax.nets.models import LayerSpec, input_scale, layer_specs, network_from_meta
from snnjax.snn import KINDS, SpikingNetwork, ann_forward, prepare_input, q_values, with_int8_if_exact


class ConvertError(ValidationError):
    """Bad conversion input: percentile, calibration set, layer kinds."""


def check_percentile(p: float) -> float:
    try:
        return validate.percentile(p)
    except ValidationError as exc:
        raise ConvertError(str(exc)) from None


def from_params(params: dict, specs: Sequence[LayerSpec], obs_shape, input_layout: str,
                scale: float) -> SpikingNetwork:
    """The un-normalized network (lambda = 1 everywhere, V_thr = 1) in explicit layer order."""
    for s in specs:
        if s.kind not in KINDS:
            raise ConvertError(f"layer {s.name!r} has kind {s.kind!r} the converter does not know; "
                               f"allowed: {', '.join(KINDS)}")
        if s.name not in params:
            raise ConvertError(f"layer {s.name!r} missing from the parameters ({sorted(params)})")
    return SpikingNetwork(
        weights=tuple(jnp.asarray(params[s.name]["kernel"], jnp.float32) for s in specs),
        biases=tuple(jnp.asarray(params[s.name]["bias"], jnp.float32) for s in specs),
        v_thr=jnp.float32(1.0), lambdas=tuple(jnp.float32(1.0) for _ in specs),
        names=tuple(s.name for s in specs), kinds=tuple(s.kind for s in specs),
        strides=tuple(s.stride for s in specs), obs_shape=tuple(obs_shape),
        input_layout=input_layout, input_scale=float(scale), percentile=jnp.float32(100.0))


def from_qnetwork(params: dict, meta: dict) -> SpikingNetwork:
    """The analog network of a Q-network file's (params, meta), as a SpikingNetwork."""
    network = network_from_meta(meta)
    obs_shape = tuple(meta["obs_shape"])
    layout = "chw" if meta["network"] == "nature" else "flat"
    return from_params(params, layer_specs(network), obs_shape, layout, input_scale(network))


class TopK:
    """Exact streaming percentiles of a stream of values per column.

    Keeps the k largest values of each of C columns, where k covers every percentile >= p_min of
    n_total values (numpy "linear" interpolation needs ranks floor(h) and floor(h)+1,
    h = (n - 1) p / 100).
    """

    def __init__(self, n_total: int, p_min: float, columns: int = 1):
        self.n = int(n_total)
        lo = math.floor((self.n - 1) * p_min / 100.0)
        self.k = max(1, min(self.n, self.n - lo))
        self.buf = np.zeros((0, columns), np.float32)
        self.seen = 0

    def update(self, x: np.ndarray) -> None:
        """x [m, C]: the next m values of every column."""
        self.seen += x.shape[0]
        cat = np.concatenate([self.buf, np.asarray(x, np.float32)], axis=0)
        if cat.shape[0] > self.k:
            cat = np.partition(cat, cat.shape[0] - self.k, axis=0)[cat.shape[0] - self.k:]
        self.buf = cat

    def percentile(self, p: float) -> np.ndarray:
        """Per-column p-th percentile [C], equal to np.percentile(all values, p, axis=0)."""
        if self.seen != self.n:
            raise ConvertError(f"expected {self.n} values per column, saw {self.seen}")
        h = (self.n - 1) * p / 100.0
        lo = math.floor(h)
        top = np.sort(self.buf, axis=0)  # values of ranks n-k .. n-1
        i = lo - (self.n - self.k)
        if i < 0:
            raise ConvertError(f"percentile {p} is below the lowest one prepared for")
        x_lo = top[i].astype(np.float64)
        x_hi = top[min(i + 1, self.k - 1)].astype(np.float64)
        return x_lo + (h - lo) * (x_hi - x_lo)


class ActivationStats:
    """Per-layer streaming percentile statistics of a network's activations on calibration data.

    Collected once; `lambdas(p)` then gives every layer's scale for any p >= p_min, so a sweep
    over percentiles costs one pass over the calibration set.
    """

    def __init__(self, net: SpikingNetwork, obs, p_min: float = 99.0, channelwise: bool = False,
                 batch_size: int = 256):
        check_percentile(p_min)
        obs = np.asarray(obs)
        if obs.ndim != len(net.obs_shape) + 1 or tuple(obs.shape[1:]) != tuple(net.obs_shape):
            raise ConvertError(f"calibration observations must have shape [N, {', '.join(map(str, net.obs_shape))}], "
                               f"got {obs.shape}")
        if obs.shape[0] == 0:
            raise ConvertError("the calibration set is empty; give at least one observation")
        try:
            finite_array(obs, "calibration observations")
        except ValidationError as exc:
            raise ConvertError(str(exc)) from None
        bad = [n for n, w, b in zip(net.names, net.weights, net.biases)
               if not (np.all(np.isfinite(np.asarray(w))) and np.all(np.isfinite(np.asarray(b))))]
        if bad:
            raise ConvertError(f"layers {bad} hold NaN/inf weights or biases; nothing to convert")
        self.net, self.p_min, self.channelwise = net, p_min, channelwise
        self.num_frames = int(obs.shape[0])
        shapes = net.layer_shapes()
        last = net.num_layers - 1
        self.stats = []
        for l, s in enumerate(shapes):
            per_frame = int(np.prod(s))
            cols = s[-1] if (channelwise and l < last) else 1
            self.stats.append(TopK(self.num_frames * per_frame // cols, p_min, cols))
        fwd = jax.jit(jax.vmap(lambda o: ann_forward(net, prepare_input(net, o))))
        for i in range(0, self.num_frames, batch_size):
            acts = fwd(jnp.asarray(obs[i:i + batch_size]))
            for l, a in enumerate(acts):
                a = np.asarray(a)
                if l == last:
                    a = np.maximum(a, 0.0)
                cols = self.stats[l].buf.shape[1]
                self.stats[l].update(a.reshape(-1, cols) if cols > 1 else a.reshape(-1, 1))
        # Output layer fallback: its magnitude, if no positive Q-value at all was seen.
        self._out_abs = None
        if self.stats[last].percentile(100.0)[0] <= 0:
            self._out_abs = TopK(self.stats[last].n, p_min, 1)
            for i in range(0, self.num_frames, batch_size):
                q = np.asarray(fwd(jnp.asarray(obs[i:i + batch_size]))[last])
                self._out_abs.update(np.abs(q).reshape(-1, 1))

    def lambdas(self, p: float) -> list[np.ndarray]:
        """lambda_l for every layer at percentile p: scalars, or [C] per channel."""
        check_percentile(p)
        if p < self.p_min:
            raise ConvertError(f"percentile {p} below the p_min={self.p_min} these statistics keep")
        out = []
        last = self.net.num_layers - 1
        for l, st in enumerate(self.stats):
            lam = st.percentile(p)
            if l == last and self._out_abs is not None:
                lam = self._out_abs.percentile(p)
            # A silent channel (lambda 0) would divide by zero: leave it unscaled.
            lam = np.where(lam > 0, lam, 1.0)
            out.append(lam[0] if lam.shape[0] == 1 else lam)
        return out


def normalize(net: SpikingNetwork, lambdas: Sequence, v_thr: float = 1.0,
              percentile: float = 100.0) -> SpikingNetwork:
    """Eq. (16): w_l <- w_l lambda_{l-1} / lambda_l, b_l <- b_l / lambda_l (lambda_0 = 1).

    lambdas[l] is a scalar or a vector over layer l's output channels. For a dense layer after
    a conv map the previous layer's channel scales are tiled over the H*W positions (C-order
    flattening, channels fastest).

    Where every layer's weights factor as int8 x a per-output-channel scale (an int8 Q-network
    with one lambda per layer, or a QCFS network with per-layer thresholds) the result carries
    that factorization (`snn.to_int8`) and simulates on int8 arithmetic; channel-wise lambdas
    (a scale per input channel) do not factor and stay float32.
    """
    if not v_thr > 0:
        raise ConvertError(f"v_thr must be > 0, got {v_thr}")
    weights, biases = [], []
    prev = np.float32(1.0)
    for l in range(net.num_layers):
        w = np.asarray(net.weights[l], np.float64)
        lam = np.asarray(lambdas[l], np.float64)
        prev_in = np.asarray(prev, np.float64)
        if prev_in.ndim == 1 and net.kinds[l] == "dense" and w.shape[0] != prev_in.shape[0]:
            prev_in = np.tile(prev_in, w.shape[0] // prev_in.shape[0])
        if net.kinds[l] == "conv":
            w = w * prev_in.reshape((1, 1, -1, 1)) if prev_in.ndim else w * prev_in
        else:
            w = w * (prev_in[:, None] if prev_in.ndim else prev_in)
        weights.append(jnp.asarray(w / lam, jnp.float32))
        biases.append(jnp.asarray(np.asarray(net.biases[l], np.float64) / lam, jnp.float32))
        prev = lam
    return with_int8_if_exact(net.replace(
        weights=tuple(weights), biases=tuple(biases), v_thr=jnp.float32(v_thr),
        lambdas=tuple(jnp.asarray(x, jnp.float32) for x in lambdas), percentile=jnp.float32(percentile),
        int8=()))


def convert(net: SpikingNetwork, calibration_obs, percentile: float = 99.9, v_thr: float = 1.0,
            channelwise: bool = False, batch_size: int = 256) -> SpikingNetwork:
    """Convert an analog network (see `from_qnetwork`) to an SNN by p-th percentile normalization.

    calibration_obs: raw observations [N, *obs_shape] (the paper uses up to 15,000 frames).
    """
    check_percentile(percentile)
    stats = ActivationStats(net, calibration_obs, percentile, channelwise, batch_size)
    return normalize(net, stats.lambdas(percentile), v_thr, percentile)


SNN_FORMAT = "snnjax-snn-v1"


def save_snn(path, net: SpikingNetwork, extra: dict | None = None):
    """Write a converted network as a portable `.npz` (loadable without snnjax).

    Keys: format; layer_order (names, input to output); for each layer NAME:
    NAME/kind ("conv" HWIO kernel, VALID padding | "dense" [in, out], input flattened H,W,C),
    NAME/weight, NAME/bias, NAME/stride, NAME/padding, NAME/lambda (eq. 16 scale);
    v_thr; percentile; obs_shape; input_layout ("chw": obs is C,H,W, transpose to H,W,C |
    "flat"); input_scale (raw obs x scale = input current a_0 in [0, 1]); neuron
    ("IF, reset by subtraction, spike when V >= v_thr, no leak"); meta (JSON).
    """
    import json
    from pathlib import Path

    arrays = {"format": np.array(SNN_FORMAT), "layer_order": np.array(net.names),
              "v_thr": np.float32(net.v_thr), "percentile": np.float32(net.percentile),
              "obs_shape": np.array(net.obs_shape, np.int64), "input_layout": np.array(net.input_layout),
              "input_scale": np.float64(net.input_scale),
              "neuron": np.array("IF, reset by subtraction, spike when V >= v_thr, no leak, no refractory"),
              "meta": np.array(json.dumps(extra or {}))}
    for l, name in enumerate(net.names):
        arrays[f"{name}/kind"] = np.array(net.kinds[l])
        arrays[f"{name}/weight"] = np.asarray(net.weights[l], np.float32)
        arrays[f"{name}/bias"] = np.asarray(net.biases[l], np.float32)
        arrays[f"{name}/stride"] = np.int64(net.strides[l])
        arrays[f"{name}/padding"] = np.array("VALID")
        arrays[f"{name}/lambda"] = np.asarray(net.lambdas[l], np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_snn(path) -> SpikingNetwork:
    """Read a network written by `save_snn` (with its int8 factorization where the weights
    factor, as `normalize` gives it); ConvertError if it is not one."""
    import zipfile
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"SNN file {str(path)!r} not found")
    try:
        with np.load(path) as d:
            if str(d["format"]) != SNN_FORMAT:
                raise ConvertError(f"{str(path)!r} has format {str(d['format'])!r}, expected {SNN_FORMAT!r}")
            names = tuple(str(n) for n in d["layer_order"])
            return with_int8_if_exact(SpikingNetwork(
                weights=tuple(jnp.asarray(d[f"{n}/weight"]) for n in names),
                biases=tuple(jnp.asarray(d[f"{n}/bias"]) for n in names),
                v_thr=jnp.float32(d["v_thr"]), lambdas=tuple(jnp.asarray(d[f"{n}/lambda"]) for n in names),
                percentile=jnp.float32(d["percentile"]), names=names,
                kinds=tuple(str(d[f"{n}/kind"]) for n in names),
                strides=tuple(int(d[f"{n}/stride"]) for n in names),
                obs_shape=tuple(int(x) for x in d["obs_shape"]), input_layout=str(d["input_layout"]),
                input_scale=float(d["input_scale"])))
    except (KeyError, ValueError, OSError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ConvertError):
            raise
        raise ConvertError(f"SNN file {str(path)!r} is corrupt: {type(exc).__name__}: {exc}") from None


def auto_percentile(net: SpikingNetwork, calibration_obs, time_steps: int = 50,
                    candidates=(99.0, 99.9, 99.99, 99.999, 100.0), readout: str = "robust",
                    n_eval: int = 256, channelwise: bool = False, v_thr: float = 1.0,
                    initial_potential: float = 0.0, stats: "ActivationStats | None" = None
                    ) -> tuple[float, dict[float, float]]:
    """Pick the percentile whose SNN agrees most with the ANN's greedy action at T = time_steps.

    The paper found p "very sensitive" and tuned it by hand; this tunes it on calibration frames:
    one statistics pass, then every candidate simulated on `n_eval` evenly spaced frames.
    Returns (best p, {p: conversion rate}); ties go to the larger p. `stats`: statistics of
    these frames already collected (with p_min <= every candidate), reused.
    """
    from snnjax.snn import simulate
    from snnjax.snn.readout import check_readout

    check_readout(readout)
    candidates = sorted(check_percentile(p) for p in candidates)
    obs = np.asarray(calibration_obs)
    if stats is None:
        stats = ActivationStats(net, obs, candidates[0], channelwise)
    idx = np.linspace(0, len(obs) - 1, min(n_eval, len(obs))).astype(int)
    sample = jnp.asarray(obs[idx])
    q = jax.vmap(lambda o: q_values(net, o))(sample)
    target = np.asarray(jnp.argmax(q, -1))
    rates = {}
    for p in candidates:
        snn = normalize(net, stats.lambdas(p), v_thr, p)
        res = simulate(snn, sample, time_steps, initial_potential=initial_potential)
        rates[p] = float((np.asarray(res.actions(readout)) == target).mean())
    best = max(candidates, key=lambda p: (rates[p], p))
    return best, rates
