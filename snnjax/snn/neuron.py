"""The integrate-and-fire neuron (Tan et al. 2021, eq. 2-3): its state and one step.

IF with reset by subtraction, no leak, no refractory period. `IFState` is what the simulation
loop carries between time steps for ONE observation; `if_step` is one step of every neuron of a
layer on that carried form, `if_update` the same equations written on V(t-1).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class IFState:
    """The IF state of every layer of ONE observation between time steps, as the loop carries it.

    u[l] = V_l(t-1) + z_l(t): the potential after integrating step t's current and BEFORE step
    t's reset, so theta_l(t) = [u_l >= V_thr] (eq. 2) and the reset of step t (eq. 3) is applied
    when step t+1 starts: u(t+1) = u(t) - V_thr theta(t) + z(t+1). One elementwise pass per layer
    and step reads u and writes u in place; carrying V(t) instead needs one pass for the spikes
    and another for V, and XLA copies V between them (measured: 2.97 vs 2.05 ms a step, B = 64).
    The same sums in the same order as eq. (2)-(3) on V: bit for bit the same spikes.
    started: False before the first step (u = V(0), no reset pending).
    n[l]: spikes so far [*shape_l]; acc: the output layer's summed input current; u_in, n_in:
    the same for the IF input layer (input_encoding="if").
    """

    u: tuple
    n: tuple
    acc: jax.Array
    u_in: jax.Array
    n_in: jax.Array
    started: jax.Array

    def potentials(self, v_thr) -> tuple:
        """V_l(t) after step t's reset, every layer."""
        return tuple(u - v_thr * (u >= v_thr).astype(u.dtype) for u in self.u)


def initial_state(net, a0, initial_potential, v_thr) -> IFState:
    """Fresh IF state for one frame: V_l(0) = initial_potential * V_thr, zero counts, and the
    same for the IF input layer."""
    shapes = [tuple(s) for s in net.layer_shapes()]
    return IFState(u=tuple(jnp.full(s, initial_potential, jnp.float32) * v_thr for s in shapes),
                   n=tuple(jnp.zeros(s, jnp.float32) for s in shapes),
                   acc=jnp.zeros(shapes[-1], jnp.float32),
                   u_in=jnp.full(a0.shape, initial_potential, jnp.float32) * v_thr,
                   n_in=jnp.zeros(a0.shape, jnp.float32), started=jnp.asarray(False))


def if_update(v, z, v_thr):
    """Eq. (2)-(3) on the potential V(t-1): returns (spikes as float 0/1, V(t))."""
    s = (v + z >= v_thr).astype(z.dtype)
    return s, v + z - v_thr * s


def if_step(u, z, v_thr, started):
    """One IF step on the carried form u (see IFState): the reset of the previous step if it
    spiked (and `started`), then step t's current. Returns (theta(t) as bool, u(t))."""
    reset = jnp.logical_and(u >= v_thr, started).astype(u.dtype)
    u = u - v_thr * reset + z
    return u >= v_thr, u
