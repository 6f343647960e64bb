"""snnjax: convert Deep Q-Networks to event-driven spiking neural networks and evaluate them.

Implements Tan, Patel, Kozma, "Strategy and Benchmark for Converting Deep Q-Networks to
Event-Driven Spiking Neural Networks" (AAAI 2021) in JAX. Public API:

    net  = snnjax.load_qnetwork("models/Breakout-v5.npz")   # analog network
    snn  = snnjax.convert(net, calibration_obs, percentile=99.9)
    res  = snnjax.simulate(snn, obs, time_steps=500, times=(50, 100))
    res.robust, res.normal, res.membrane, res.spike_counts, res.potentials
"""

from snnjax.conversion.normalize import ActivationStats, ConvertError, convert, from_qnetwork, normalize
from snnjax.snn import (
    SimulationError,
    SimulationResult,
    SpikingNetwork,
    ann_forward,
    ann_macs,
    firing_rates,
    simulate,
    simulate_one,
    synaptic_ops,
)
from snnjax.snn.readout import normal_rate, robust_rate, select_action

__all__ = [
    "ActivationStats", "ConvertError", "SimulationError", "SimulationResult", "SpikingNetwork",
    "ann_forward", "ann_macs", "convert", "firing_rates", "from_qnetwork", "load_qnetwork",
    "normal_rate", "normalize", "robust_rate", "select_action", "simulate", "simulate_one",
    "synaptic_ops",
]
__version__ = "0.1.0"


def load_qnetwork(path) -> SpikingNetwork:
    """Load a Q-network file (`snnjax train` output or `models/*.npz`) as an analog network."""
    from snnjax.nets.checkpoint import load_qnetwork as _load

    params, meta = _load(path)
    return from_qnetwork(params, meta)
