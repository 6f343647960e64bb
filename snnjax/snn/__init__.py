"""The spiking network: converted weights, the IF neuron, the simulator and its readouts.

Owns `network` (SpikingNetwork, its currents, eq. 1 and 16; int8 factorization), `neuron` (the
IF neuron's state and step, eq. 2-3), `simulate` (the time loop as a `lax.scan`, vmapped over
observations and agents; eq. 17's readouts at any time), `readout` and `diagnostics` (the
error analysis of eq. 4-15). May import `snnjax.core` only. This package's public names are
re-exported here: `from snnjax.snn import simulate, SpikingNetwork`.
"""

from snnjax.snn import readout
from snnjax.snn.network import (
                                ENCODINGS,
                                INT8_TOLERANCE,
                                KINDS,
                                Int8Layer,
                                NotInt8Error,
                                SimulationError,
                                SpikingNetwork,
                                ann_forward,
                                ann_macs,
                                factor_int8,
                                fanout,
                                fan_in,
                                float32_only,
                                for_this_machine,
                                input_current,
                                int8_as_float32,
                                layer_current,
                                prepare_input,
                                population_axes,
                                q_values,
                                shares_kernels,
                                spike_current,
                                to_bfloat16,
                                to_int8,
                                with_int8_if_exact,
)
from snnjax.snn.neuron import IFState, if_step, if_update, initial_state
from snnjax.snn.simulate import (
                                ARITHMETIC,
                                GROUP_ROWS,
                                METHODS,
                                SimulationResult,
                                auto_chunk,
                                check_args,
                                choose_method,
                                firing_rates,
                                group_rows,
                                map_rows,
                                one_cpu_device,
                                simulate,
                                simulate_fn,
                                simulate_one,
                                simulate_one_chunked,
                                synaptic_ops,
)

__all__ = [
    "ARITHMETIC", "ENCODINGS", "GROUP_ROWS", "INT8_TOLERANCE", "KINDS", "METHODS", "IFState", "Int8Layer",
    "NotInt8Error", "SimulationError", "SimulationResult", "SpikingNetwork", "ann_forward", "ann_macs",
    "auto_chunk", "check_args", "choose_method", "factor_int8", "fan_in", "fanout", "firing_rates", "float32_only",
    "for_this_machine", "int8_as_float32",
    "group_rows", "if_step", "if_update", "initial_state", "input_current", "layer_current", "map_rows", "one_cpu_device",
    "population_axes", "prepare_input", "q_values", "readout", "shares_kernels", "simulate", "simulate_fn",
    "simulate_one",
    "simulate_one_chunked", "spike_current", "synaptic_ops", "to_bfloat16", "to_int8", "with_int8_if_exact",
]
