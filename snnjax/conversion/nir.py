"""Export a converted SNN to NIR (the Neuromorphic Intermediate Representation) and back.

Graph: input -> [Conv2d | Affine] -> IF -> ... -> Flatten (before the first dense layer after a
conv) -> Affine -> IF -> output. Conventions of NIR, unbatched:
- Conv2d weights are OIHW (ours HWIO), padding 0 (VALID), dilation 1, groups 1.
- Feature maps are [C, H, W]; Flatten runs over the unbatched [C, H, W] shape (start_dim 0),
  so the first Affine after a conv has its inputs reordered from our H, W, C to C, H, W.
- IF nodes: r = 1, v_threshold = V_thr, v_reset = 0 (where the installed nir has the field).
What NIR cannot say goes into the graph metadata: reset by subtraction (not to v_reset), a
spike when V >= V_thr, the time steps T, the observation enters as a constant analog current
(scaled by input_scale; CHW -> the first conv), and the readout of the output layer.
Sinabs 3.1.3 (`sinabs.from_nir`) runs the graph; with its IF layers set to one spike a step and no
lower bound on V it reproduces snnjax's spike counts exactly (`bench/nir_sinabs.py`, a slow test);
as imported (multi-spike, clamped at -V_thr) it drifts. snnTorch 1.0.0's importer turns an IF
node into a leaky neuron (beta = 0.9) and fails on a Conv2d + IF graph.

Needs the optional `nir` package: pip install "snnjax[nir]".
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from snnjax.snn import SpikingNetwork

META_KEYS = ("reset", "spike_condition", "time_steps", "input", "input_scale", "input_layout",
             "readout", "obs_shape", "percentile", "layer_order", "strides")


def if_fields(nir) -> tuple[str, ...]:
    """The IF node's fields in the installed nir (v_reset came with nir 1.0.5; Sinabs pins 1.0.4)."""
    import dataclasses

    return tuple(f.name for f in dataclasses.fields(nir.IF))


def _chw(shape_hwc):
    return (shape_hwc[2], shape_hwc[0], shape_hwc[1]) if len(shape_hwc) == 3 else tuple(shape_hwc)


def to_nir(net: SpikingNetwork, time_steps: int = 500, readout: str = "robust"):
    """Build a `nir.NIRGraph` of `net` (see module doc for conventions)."""
    import nir

    shapes = net.layer_shapes()
    in_shape = tuple(net.obs_shape)  # CHW for Atari, [D] for vectors
    nodes = {"input": nir.Input(input_type={"input": np.array(in_shape)})}
    edges, prev, prev_shape = [], "input", in_shape
    v_thr = float(net.v_thr)
    for l, name in enumerate(net.names):
        w = np.asarray(net.weights[l], np.float32)
        b = np.asarray(net.biases[l], np.float32)
        if net.kinds[l] == "conv":
            nodes[name] = nir.Conv2d(input_shape=tuple(int(x) for x in prev_shape[1:]),
                                     weight=np.transpose(w, (3, 2, 0, 1)), stride=net.strides[l],
                                     padding=0, dilation=1, groups=1, bias=b)
        else:
            if len(prev_shape) == 3:  # flatten a [C, H, W] map; reorder dense inputs H,W,C -> C,H,W
                c, h, wd = prev_shape
                nodes[f"{name}_flatten"] = nir.Flatten(input_type={"input": np.array(prev_shape)}, start_dim=0)
                edges.append((prev, f"{name}_flatten"))
                prev = f"{name}_flatten"
                w = w.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(c * h * wd, -1)
                prev_shape = (c * h * wd,)
            nodes[name] = nir.Affine(weight=w.T.copy(), bias=b)
        edges.append((prev, name))
        out_shape = _chw(shapes[l])
        reset = {"v_reset": np.zeros(out_shape, np.float32)} if "v_reset" in if_fields(nir) else {}
        nodes[f"{name}_if"] = nir.IF(r=np.ones(out_shape, np.float32),
                                     v_threshold=np.full(out_shape, v_thr, np.float32), **reset)
        edges.append((name, f"{name}_if"))
        prev, prev_shape = f"{name}_if", out_shape
    nodes["output"] = nir.Output(output_type={"output": np.array(prev_shape)})
    edges.append((prev, "output"))
    meta = {"reset": "subtraction", "spike_condition": "v >= v_threshold", "time_steps": int(time_steps),
            "input": "constant analog current, the observation every step", "input_scale": float(net.input_scale),
            "input_layout": net.input_layout, "readout": readout, "obs_shape": list(net.obs_shape),
            "percentile": float(net.percentile), "layer_order": list(net.names),
            "strides": list(net.strides), "producer": "snnjax"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(net: SpikingNetwork, path, time_steps: int = 500, readout: str = "robust") -> Path:
    import nir

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, to_nir(net, time_steps, readout))
    return path


def _s(x) -> str:
    """NIR files return metadata strings as bytes."""
    return x.decode() if isinstance(x, bytes) else str(x)


def from_nir(graph) -> SpikingNetwork:
    """Rebuild a SpikingNetwork from a graph written by `to_nir` (or read with `nir.read`)."""
    import nir

    meta = graph.metadata
    names = [_s(n) for n in meta["layer_order"]]
    weights, biases, kinds, v_thr = [], [], [], 1.0
    for name in names:
        node = graph.nodes[name]
        if isinstance(node, nir.Conv2d):
            weights.append(np.transpose(np.asarray(node.weight), (2, 3, 1, 0)))
            kinds.append("conv")
        elif isinstance(node, nir.Affine):
            w = np.asarray(node.weight).T
            flat = graph.nodes.get(f"{name}_flatten")
            if flat is not None:
                c, h, wd = (int(x) for x in np.asarray(flat.input_type["input"]))
                w = w.reshape(c, h, wd, -1).transpose(1, 2, 0, 3).reshape(c * h * wd, -1)
            weights.append(w)
            kinds.append("dense")
        else:
            raise ValueError(f"node {name!r} is a {type(node).__name__}; expected Conv2d or Affine")
        biases.append(np.asarray(node.bias))
        v_thr = float(np.asarray(graph.nodes[f"{name}_if"].v_threshold).ravel()[0])
    return SpikingNetwork(
        weights=tuple(jnp.asarray(w, jnp.float32) for w in weights),
        biases=tuple(jnp.asarray(b, jnp.float32) for b in biases),
        v_thr=jnp.float32(v_thr), lambdas=tuple(jnp.float32(1.0) for _ in names),
        percentile=jnp.float32(meta.get("percentile", 100.0)), names=tuple(names), kinds=tuple(kinds),
        strides=tuple(int(s) for s in meta["strides"]), obs_shape=tuple(int(x) for x in meta["obs_shape"]),
        input_layout=_s(meta["input_layout"]), input_scale=float(meta["input_scale"]))


def import_nir(path) -> SpikingNetwork:
    import nir

    return from_nir(nir.read(path))
