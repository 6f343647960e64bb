"""The paper's error analysis (Tan et al. 2021, eq. 7-8 and its four cases) as diagnostics.

For layer l after t steps, with r_{l-1}(t) the previous layer's firing rate (the analog input
a_0 for layer 1 under constant-current input):
  R  = (W_l r_{l-1}(t) + b_l) / V_thr          the rate the inputs ask for
  dV = (V_l(t) - V_l(0)) / (t V_thr)             the leftover potential per step
  r_l(t) = R - dV                                (eq. 7-8)
Four sign cases: (R>0, dV>0) common, r in (R - 1/t, R]; (R<0, dV>0) impossible;
(R>0, dV<0) "overdraft", r > R; (R<0, dV<0) mostly silent, r in [0, 1]. Neurons with R == 0 or
dV == 0 are counted as "boundary". The gap r_l(t) - a_l to the normalized ANN's activation
(ReLU for hidden layers, linear output) shows where the error accumulates layer by layer.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.snn.network import SpikingNetwork, ann_forward, layer_current, prepare_input
from snnjax.snn.simulate import simulate

CASES = ("R>0,dV>0", "R<0,dV>0", "R>0,dV<0", "R<0,dV<0", "boundary")


def error_analysis(net: SpikingNetwork, obs, times: Sequence[int], initial_potential: float = 0.0) -> list[dict]:
    """Per time t and layer l: fractions of neurons in each case, and the mean (signed and
    absolute) gap between firing rate and normalized ANN activation, over observations [N, ...].

    Returns a list of dicts {t, layer, cases: {case: fraction}, gap_mean, gap_abs_mean, rate_mean}.
    Constant-current input only (the paper's setting).
    """
    obs = jnp.asarray(obs)
    v_thr = float(net.v_thr)
    a0 = jax.vmap(lambda o: prepare_input(net, o))(obs)
    acts = jax.vmap(lambda x: ann_forward(net, x))(a0)
    out = []
    for t in times:
        res = simulate(net, obs, int(t), initial_potential=initial_potential, method="reference")
        prev_rate = a0
        for l in range(net.num_layers):
            drive = jax.vmap(lambda x, l=l: layer_current(net, l, x))(prev_rate)
            R = np.asarray(drive) / v_thr
            dV = (np.asarray(res.potentials[l]) - initial_potential * v_thr) / (t * v_thr)
            rate = np.asarray(res.spike_counts[l]) / t
            masks = [(R > 0) & (dV > 0), (R < 0) & (dV > 0), (R > 0) & (dV < 0), (R < 0) & (dV < 0)]
            masks.append(~(masks[0] | masks[1] | masks[2] | masks[3]))
            gap = rate - np.asarray(acts[l])
            out.append({"t": int(t), "layer": net.names[l],
                        "cases": {c: float(m.mean()) for c, m in zip(CASES, masks)},
                        "gap_mean": float(gap.mean()), "gap_abs_mean": float(np.abs(gap).mean()),
                        "rate_mean": float(rate.mean())})
            prev_rate = jnp.asarray(rate)
    return out
