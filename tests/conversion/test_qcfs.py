"""QCFS fine-tuning and conversion: the activation by hand, IF == QCFS exactly at T = L, the
distillation loss falls, save/load round trip."""

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT

from snnjax.conversion import qcfs


def test_qcfs_activation_by_hand():
    # lambda = 1, L = 4: h(x) = clip(floor(4x + 1/2), 0, 4) / 4.
    x = jnp.array([-0.3, 0.1, 0.125, 0.2, 0.4, 0.9, 2.0])
    np.testing.assert_array_equal(np.asarray(qcfs.qcfs(x, jnp.float32(1.0), 4)), [0, 0, 0.25, 0.25, 0.5, 1.0, 1.0])
    # lambda = 2, L = 2: h(x) = clip(floor(x + 1/2), 0, 2).
    x = jnp.array([0.49, 0.5, 1.6, 3.0])
    np.testing.assert_array_equal(np.asarray(qcfs.qcfs(x, jnp.float32(2.0), 2)), [0, 1, 2, 2])


def test_qcfs_gradient_is_straight_through():
    import jax

    g = jax.grad(lambda x: qcfs.qcfs(x, jnp.float32(1.0), 4))(jnp.float32(0.3))
    assert float(g) == pytest.approx(1.0)  # inside (0, lambda): d/dx of lambda/L * (x L / lambda + 1/2)
    assert float(jax.grad(lambda x: qcfs.qcfs(x, jnp.float32(1.0), 4))(jnp.float32(2.0))) == 0.0


@pytest.mark.parametrize("clip,levels", [(1.0, 8), (0.5, 4), (2.0, 16)])
def test_if_neuron_with_threshold_clip_and_half_start_equals_qcfs(clip, levels):
    """One IF layer, constant input x, threshold = clip value, V(0) = V_thr / 2, T = L steps:
    spike count x lambda / T equals h(x) exactly, for every x on a grid (dyadic values: exact sums)."""
    from snnjax.conversion.normalize import from_params, normalize
    from snnjax.nets.models import LayerSpec
    from snnjax.snn import simulate

    grid = np.arange(-32, 200, dtype=np.float32) / 64.0 * clip  # -0.5 .. 3.1 clip values
    n = len(grid)
    params = {"fc1": {"kernel": np.eye(n, dtype=np.float32), "bias": np.zeros(n, np.float32)},
              "q": {"kernel": np.ones((n, 1), np.float32), "bias": np.zeros(1, np.float32)}}
    ann = from_params(params, (LayerSpec("fc1", "dense"), LayerSpec("q", "dense")), (n,), "flat", 1.0)
    snn = normalize(ann, [np.float32(clip), np.float32(1.0)], 1.0)
    res = simulate(snn, grid[None], levels, initial_potential=0.5, method="reference")
    rate = np.asarray(res.spike_counts[0][0]) * clip / levels
    np.testing.assert_array_equal(rate, np.asarray(qcfs.qcfs(jnp.asarray(grid), jnp.float32(clip), levels)))


@pytest.fixture(scope="module")
def cartpole():
    import snnjax

    ann = snnjax.load_qnetwork(ROOT / "models" / "CartPole-v1.npz")
    frames = np.random.default_rng(0).normal(0, 0.5, (512, 4)).astype(np.float32)
    return ann, frames


def test_finetune_lowers_the_distillation_loss_and_round_trips(cartpole, tmp_path):
    from snnjax.nets.checkpoint import load_qnetwork

    ann, frames = cartpole
    tuned, clips, hist = qcfs.finetune(ann, frames, levels=2, steps=150, batch_size=64, learning_rate=1e-3,
                                       log=lambda *_: None)
    assert hist["loss"][-1] < 0.5 * hist["loss_start"], hist
    assert len(clips) == ann.num_layers - 1 and all(float(jnp.min(c)) > 0 for c in clips)
    _, meta = load_qnetwork(ROOT / "models" / "CartPole-v1.npz")
    path = qcfs.save(tmp_path / "q.npz", tuned, clips, meta, 2, hist)
    net2, clips2, levels, meta2 = qcfs.load(path)
    assert levels == 2 and meta2["method"] == "qcfs"
    for a, b in zip(tuned.weights, net2.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(clips, clips2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-7)
    # to_snn maps the clip values to thresholds: at T = L the first hidden layer (constant input
    # current) fires exactly the QCFS levels, up to float rounding at level boundaries.
    from snnjax.snn import layer_current, prepare_input, simulate

    snn = qcfs.to_snn(net2, clips2, frames)
    res = simulate(snn, frames[:64], 2, initial_potential=0.5, method="reference")
    z1 = np.stack([np.asarray(layer_current(net2, 0, prepare_input(net2, jnp.asarray(o)))) for o in frames[:64]])
    h1 = np.asarray(qcfs.qcfs(jnp.asarray(z1), clips2[0], 2))
    rate1 = np.asarray(res.spike_counts[0]) * np.asarray(clips2[0]) / 2
    assert np.mean(np.isclose(rate1, h1, rtol=1e-5, atol=1e-6)) >= 0.99


def test_load_refuses_a_plain_q_network():
    from snnjax.nets.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="not a QCFS network"):
        qcfs.load(ROOT / "models" / "CartPole-v1.npz")


def test_channelwise_clips_finetune_and_convert(cartpole):
    """One clip value per channel: trained per channel, and the conversion takes them as
    per-channel thresholds (eq. 16 with vector lambdas)."""
    from snnjax.snn import simulate

    ann, frames = cartpole
    tuned, clips, hist = qcfs.finetune(ann, frames, levels=4, steps=60, batch_size=64, learning_rate=1e-3,
                                       channelwise=True, log=lambda *_: None)
    assert [np.shape(c) for c in clips] == [(w.shape[-1],) for w in ann.weights[:-1]]
    assert hist["loss"][-1] < hist["loss_start"]
    snn = qcfs.to_snn(tuned, clips, frames)
    np.testing.assert_allclose(np.asarray(snn.lambdas[0]), np.asarray(clips[0]))
    res = simulate(snn, frames[:8], 4, initial_potential=0.5)
    assert res.robust.shape == (8, ann.num_actions)
