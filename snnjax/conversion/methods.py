"""Conversion methods as siblings behind one small interface: calibrate, then build.

    cal = method.calibrate(ann, frames, percentiles)   # what the calibration frames teach
    method.calibration_key()                           # equal keys: one calibration serves both
    snn = method.build(ann, cal, p)                    # a SpikingNetwork for percentile p
    simulate(snn, obs, T, initial_potential=method.initial_potential)

`ann` is the analog network (`convert.from_qnetwork`); `frames` the DQN's own calibration
frames [N, *obs_shape]; `percentiles` every p that `build` will be asked for (the statistics
keep what they need for all of them in one pass). The simulator never knows which method
built a network.

- `Percentile`: the paper's data-based normalization (eq. 16) by the p-th percentile of each
  layer's activations; `channelwise=True`: one lambda per channel (Kim et al. 2020).
- `AutoPercentile`: `Percentile`, with p chosen by the conversion rate at `time_steps` on the
  calibration frames (`convert.auto_percentile`); `build` ignores the p it is given.
- `QCFS`: a network fine-tuned with quantization-clip-floor-shift activations (`snnjax.conversion.qcfs`,
  Bu et al. 2022): thresholds are its clip values, V(0) = V_thr / 2; p sets the output layer's
  lambda only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from snnjax.conversion.normalize import ActivationStats, auto_percentile, check_percentile, normalize
from snnjax.conversion.qcfs import QCFS
from snnjax.snn import SpikingNetwork

__all__ = ["AutoPercentile", "Percentile", "QCFS", "build_one"]  # QCFS: defined beside its fine-tuning (`qcfs`)


def build_one(method, ann: SpikingNetwork, frames, percentile: float) -> SpikingNetwork:
    """The SNN of `method` at one percentile: calibrate on `frames`, then build."""
    return method.build(ann, method.calibrate(ann, frames, [percentile]), percentile)


@dataclasses.dataclass(frozen=True)
class Percentile:
    """The paper's method (eq. 16), per layer or per channel."""

    channelwise: bool = False
    v_thr: float = 1.0
    initial_potential: float = 0.0
    name: str = "percentile"

    def calibrate(self, ann: SpikingNetwork, frames, percentiles: Sequence[float]) -> ActivationStats:
        return ActivationStats(ann, frames, min(check_percentile(p) for p in percentiles),
                               channelwise=self.channelwise)

    def calibration_key(self) -> tuple:
        """What `calibrate` depends on besides its arguments (V_thr and V(0) only enter `build`)."""
        return ("percentile", self.channelwise)

    def build(self, ann: SpikingNetwork, cal: ActivationStats, percentile: float) -> SpikingNetwork:
        return normalize(ann, cal.lambdas(percentile), self.v_thr, percentile)


@dataclasses.dataclass(frozen=True)
class AutoPercentile:
    """`Percentile` with p picked among `candidates` by the conversion rate at `time_steps`."""

    time_steps: int = 50
    candidates: tuple[float, ...] = (99.0, 99.9, 99.99, 99.999, 100.0)
    channelwise: bool = False
    v_thr: float = 1.0
    initial_potential: float = 0.0
    name: str = "auto-p"

    def calibrate(self, ann: SpikingNetwork, frames, percentiles: Sequence[float] = ()) -> dict[str, Any]:
        stats = ActivationStats(ann, frames, min(check_percentile(p) for p in self.candidates),
                                channelwise=self.channelwise)
        best, rates = auto_percentile(ann, frames, self.time_steps, self.candidates, channelwise=self.channelwise,
                                      v_thr=self.v_thr, initial_potential=self.initial_potential, stats=stats)
        return {"stats": stats, "percentile": best, "rates": rates}

    def calibration_key(self) -> tuple:
        """The choice of p simulates, so every field but the name matters."""
        return ("auto-p", self.time_steps, tuple(self.candidates), self.channelwise, self.v_thr, self.initial_potential)

    def build(self, ann: SpikingNetwork, cal: dict, percentile: float | None = None) -> SpikingNetwork:
        p = cal["percentile"]
        return normalize(ann, cal["stats"].lambdas(p), self.v_thr, p)


