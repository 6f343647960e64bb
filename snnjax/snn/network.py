"""The converted network and its currents (Tan et al. 2021, eq. 1 and 16).

`SpikingNetwork` holds a converted Q-network: per layer the normalized kernel and bias (eq. 16),
the threshold V_thr and, where the weights factor exactly, their int8 form (`Int8Layer`, spikes
x int8 kernel summed in int32). `spike_current` is eq. (1) for one layer's spikes,
`input_current` the constant input current of layer 1 (pixels in [0, 1]); `ann_forward` and
`q_values` run the same weights as the analog network (the DQN the SNN is compared with).
Shapes are for ONE observation; callers vmap outward.
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.compile import int8_dots_fast
from snnjax.core.validate import ValidationError

KINDS = ("conv", "dense")
ENCODINGS = ("constant", "if")


class SimulationError(ValidationError):
    """Bad simulation input: time steps, shapes, dtypes, options."""


@flax.struct.dataclass
class SpikingNetwork:
    """A converted network: per-layer weights and biases in layer order, plus the threshold.

    weights[l]: conv kernel [kh, kw, C_in, C_out] (HWIO, VALID padding, stride strides[l]) or
    dense kernel [D_in, D_out] (input flattened in C-order, H, W, C for a feature map).
    v_thr: threshold V_thr, a pytree leaf so populations of thresholds can be vmapped.
    lambdas[l]: the normalization scale of layer l (eq. 16), [] or [C_out] (channel-wise).
    """

    weights: tuple
    biases: tuple
    v_thr: jax.Array
    lambdas: tuple
    percentile: jax.Array  # p of the normalization (100 = max-norm); a leaf, so it can vary per agent
    names: tuple = flax.struct.field(pytree_node=False)
    kinds: tuple = flax.struct.field(pytree_node=False)
    strides: tuple = flax.struct.field(pytree_node=False)
    obs_shape: tuple = flax.struct.field(pytree_node=False)  # raw observation, no batch axis
    input_layout: str = flax.struct.field(pytree_node=False, default="flat")  # "chw" or "flat"
    input_scale: float = flax.struct.field(pytree_node=False, default=1.0)  # raw -> [0, 1]
    # The same weights as int8 kernels x per-output-channel scales (`to_int8`), one Int8Layer per
    # layer, or () where they do not factor: then every layer runs in float32.
    int8: tuple = ()

    @property
    def num_actions(self) -> int:
        return int(self.weights[-1].shape[-1])

    @property
    def num_layers(self) -> int:
        return len(self.weights)

    def layer_shapes(self) -> list[tuple[int, ...]]:
        """Output shape of every layer for one observation (HWC for convs)."""
        x = jax.ShapeDtypeStruct(_input_shape(self), jnp.float32)
        shapes = []
        for l in range(self.num_layers):
            x = jax.eval_shape(functools.partial(layer_current, self, l), x)
            shapes.append(tuple(x.shape))
        return shapes


@flax.struct.dataclass
class Int8Layer:
    """One layer's weights as `kernel * scale`: kernel int8 (the float kernel's shape, |k| <= 127),
    scale float32 [C_out]."""

    kernel: jax.Array
    scale: jax.Array


INT8_TOLERANCE = 2.0**-20  # |kernel * scale - w| allowed, relative to a channel's largest |w|


class NotInt8Error(SimulationError):
    """The network's weights are not int8 x per-output-channel scale (e.g. channel-wise lambdas)."""


def factor_int8(w, name: str = "layer") -> Int8Layer:
    """w [..., C_out] (float) -> Int8Layer with kernel * scale == w up to float rounding.

    scale[c] = max |w[..., c]| / 127 and kernel = rint(w / scale): exact for a kernel stored as
    int8 x per-output-channel scale (`checkpoint.quantize_int8`, whose largest entry of every
    channel is +-127) and rescaled per output channel (eq. 16 with one lambda per layer: w_l =
    q * s_c * lambda_{l-1} / lambda_l). Anything else (a scale per input channel, float weights)
    leaves a residual far above float rounding: NotInt8Error.
    """
    w = np.asarray(w, np.float64)
    amax = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    q = np.rint(w / scale)
    residual = np.abs(q * scale - w).reshape(-1, w.shape[-1]).max(axis=0)
    bad = residual > INT8_TOLERANCE * np.maximum(amax, np.finfo(np.float32).tiny)
    if bad.any():
        c = int(np.argmax(bad))
        raise NotInt8Error(f"{name}: weights are not int8 x a per-output-channel scale (channel {c}: "
                           f"residual {residual[c]:.3g} of max |w| {amax[c]:.3g}); use float32")
    return Int8Layer(kernel=jnp.asarray(q.astype(np.int8)), scale=jnp.asarray(scale, jnp.float32))


def to_int8(net: SpikingNetwork) -> SpikingNetwork:
    """The network with its int8 factorization attached (`factor_int8` of every layer).

    Simulation then propagates spikes as int8 x int8 -> int32 sums, exact, and one multiply by
    the channel scale: z_l = scale * (sum of kernel over the inputs that spiked) + b_l (eq. 1).
    Raises NotInt8Error if a layer does not factor."""
    return net.replace(int8=tuple(factor_int8(w, n) for w, n in zip(net.weights, net.names)))


def with_int8_if_exact(net: SpikingNetwork) -> SpikingNetwork:
    """`to_int8(net)` where every layer factors, else `net` unchanged (float32 throughout)."""
    try:
        return to_int8(net)
    except NotInt8Error:
        return net


EXACT_SUM_LIMIT = 2**24  # float32 holds every integer below it exactly


def fan_in(net: SpikingNetwork, l: int) -> int:
    """Inputs summed per neuron of layer l (conv: kh x kw x C_in; dense: rows), also for a
    population (a leading agent axis)."""
    shape = net.weights[l].shape
    return int(np.prod(shape[-4:-1])) if net.kinds[l] == "conv" else int(shape[-2])


def int8_as_float32(net: SpikingNetwork) -> SpikingNetwork:
    """The int8 factorization with its kernels as integer-valued float32 (|k| <= 127).

    Spikes (0/1) x these kernels sum in float32 exactly: every partial sum is an integer of at
    most fan_in x 127 < 2^24 (3136 x 127 for the Nature-DQN's widest layer), whatever the order of
    summation, so the currents, spikes and actions are bit for bit those of the int8 program.
    For CPUs whose float32 products are faster than their int8 ones (`compile.int8_dots_fast`).
    A network without the factorization, or with a layer too wide for exact sums, is returned
    unchanged."""
    if not net.int8 or any(fan_in(net, l) * 127 >= EXACT_SUM_LIMIT for l in range(net.num_layers)):
        return net
    return net.replace(int8=tuple(q.replace(kernel=q.kernel.astype(jnp.float32)) for q in net.int8))


def for_this_machine(net: SpikingNetwork) -> SpikingNetwork:
    """`net` in the exact form that runs fastest here: int8 kernels where int8 products are fast
    (`compile.int8_dots_fast`), else `int8_as_float32`; bit-identical results either way. Apply
    before jit: a program that takes no int8 array gets the fast float32 compile option."""
    return net if int8_dots_fast() else int8_as_float32(net)


def shares_kernels(pop: SpikingNetwork) -> bool:
    """Whether a population (networks stacked on a leading agent axis) holds ONE int8 kernel per
    layer for all its networks: kernels without the agent axis (`stack_networks` stores them so
    when they are equal, e.g. one DQN converted at several percentiles: eq. 16 rescales each
    output channel, which moves the scale, not the int8 kernel). Static (shapes only)."""
    return bool(pop.int8) and pop.int8[0].kernel.ndim == pop.weights[0].ndim - 1


def population_axes(pop: SpikingNetwork) -> SpikingNetwork:
    """vmap in_axes for a population: 0 (the agent axis) on every leaf, None on shared int8
    kernels. Under that vmap a layer's spikes of every network meet ONE kernel, so each layer is
    one convolution over all networks' observations (then each network's scale and bias), not a
    grouped convolution with a kernel per network. The int32 sums are exact either way; the
    float steps after them are the same operations, which XLA may round in another order: on the
    shipped Breakout and Tennis networks at T = 500 (2 x 25 frames) every spike count was equal to
    the networks run one after another, and the robust readout within one rounding (6e-8)."""
    axes = jax.tree_util.tree_map(lambda _: 0, pop)
    if shares_kernels(pop):
        axes = axes.replace(int8=tuple(q.replace(kernel=None) for q in axes.int8))
    return axes


def float32_only(net: SpikingNetwork) -> SpikingNetwork:
    """The network without its int8 factorization: simulated in float32 (the comparison path)."""
    return net.replace(int8=())


def to_bfloat16(net: SpikingNetwork) -> SpikingNetwork:
    """bf16 matmul mode for accelerators: weights of the layers fed by spikes (2..L) in bf16.

    Spikes (0/1) are exact in bf16 and products accumulate in fp32, so the only change is the
    weight rounding (8-bit mantissa, relative error <= 2^-9 per weight), which moves membrane
    potentials slightly and can flip a spike near threshold. Layer 1 (analog input, computed
    once per frame) and biases stay fp32. Slower than fp32 on CPUs without native bf16.
    """
    weights = (net.weights[0],) + tuple(w.astype(jnp.bfloat16) for w in net.weights[1:])
    return net.replace(weights=weights, int8=())


def _input_shape(net: SpikingNetwork) -> tuple[int, ...]:
    if net.input_layout == "chw":
        c, h, w = net.obs_shape
        return (h, w, c)
    return tuple(net.obs_shape)


def prepare_input(net: SpikingNetwork, obs: jax.Array) -> jax.Array:
    """One raw observation -> the first layer's input a_0 (float32, HWC or flat)."""
    x = obs.astype(jnp.float32) * net.input_scale
    return jnp.transpose(x, (1, 2, 0)) if net.input_layout == "chw" else x


def _conv(net: SpikingNetwork, l: int, x, w, out_type):
    return jax.lax.conv_general_dilated(
        x[None], w, (net.strides[l],) * 2, "VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"), preferred_element_type=out_type)[0]


def _int_sum(net: SpikingNetwork, l: int, x: jax.Array) -> jax.Array:
    """sum_i kernel[i, c] x[i] for spikes x (0/1): exact. An int8 kernel sums in int32; an
    integer-valued float32 one (`int8_as_float32`) in float32, also exact (float32 result)."""
    k = net.int8[l].kernel
    out = jnp.int32 if k.dtype == jnp.int8 else jnp.float32
    x = x.astype(k.dtype)
    if net.kinds[l] == "conv":
        return _conv(net, l, x, k, out)
    return jax.lax.dot(x.reshape(-1), k, preferred_element_type=out)


def spike_current(net: SpikingNetwork, l: int, s: jax.Array) -> jax.Array:
    """z_l = W_l s + b_l (eq. 1) for ONE example's spikes s (0/1, any dtype) into layer l.

    With the int8 factorization: int8 spikes x int8 kernel -> int32 (exact), times the channel
    scale, plus the bias: two roundings per neuron however many inputs spiked. Else float32."""
    if not net.int8:
        return layer_current(net, l, s)
    q = net.int8[l]
    return _int_sum(net, l, s).astype(jnp.float32) * q.scale + net.biases[l]


def input_current(net: SpikingNetwork, obs: jax.Array) -> jax.Array:
    """z_1 = W_1 a_0 + b_1 for ONE raw observation (the constant input current, eq. 1).

    With the int8 factorization and uint8 frames: the integer sum of kernel x pixel (p in
    [0, 255]) is computed in float32, where it is exact (every partial sum is an integer below
    2^24 while fan-in x 255 x 127 < 2^24: 256 inputs for the Nature-DQN's 8x8x4 kernels), then
    times scale x input_scale, plus b. A float32 convolution because XLA's CPU int8 convolution
    has no fast kernel for this shape (it runs it as s32 x s32 at a few GOP/s); once per frame."""
    if (not net.int8 or np.dtype(obs.dtype) != np.uint8 or net.kinds[0] != "conv"
            or fan_in(net, 0) * 255 * 127 >= EXACT_SUM_LIMIT):
        return layer_current(net, 0, prepare_input(net, obs))
    q = net.int8[0]
    p = obs.astype(jnp.float32)
    p = jnp.transpose(p, (1, 2, 0)) if net.input_layout == "chw" else p
    total = _conv(net, 0, p, q.kernel.astype(jnp.float32), jnp.float32)
    return total * (q.scale * jnp.float32(net.input_scale)) + net.biases[0]


def layer_current(net: SpikingNetwork, l: int, x: jax.Array, with_bias: bool = True) -> jax.Array:
    """z_l = W_l x + b_l for ONE example x (HWC map or vector); eq. (1) without the spikes.
    float32 weights (bf16 after `to_bfloat16`); spikes go through `spike_current`."""
    w, b = net.weights[l], net.biases[l]
    # bf16 weights (see `to_bfloat16`): inputs cast to bf16, products accumulated in fp32.
    if net.kinds[l] == "conv":
        out = _conv(net, l, x.astype(w.dtype), w, jnp.float32)
    elif net.kinds[l] == "dense":
        out = jnp.matmul(x.reshape(-1).astype(w.dtype), w, preferred_element_type=jnp.float32)
    else:
        raise SimulationError(f"unknown layer kind {net.kinds[l]!r}; allowed: {KINDS}")
    return out + b if with_bias else out


def ann_forward(net: SpikingNetwork, a0: jax.Array) -> list[jax.Array]:
    """The analog network on ONE input a_0: ReLU activations of every layer, output linear."""
    acts, x = [], a0
    for l in range(net.num_layers):
        x = layer_current(net, l, x)
        if l < net.num_layers - 1:
            x = jax.nn.relu(x)
        acts.append(x)
    return acts


def q_values(net: SpikingNetwork, obs: jax.Array) -> jax.Array:
    """The analog network's output (Q-values / lambda_L after conversion) for ONE raw obs [A]."""
    return ann_forward(net, prepare_input(net, obs))[-1]


def fanout(net: SpikingNetwork) -> list[jax.Array]:
    """Synapses leaving each neuron of layer l into layer l+1 (l = 0 is the input), exact.

    Returns per-layer arrays shaped like the layer (input HWC/flat first, no output layer).
    """
    out = []
    x = jnp.zeros(_input_shape(net), jnp.float32)
    for l in range(net.num_layers):
        ones = net.replace(weights=tuple(jnp.ones_like(w) for w in net.weights))
        f = jax.grad(lambda inp: layer_current(ones, l, inp, with_bias=False).sum())(x)
        out.append(f)
        x = layer_current(net, l, x)
    return out


def ann_macs(net: SpikingNetwork) -> int:
    """Multiply-accumulates of one ANN forward pass (all layers)."""
    return int(sum(float(f.sum()) for f in fanout(net)))
