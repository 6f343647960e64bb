import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_nature

from snnjax.conversion.normalize import ActivationStats, ConvertError, TopK, convert, from_params, normalize
from snnjax.nets.models import LayerSpec
from snnjax.snn import ann_forward, prepare_input


def hand_net():
    params = {"fc1": {"kernel": np.eye(2, dtype=np.float32), "bias": np.zeros(2, np.float32)},
              "q": {"kernel": np.ones((2, 1), np.float32), "bias": np.ones(1, np.float32)}}
    return from_params(params, (LayerSpec("fc1", "dense"), LayerSpec("q", "dense")), (2,), "flat", 1.0)


FRAMES = np.array([[1.0, 2.0], [3.0, 0.0], [0.5, 4.0]], np.float32)


def test_three_frame_percentile_normalization_by_hand():
    # hidden activations pooled: [0, .5, 1, 2, 3, 4]; p50: h = 5*.5 = 2.5 -> 1 + .5*(2-1) = 1.5
    # outputs q = [4, 4, 5.5]; p50: h = 1 -> 4
    snn = convert(hand_net(), FRAMES, percentile=50.0)
    np.testing.assert_allclose([float(x) for x in snn.lambdas], [1.5, 4.0])
    np.testing.assert_allclose(snn.weights[0], np.eye(2) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(snn.weights[1], np.full((2, 1), 1.5 / 4), rtol=1e-6)
    np.testing.assert_allclose(snn.biases[1], [0.25])
    snn100 = convert(hand_net(), FRAMES, percentile=100.0)  # max-norm (Diehl et al. 2015)
    np.testing.assert_allclose([float(x) for x in snn100.lambdas], [4.0, 5.5])


def test_channelwise_lambdas_by_hand():
    # channel 0 values [1, 3, .5] -> max 3; channel 1 [2, 0, 4] -> max 4; output layer-wise 5.5
    snn = convert(hand_net(), FRAMES, percentile=100.0, channelwise=True)
    np.testing.assert_allclose(snn.lambdas[0], [3.0, 4.0])
    np.testing.assert_allclose(snn.weights[0], np.diag([1 / 3, 1 / 4]), rtol=1e-6)
    np.testing.assert_allclose(snn.weights[1][:, 0], [3 / 5.5, 4 / 5.5], rtol=1e-6)


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99, 100.0, 99.5])
def test_streaming_percentile_is_exact(p):
    rng = np.random.default_rng(1)
    data = rng.exponential(size=(10_000, 3)).astype(np.float32)
    tk = TopK(10_000, 99.0, 3)
    for i in range(0, 10_000, 777):
        tk.update(data[i:i + 777])
    np.testing.assert_allclose(tk.percentile(p), np.percentile(data, p, axis=0), rtol=1e-6)
    assert tk.buf.shape[0] <= 101


@pytest.fixture(scope="module")
def nature():
    return random_nature(6, seed=3, n_obs=24)


@pytest.mark.parametrize("channelwise", [False, True])
def test_normalization_preserves_argmax_on_calibration_frames(nature, channelwise):
    ann, obs = nature
    snn = convert(ann, obs, 99.9, channelwise=channelwise, batch_size=7)
    fwd = jax.vmap(lambda o, net: ann_forward(net, prepare_input(net, o))[-1], in_axes=(0, None))
    q0 = fwd(jnp.asarray(obs), ann)
    q1 = fwd(jnp.asarray(obs), snn)
    np.testing.assert_array_equal(jnp.argmax(q0, -1), jnp.argmax(q1, -1))
    np.testing.assert_allclose(q1 * snn.lambdas[-1], q0, rtol=2e-4, atol=2e-5)


def test_stats_once_many_percentiles_match_direct(nature):
    ann, obs = nature
    stats = ActivationStats(ann, obs, p_min=99.0)
    for p in (99.0, 99.9, 100.0):
        direct = convert(ann, obs, p)
        viastats = normalize(ann, stats.lambdas(p), percentile=p)
        for a, b in zip(direct.weights, viastats.weights):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ConvertError, match="below the p_min"):
        stats.lambdas(50.0)


@pytest.mark.parametrize("p", [0.0, -1.0, 100.5, float("nan")])
def test_bad_percentile(nature, p):
    ann, obs = nature
    with pytest.raises(ConvertError, match="percentile must be in \\(0, 100\\]"):
        convert(ann, obs, p)


def test_empty_calibration_and_unknown_layer(nature):
    ann, obs = nature
    with pytest.raises(ConvertError, match="empty"):
        convert(ann, obs[:0], 99.9)
    with pytest.raises(ConvertError, match="shape"):
        convert(ann, obs[:, :, :80], 99.9)
    with pytest.raises(ConvertError, match="kind 'maxpool'"):
        from_params({"pool": {}}, (LayerSpec("pool", "maxpool"),), (4,), "flat", 1.0)


def test_auto_percentile_picks_best_conversion_rate(nature):
    from snnjax.conversion.normalize import auto_percentile
    from snnjax.snn import simulate

    ann, obs = nature
    best, rates = auto_percentile(ann, obs, time_steps=8, candidates=(99.0, 100.0), n_eval=12)
    assert set(rates) == {99.0, 100.0} and rates[best] == max(rates.values())
    # recompute the winner's rate directly
    snn = convert(ann, obs, best)
    fwd = jax.vmap(lambda o: ann_forward(ann, prepare_input(ann, o))[-1])
    idx = np.linspace(0, len(obs) - 1, 12).astype(int)
    target = np.asarray(jnp.argmax(fwd(jnp.asarray(obs[idx])), -1))
    got = (np.asarray(simulate(snn, obs[idx], 8).actions("robust")) == target).mean()
    assert got == pytest.approx(rates[best])
