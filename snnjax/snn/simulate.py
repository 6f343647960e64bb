"""Integrate-and-fire simulation of a converted Q-network (Tan et al. 2021, eq. 1-3, 17).

Neurons: IF with reset by subtraction, no leak, no refractory period. For layer l at step t:
  z_l(t)     = W_l theta_{l-1}(t) + b_l                      (eq. 1; currents NOT times V_thr)
  theta_l(t) = [V_l(t-1) + z_l(t) >= V_thr]                  (eq. 2)
  V_l(t)     = V_l(t-1) + z_l(t) - V_thr theta_l(t)          (eq. 3)
All layers update within the same step (no per-layer delay: the output sees the input at t=1).
Input: the observation scaled to [0, 1] is a constant current into layer 1 every step, so
z_1 = W_1 a_0 + b_1 is computed once per frame; or ("if" encoding, eq. 9-11) an IF input layer
that turns a_0 into spikes first. State (potentials, counts) starts afresh for every frame.
The output layer is IF too; its readouts are in `snnjax.snn.readout`.

`simulate_one` handles ONE observation; `simulate` vmaps it over any leading batch axes (and
over agents when the network's leaves carry an extra axis, see `agents.snn_agent`).
Scan outputs are time-major [T, ...].
"""

from __future__ import annotations

import functools
from typing import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from snnjax.core.validate import MAX_TIME_STEPS, ValidationError, finite_array
from snnjax.snn import readout as ro
from snnjax.snn.network import (
    ENCODINGS,
    SimulationError,
    SpikingNetwork,
    fanout,
    float32_only,
    for_this_machine,
    input_current,
    prepare_input,
    spike_current,
)
from snnjax.snn.neuron import IFState, if_step, initial_state


@flax.struct.dataclass
class SimulationResult:
    """What one simulation returns (leading batch axes [...] as in the observations).

    times: the readout times (static), ascending, last = T.
    normal, robust, membrane: output readouts at T, [..., A].
    normal_t, robust_t, membrane_t: readouts at every time in `times`, [..., K, A].
    spike_counts[l]: spikes of every neuron of layer l over T steps, [..., *shape_l].
    potentials[l]: V_l(T), [..., *shape_l].
    input_spikes: spikes of the IF input layer ([..., *input] ; zeros for constant input).
    """

    normal: jax.Array
    robust: jax.Array
    membrane: jax.Array
    normal_t: jax.Array
    robust_t: jax.Array
    membrane_t: jax.Array
    spike_counts: tuple
    potentials: tuple
    input_spikes: jax.Array
    times: tuple = flax.struct.field(pytree_node=False)

    def readout(self, name: str = "robust") -> jax.Array:
        return getattr(self, ro.check_readout(name))

    def actions(self, name: str = "robust") -> jax.Array:
        """Greedy actions [...] of a readout at T; ties to the lowest index."""
        return ro.select_action(self.readout(name))


def simulate_one(net: SpikingNetwork, obs: jax.Array, time_steps: int,
                 times: Sequence[int] | None = None, initial_potential: float = 0.0,
                 input_encoding: str = "constant") -> SimulationResult:
    """Simulate ONE observation `obs` (raw, shape net.obs_shape) for `time_steps` steps.

    initial_potential: V_l(0) for every layer, in units of V_thr (0.5 = V_thr/2, Bu et al. 2022).
    times: readout times t <= T (any-time readout; default (T,)).
    """
    times = tuple(times) if times else (time_steps,)
    v_thr = jnp.asarray(net.v_thr, jnp.float32)
    a0 = prepare_input(net, obs)
    z1 = input_current(net, obs)  # constant over T for constant-current input
    carry0 = initial_state(net, a0, initial_potential, v_thr)

    def step(c: IFState, _):
        if input_encoding == "if":
            s_in, u_in = if_step(c.u_in, a0, v_thr, c.started)
            z = spike_current(net, 0, s_in)
            c = c.replace(u_in=u_in, n_in=c.n_in + s_in)
        else:
            z = z1
        us, ns = [], []
        for l in range(net.num_layers):
            s, u = if_step(c.u[l], z, v_thr, c.started)
            us.append(u)
            ns.append(c.n[l] + s)
            if l + 1 < net.num_layers:
                z = spike_current(net, l + 1, s)  # same step: no per-layer delay
        acc = c.acc + z  # z is the output layer's current here
        c = IFState(u=tuple(us), n=tuple(ns), acc=acc, u_in=c.u_in, n_in=c.n_in, started=jnp.asarray(True))
        v_out = u - v_thr * s.astype(u.dtype)
        return c, (ns[-1], v_out, acc)

    c, (n_out, v_out, acc_out) = jax.lax.scan(step, carry0, None, length=time_steps)
    return _result(c, n_out, v_out, acc_out, times, v_thr)


def _result(c: IFState, n_out, v_out, acc_out, times, v_thr) -> SimulationResult:
    """Assemble readouts from the output layer's per-step traces [T, A] (time-major)."""
    idx = np.asarray(times) - 1
    t = jnp.asarray(times, jnp.float32)[:, None]
    normal_t = ro.normal_rate(n_out[idx], t)
    robust_t = ro.robust_rate(n_out[idx], v_out[idx], t, v_thr)
    membrane_t = ro.membrane_rate(acc_out[idx], t)
    return SimulationResult(
        normal=normal_t[-1], robust=robust_t[-1], membrane=membrane_t[-1],
        normal_t=normal_t, robust_t=robust_t, membrane_t=membrane_t,
        spike_counts=tuple(c.n), potentials=c.potentials(v_thr), input_spikes=c.n_in,
        times=times)


def _if_scan(u, n, z_seq, v_thr, started):
    """IF recurrence of one layer over a chunk of steps (carried form, see IFState):
    z_seq [c, ...] -> (u, n, spikes [c, ...] bool, V after each step's reset [c, ...])."""

    def step(carry, z):
        u, n, started = carry
        s, u = if_step(u, z, v_thr, started)
        return (u, n + s, jnp.asarray(True)), (s, u - v_thr * s.astype(u.dtype))

    (u, n, _), (s_seq, v_seq) = jax.lax.scan(step, (u, n, started), z_seq)
    return u, n, s_seq, v_seq


def simulate_one_chunked(net: SpikingNetwork, obs: jax.Array, time_steps: int,
                         times: Sequence[int] | None = None, initial_potential: float = 0.0,
                         input_encoding: str = "constant", chunk: int = 16) -> SimulationResult:
    """Same result as `simulate_one`, computed layer by layer in chunks of `chunk` steps.

    Layer l at step t depends only on layer l-1 at steps <= t, so for a chunk of c steps the
    whole chunk of layer l-1's spikes is known before layer l runs: its currents for the c
    steps are ONE conv/matmul over c spike maps (vmapped, so c x B rows under an outer vmap),
    then its IF recurrence is an elementwise scan. Exact: every step sees the same sums as
    the per-step scan. T need not be a multiple of `chunk` (the remainder is its own chunk).
    """
    times = tuple(times) if times else (time_steps,)
    chunk = max(1, min(int(chunk), time_steps))
    v_thr = jnp.asarray(net.v_thr, jnp.float32)
    a0 = prepare_input(net, obs)
    z1 = input_current(net, obs)
    init = initial_state(net, a0, initial_potential, v_thr)

    def run_chunk(c: IFState, length: int):
        u_in, n_in = c.u_in, c.n_in
        if input_encoding == "if":
            u_in, n_in, s_in, _ = _if_scan(u_in, n_in, jnp.broadcast_to(a0, (length, *a0.shape)), v_thr, c.started)
            z = jax.vmap(lambda x: spike_current(net, 0, x))(s_in)
        else:
            z = jnp.broadcast_to(z1, (length, *z1.shape))  # the input current is constant
        us, ns = [], []
        for l in range(net.num_layers):
            u, n, s_seq, v_seq = _if_scan(c.u[l], c.n[l], z, v_thr, c.started)
            us.append(u)
            ns.append(n)
            if l + 1 < net.num_layers:  # the next layer's currents for the whole chunk at once
                z = jax.vmap(lambda x, l=l: spike_current(net, l + 1, x))(s_seq)
        acc_seq = c.acc + jnp.cumsum(z, axis=0)  # z: the output layer's currents
        n_seq = c.n[-1] + jnp.cumsum(s_seq.astype(jnp.float32), axis=0)
        c = IFState(u=tuple(us), n=tuple(ns), acc=acc_seq[-1], u_in=u_in, n_in=n_in, started=jnp.asarray(True))
        return c, (n_seq, v_seq, acc_seq)

    n_full, rest = divmod(time_steps, chunk)
    c, (n_out, v_out, acc_out) = jax.lax.scan(lambda c, _: run_chunk(c, chunk), init, None, length=n_full)
    n_out, v_out, acc_out = (x.reshape((n_full * chunk, *x.shape[2:])) for x in (n_out, v_out, acc_out))
    if rest:
        c, (n_r, v_r, acc_r) = run_chunk(c, rest)
        n_out, v_out, acc_out = (jnp.concatenate([a, b]) for a, b in ((n_out, n_r), (v_out, v_r), (acc_out, acc_r)))
    return _result(c, n_out, v_out, acc_out, times, v_thr)


def check_args(net: SpikingNetwork, obs, time_steps, times, input_encoding, initial_potential):
    """Validate simulation arguments; returns the normalized `times` tuple."""
    if not isinstance(time_steps, (int, np.integer)) or not 1 <= time_steps <= MAX_TIME_STEPS:
        raise SimulationError(f"time_steps must be an integer in [1, {MAX_TIME_STEPS}], got {time_steps!r}")
    times = tuple(int(t) for t in times) if times else (int(time_steps),)
    if any(t < 1 or t > time_steps for t in times) or list(times) != sorted(set(times)):
        raise SimulationError(f"readout times must be strictly increasing in [1, {time_steps}], got {times}")
    if times[-1] != time_steps:
        times = times + (int(time_steps),)
    if input_encoding not in ENCODINGS:
        raise SimulationError(f"unknown input_encoding {input_encoding!r}; allowed: {ENCODINGS}")
    if not np.isfinite(initial_potential):
        raise SimulationError(f"initial_potential must be finite, got {initial_potential}")
    shape = tuple(np.shape(obs))
    n = len(net.obs_shape)
    if shape[len(shape) - n:] != tuple(net.obs_shape) or len(shape) < n:
        raise SimulationError(f"observations of shape {shape} do not end in the network's "
                              f"observation shape {tuple(net.obs_shape)}")
    dtype = np.dtype(getattr(obs, "dtype", np.float32))
    if not (dtype == np.uint8 or np.issubdtype(dtype, np.floating)):
        raise SimulationError(f"observations must be uint8 or floating point, got dtype {dtype}")
    if not isinstance(obs, jax.core.Tracer):
        try:
            finite_array(obs, "observations")
        except ValidationError as exc:
            raise SimulationError(str(exc)) from None
    return times


METHODS = ("auto", "chunked", "reference")
ARITHMETIC = ("auto", "int8", "float32")


def auto_chunk(batch: int, time_steps: int, rows: int = 64, max_chunk: int = 64) -> int:
    """Chunk length Tc for layer-wise time batching: Tc x batch ~ `rows` matmul rows, at most
    `max_chunk` steps, so memory stays O(rows x neurons), never O(T x B x neurons)."""
    return int(max(1, min(time_steps, max_chunk, rows // max(batch, 1))))


def choose_method(batch: int, time_steps: int) -> tuple[str, int]:
    """(method, chunk) of the fastest path for `batch` observations of T steps on this project's
    measurements (2-core CPU, Nature-DQN, same compile option for every path; decisions/s,
    medians of 5 round-robin timings in one run with nothing else running, BENCHMARKS.md;
    `bench/path_choice.py` and `snnjax bench` measure it again):

    | T, B | reference scan | Tc x B = 16 rows | 32 rows | 64 rows (auto_chunk) |
    |---|---|---|---|---|
    | 100, 2 | 78.7 | 133.7 | 140.7 | 143.0 |
    | 100, 4 | 106.4 | 131.8 | 144.0 | 152.7 |
    | 100, 8 | 108.6 | 126.9 | 144.4 | 150.1 |
    | 100, 16 | 140.7 | | 136.4 | 147.9 |
    | 500, 2 | 16.3 | 27.5 | 30.6 | 31.3 |
    | 500, 4 | 22.1 | 27.3 | 30.5 | 32.1 |
    | 500, 8 | 46.7 | 38.5 | 41.4 | 42.3 |
    | 500, 16 | 48.5 | | 41.7 | 43.8 |

    and in `snnjax bench`'s quiet run, B = 16: reference 238.8 vs Tc = 4 213.0 (T = 100), 49.1
    vs 43.8 (T = 500). Time batching pays while one step's matmuls are small: chunks of ~64 rows
    are 1.3-2x the per-step scan at B <= 4; B = 8 is mixed (1.38x at T = 100, 0.91x at T = 500;
    chunks kept); from B = 16 on one step is large enough and the plain per-step scan wins or
    ties. Measured on a CPU: an accelerator may differ."""
    chunk = auto_chunk(batch, time_steps)
    return ("reference", 1) if batch >= 16 and time_steps > 1 else ("chunked", chunk)


GROUP_ROWS = 64


def group_rows(batch: int) -> int:
    """Observations simulated together (one vmap) when `batch` of them are simulated on ONE CPU
    device: all of them up to 128 (0 = one vmap over the batch), else groups of 64 run one after
    another (`jax.lax.map(..., batch_size=64)`), so that a step's potentials, spikes and currents
    stay in the cache (32 MiB L3 here; 256 rows of a Nature-DQN step are over 60 MB). Bit-exact:
    every observation is simulated alone either way. Measured (decisions/s, per-step scan, quiet
    machine, round-robin in one run, BENCHMARKS.md): B = 256, T = 500: 47.2 one vmap vs 53.8 in
    groups of 64; B = 512: 43.7 vs 53.6; B = 128: 50.7 vs 52.6 (a tie). Accelerators and several
    devices take the whole batch at once."""
    if batch <= 2 * GROUP_ROWS or not one_cpu_device():
        return 0
    return GROUP_ROWS


def one_cpu_device() -> bool:
    """Whether JAX runs on one CPU device: there work is split into pieces run one after another
    (`group_rows`, the networks of a population); accelerators and several devices take it whole."""
    return jax.default_backend() == "cpu" and jax.local_device_count() == 1


def map_rows(f, xs, group: int):
    """f mapped over the leading axis of the pytree `xs`: one vmap (group = 0) or vmaps over
    groups of `group` rows run one after another (the remainder as its own vmap)."""
    return jax.lax.map(f, xs, batch_size=group) if group else jax.vmap(f)(xs)


def simulate_fn(time_steps: int, times: tuple, input_encoding: str = "constant",
                method: str = "chunked", chunk: int = 16):
    """fn(net, obs, initial_potential) for ONE observation, by the chosen implementation."""
    if method == "reference":
        return functools.partial(simulate_one, time_steps=time_steps, times=times,
                                 input_encoding=input_encoding)
    return functools.partial(simulate_one_chunked, time_steps=time_steps, times=times,
                             input_encoding=input_encoding, chunk=chunk)


@functools.cache
def _batch_runner(time_steps, times, input_encoding, method, chunk, fast, group):
    from snnjax.core.compile import FastJit

    one = simulate_fn(time_steps, times, input_encoding, method, chunk)
    return FastJit(lambda net, obs, v0: map_rows(lambda o: one(net, o, initial_potential=v0), obs, group),
                   fast=fast)


def simulate(net: SpikingNetwork, obs, time_steps: int, times: Sequence[int] | None = None,
             initial_potential: float = 0.0, input_encoding: str = "constant", method: str = "auto",
             chunk: int | None = None, fast_compile: bool = True, group: int | None = None,
             arithmetic: str = "auto") -> SimulationResult:
    """Simulate observations [..., *obs_shape] for `time_steps` steps each (jit, vmapped).

    Returns a SimulationResult with leading axes [...]. `times` adds any-time readouts at
    those steps from the same run (T is always included, last).
    method: "auto" (the fastest path for this batch and T, `choose_method`), "chunked"
    (layer-wise time batching, `simulate_one_chunked`; chunk from `auto_chunk` unless given) or
    "reference" (the plain per-step scan, `simulate_one`); the
    two agree bit for bit when sums are exact. With several local devices the batch is sharded
    over them (results identical to one device). fast_compile: the CPU convolution option of
    `snnjax.core.compile` where the installed JAX accepts it. group: observations per vmap, run one
    group after another (`group_rows` unless given; 0 = the whole batch in one vmap).
    arithmetic: "auto" (a network with the int8 factorization in its fastest exact form here,
    `for_this_machine`: int8 products or the same integers in float32, bit-identical), "int8"
    (the network as given) or "float32" (`float32_only`: float weights, the comparison path).
    """
    times = check_args(net, obs, time_steps, times, input_encoding, initial_potential)
    if method not in METHODS:
        raise SimulationError(f"unknown method {method!r}; allowed: {METHODS}")
    if arithmetic not in ARITHMETIC:
        raise SimulationError(f"unknown arithmetic {arithmetic!r}; allowed: {ARITHMETIC}")
    if arithmetic == "float32":
        net = float32_only(net)
    elif arithmetic == "auto":
        net = for_this_machine(net)
    obs = jnp.asarray(obs)
    batch = obs.shape[: obs.ndim - len(net.obs_shape)]
    flat = obs.reshape((-1, *net.obs_shape))
    if chunk is not None and chunk < 1:
        raise SimulationError(f"chunk must be >= 1, got {chunk}")
    if method == "auto" and chunk is None:
        method, chunk = choose_method(flat.shape[0], int(time_steps))
    method = "chunked" if method == "auto" else method
    if chunk is None:
        chunk = auto_chunk(flat.shape[0], int(time_steps))
    if group is not None and group < 0:
        raise SimulationError(f"group must be >= 0 (0 = one vmap), got {group}")
    group = group_rows(flat.shape[0]) if group is None else int(group)
    run = _batch_runner(int(time_steps), times, input_encoding, method,
                        int(min(chunk, time_steps)), bool(fast_compile), group)
    from snnjax.core.parallel import shard

    flat, n = shard(flat, 0)
    res = run(net, flat, jnp.float32(initial_potential))
    return jax.tree_util.tree_map(lambda x: x[:n].reshape((*batch, *x.shape[1:])), res)


def synaptic_ops(net: SpikingNetwork, res: SimulationResult, input_encoding: str = "constant"):
    """Synaptic operations per decision: spikes x fan-out summed over layers [...].

    With constant-current input, layer 1 costs its MACs once per frame (analog input); with
    IF input encoding, input spikes x fan-out. The output layer's spikes feed nothing.
    """
    fo = fanout(net)
    total = 0.0
    for l in range(net.num_layers - 1):
        n = res.spike_counts[l]
        axes = tuple(range(n.ndim - fo[l + 1].ndim, n.ndim))
        total = total + (n * fo[l + 1]).sum(axis=axes)
    if input_encoding == "if":
        n = res.input_spikes
        total = total + (n * fo[0]).sum(axis=tuple(range(n.ndim - fo[0].ndim, n.ndim)))
    else:
        total = total + float(fo[0].sum())
    return total


def firing_rates(net: SpikingNetwork, res: SimulationResult) -> list[jax.Array]:
    """Mean firing rate (spikes per neuron per step) of every layer, [...] each."""
    rates = []
    for l, n in enumerate(res.spike_counts):
        nd = len(net.layer_shapes()[l])
        rates.append(n.mean(axis=tuple(range(n.ndim - nd, n.ndim))) / res.times[-1])
    return rates
