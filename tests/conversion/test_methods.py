"""Conversion methods behind one interface (calibrate, then build) agree with the functions
they wrap, and differ from each other only in the lambdas and V(0) they choose."""

import jax.numpy as jnp
import numpy as np
from conftest import random_nature

from snnjax.conversion import methods
from snnjax.conversion.normalize import auto_percentile, convert


def _same(a, b):
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_percentile_method_is_convert():
    ann, obs = random_nature(n_obs=40)
    m = methods.Percentile()
    cal = m.calibrate(ann, obs, [99.0, 99.9])
    _same(m.build(ann, cal, 99.9), convert(ann, obs, 99.9))
    _same(m.build(ann, cal, 99.0), convert(ann, obs, 99.0))
    cw = methods.Percentile(channelwise=True)
    _same(cw.build(ann, cw.calibrate(ann, obs, [99.9]), 99.9), convert(ann, obs, 99.9, channelwise=True))


def test_auto_percentile_method_picks_the_functions_choice():
    ann, obs = random_nature(n_obs=40)
    m = methods.AutoPercentile(time_steps=8, candidates=(99.0, 100.0))
    cal = m.calibrate(ann, obs)
    best, rates = auto_percentile(ann, obs, 8, (99.0, 100.0))
    assert cal["percentile"] == best and cal["rates"] == rates
    _same(m.build(ann, cal, 12.3), convert(ann, obs, best))  # the p it is given is ignored


def test_qcfs_method_thresholds_are_the_clip_values():
    ann, obs = random_nature(n_obs=40)
    clips = tuple(jnp.float32(c) for c in (0.5, 1.5, 2.0, 3.0))
    m = methods.QCFS(ann, clips, levels=8)
    snn = m.build(ann, m.calibrate(ann, obs, [99.9]), 99.9)
    np.testing.assert_allclose([float(x) for x in snn.lambdas[:-1]], [0.5, 1.5, 2.0, 3.0])
    assert m.initial_potential == 0.5 and float(snn.v_thr) == 1.0
    # eq. (16) with lambda_0 = 1: layer 1's weights are divided by its clip value
    np.testing.assert_allclose(np.asarray(snn.weights[0]), np.asarray(ann.weights[0]) / 0.5, rtol=1e-6)


def test_methods_share_a_calibration_exactly_when_its_result_is_the_same():
    """Equal `calibration_key`s: one calibration serves both methods (V(0) and V_thr enter only
    `build`); the latency study relies on it to run one statistics pass per kind."""
    ann, obs = random_nature(n_obs=40)
    paper, half = methods.Percentile(), methods.Percentile(initial_potential=0.5, v_thr=2.0)
    assert paper.calibration_key() == half.calibration_key()
    a, b = paper.calibrate(ann, obs, [99.9]), half.calibrate(ann, obs, [99.9])
    for x, y in zip(a.lambdas(99.9), b.lambdas(99.9)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert paper.calibration_key() != methods.Percentile(channelwise=True).calibration_key()
    auto = methods.AutoPercentile(time_steps=8, candidates=(99.0, 100.0))
    # V(0) changes which p the auto search picks, so it is part of the auto-p key
    assert auto.calibration_key() != methods.AutoPercentile(8, (99.0, 100.0), initial_potential=0.5).calibration_key()
    assert auto.calibration_key() == methods.AutoPercentile(8, (99.0, 100.0), name="other").calibration_key()
    assert auto.calibration_key() != paper.calibration_key()
