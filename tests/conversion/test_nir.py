"""NIR round trip: export, read back with nir.read, rebuild, simulate: identical spike counts."""

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_nature

from snnjax.conversion.normalize import convert
from snnjax.snn import simulate

nir = pytest.importorskip("nir")


def test_nir_round_trip_identical_spikes(tmp_path):
    from snnjax.conversion.nir import export_nir, from_nir

    ann, obs = random_nature(6, seed=0, n_obs=3)
    snn = convert(ann, obs, 99.0)
    path = export_nir(snn, tmp_path / "dqn.nir", time_steps=25)
    graph = nir.read(path)
    conv1 = graph.nodes["conv1"]
    assert np.asarray(conv1.weight).shape == (32, 4, 8, 8)  # OIHW
    assert np.asarray(graph.nodes["fc1"].weight).shape == (512, 3136)
    assert np.all(np.asarray(getattr(graph.nodes["q_if"], "v_reset", 0)) == 0)  # nir <= 1.0.4 has no v_reset
    # the dense layer's inputs are reordered to channel-first: input (c, h, w) of NIR's flatten
    w_ours = np.asarray(snn.weights[3]).reshape(7, 7, 64, 512)
    np.testing.assert_array_equal(np.asarray(graph.nodes["fc1"].weight)[:, 1 * 49 + 2 * 7 + 3], w_ours[2, 3, 1])
    back = from_nir(graph)
    a, b = simulate(snn, obs, 25), simulate(back, obs, 25)
    for x, y in zip(a.spike_counts, b.spike_counts):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(np.asarray(a.robust), np.asarray(b.robust))
    assert float(jnp.sum(a.spike_counts[2])) > 0
