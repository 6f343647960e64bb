"""Readouts of the spiking output layer (Tan et al. 2021) and action selection.

All functions are written for one observation; shapes: counts, v, acc [A].
- normal firing rate: r(t) = N(t) / t, spike count over time (paper: "normal firing rate").
- robust firing rate, eq. (17): f(t) = N(t) / t + V(t) / (t V_thr); the leftover potential
  breaks ties between equal counts and removes the last layer's error term of eq. (7).
- membrane (non-spiking integrating output): m(t) = sum_t' z(t') / t, the mean input current.
  By eq. (3), sum z = V(t) - V(0) + V_thr N(t), so m(t) = V_thr f(t) - V(0) / t: it ranks actions
  exactly like the robust rate (V(0) is the same for every action); it is kept as its own
  readout because it is what a non-spiking output neuron on hardware would report.

Ties break to the lowest action index (`jnp.argmax` semantics), for every readout.
"""

from __future__ import annotations

import jax.numpy as jnp

READOUTS = ("normal", "robust", "membrane")


def normal_rate(counts, t):
    """Spike count / t. counts [..., A]; t scalar or broadcastable."""
    return counts / t


def robust_rate(counts, v, t, v_thr):
    """Eq. (17): N(t)/t + V(t)/(t V_thr)."""
    return counts / t + v / (t * v_thr)


def membrane_rate(acc, t):
    """Mean input current of a non-spiking integrating output: sum z / t."""
    return acc / t


def select_action(values):
    """Greedy action per row of values [..., A]; ties go to the lowest index."""
    return jnp.argmax(values, axis=-1)


def check_readout(name: str) -> str:
    if name not in READOUTS:
        raise ValueError(f"unknown readout {name!r}; allowed: {', '.join(READOUTS)}")
    return name
