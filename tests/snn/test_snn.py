import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import random_nature

from snnjax.conversion.normalize import convert, from_params
from snnjax.nets.models import LayerSpec
from snnjax.snn import (
    SimulationError,
    fanout,
    if_update,
    layer_current,
    prepare_input,
    simulate,
    simulate_one,
    synaptic_ops,
)


def tiny_net(w1, b1, w2, b2, v_thr=1.0):
    params = {"fc1": {"kernel": np.array(w1, np.float32), "bias": np.array(b1, np.float32)},
              "q": {"kernel": np.array(w2, np.float32), "bias": np.array(b2, np.float32)}}
    specs = (LayerSpec("fc1", "dense"), LayerSpec("q", "dense"))
    net = from_params(params, specs, (len(w1),), "flat", 1.0)
    return net.replace(v_thr=jnp.float32(v_thr))


def test_one_if_neuron_six_steps_by_hand():
    # V: .5 -> 1.25 (spike) .25 -> .5 -> 0 -> 1.75 (spike) .75 -> 1.0 (spike, >=) 0
    z = jnp.array([0.5, 0.75, 0.25, -0.5, 1.75, 0.25])

    def step(v, z_t):
        s, v = if_update(v, z_t, 1.0)
        return v, (s, v)

    _, (s, v) = jax.lax.scan(step, jnp.float32(0.0), z)
    np.testing.assert_array_equal(s, [0, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(v, [0.5, 0.25, 0.5, 0.0, 0.75, 0.0])


def test_two_layer_network_by_hand_no_layer_delay():
    # Input 0.5 constant into one neuron (w=1): spikes at t=2,4,6. Output w=.75, b=.125:
    # z2 = .125 (odd t) or .875 (even t) -> V .125, 1.0 spike 0, .125, spike, .125, spike.
    net = tiny_net([[1.0]], [0.0], [[0.75]], [0.125])
    res = simulate(net, np.array([[0.5]], np.float32), 6, times=(1, 2, 5))
    np.testing.assert_array_equal(res.spike_counts[0], [[3.0]])
    np.testing.assert_array_equal(res.spike_counts[1], [[3.0]])  # same-step propagation
    np.testing.assert_allclose(res.normal_t[0, :, 0], [0.0, 0.5, 2 / 5, 0.5], rtol=1e-7)  # T=6 appended
    np.testing.assert_allclose(res.robust_t[0, :3, 0], [0.125, 0.5, 2 / 5 + 0.125 / 5])
    np.testing.assert_allclose(res.membrane_t[0, :3, 0], [0.125, 0.5, (2 * 0.875 + 3 * 0.125) / 5])
    np.testing.assert_array_equal(res.potentials[1], [[0.0]])


def test_threshold_is_not_multiplied_into_currents():
    # eq. (1): z = W theta + b, no V_thr factor: with V_thr = 2, input 0.5 spikes every 4 steps.
    net = tiny_net([[1.0]], [0.0], [[1.0]], [0.0], v_thr=2.0)
    res = simulate(net, np.array([[0.5]], np.float32), 8)
    np.testing.assert_array_equal(res.spike_counts[0], [[2.0]])


@pytest.fixture(scope="module")
def nature():
    ann, obs = random_nature(6, seed=0, n_obs=5)
    return convert(ann, obs, 99.0), obs


def test_eq7_invariant_every_layer_every_time(nature):
    """V_thr N_l(t)/t == (W_l N_{l-1}(t) + t b_l - V_l(t) + V_l(0)) / t for all l, t (eq. 5-7)."""
    snn, obs = nature
    o = obs[:2]
    a0 = jax.vmap(lambda x: prepare_input(snn, x))(jnp.asarray(o))
    for t in (1, 2, 3, 7):
        for v_init in (0.0, 0.5):
            res = simulate(snn, o, t, initial_potential=v_init)
            prev = a0 * t
            for l in range(snn.num_layers):
                drive = jax.vmap(lambda x: layer_current(snn, l, x, with_bias=False))(prev)
                v0 = v_init * float(snn.v_thr)
                rhs = (drive + t * snn.biases[l] - res.potentials[l] + v0) / t
                lhs = float(snn.v_thr) * res.spike_counts[l] / t
                np.testing.assert_allclose(lhs, rhs, atol=2e-4, rtol=1e-4)
                prev = res.spike_counts[l]


def test_jit_equals_no_jit(nature):
    snn, obs = nature
    jitted = jax.jit(simulate_one, static_argnames=("time_steps", "times"))(snn, jnp.asarray(obs[0]), time_steps=9, times=(4, 9))
    with jax.disable_jit():
        plain = simulate_one(snn, jnp.asarray(obs[0]), time_steps=9, times=(4, 9))
    for a, b in zip(jax.tree_util.tree_leaves(jitted), jax.tree_util.tree_leaves(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_vmap_equals_python_loop(nature):
    snn, obs = nature
    batched = simulate(snn, obs[:3], 7)
    for i in range(3):
        single = simulate(snn, obs[i], 7)
        np.testing.assert_allclose(batched.robust[i], single.robust, rtol=1e-6, atol=1e-6)
        for a, b in zip(batched.spike_counts, single.spike_counts):
            np.testing.assert_array_equal(a[i], b)


def test_anytime_readout_equals_shorter_run(nature):
    snn, obs = nature
    long = simulate(snn, obs[:2], 13, times=(3, 8))
    assert long.times == (3, 8, 13)
    for k, t in enumerate((3, 8)):
        short = simulate(snn, obs[:2], t)
        np.testing.assert_array_equal(long.normal_t[:, k], short.normal)
        np.testing.assert_allclose(long.robust_t[:, k], short.robust, rtol=1e-6)
        np.testing.assert_allclose(long.membrane_t[:, k], short.membrane, rtol=1e-6)


def test_membrane_readout_ranks_like_robust(nature):
    snn, obs = nature
    res = simulate(snn, obs, 20, initial_potential=0.5)
    # sum z = V(T) - V(0) + V_thr N(T)  =>  m = V_thr f - V(0)/T
    np.testing.assert_allclose(res.membrane, float(snn.v_thr) * res.robust - 0.5 * float(snn.v_thr) / 20,
                               atol=1e-4)


def test_if_input_encoding_spikes_at_input_rate(nature):
    snn, obs = nature
    res = simulate(snn, obs[:1], 50, input_encoding="if")
    a0 = np.asarray(prepare_input(snn, jnp.asarray(obs[0])))
    # IF input neuron with constant current a0 in [0, 1] fires floor(50 a0) times (V(0)=0)
    np.testing.assert_allclose(res.input_spikes[0], np.floor(50 * a0 + 1e-4), atol=1)


def test_synaptic_ops_and_fanout(nature):
    snn, obs = nature
    fo = fanout(snn)
    # an fc1 input neuron feeds all 512 units; a q input feeds every action
    assert float(fo[3].max()) == 512 and float(fo[4].max()) == 6
    # conv3 (3x3, stride 1) feeds at most 9 positions x 64 channels
    assert float(fo[2].max()) == 9 * 64
    res = simulate(snn, obs[:2], 10)
    ops = synaptic_ops(snn, res)
    manual = sum(float((res.spike_counts[l][0] * fo[l + 1]).sum()) for l in range(4)) + float(fo[0].sum())
    assert float(ops[0]) == pytest.approx(manual, rel=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(time_steps=0), r"time_steps must be an integer in \[1, 10000\], got 0"),
    (dict(time_steps=10001), "got 10001"),
    (dict(time_steps=5, times=(6,)), "readout times"),
    (dict(time_steps=5, input_encoding="poisson"), "input_encoding"),
])
def test_bad_simulation_arguments(nature, kwargs, match):
    snn, obs = nature
    with pytest.raises(SimulationError, match=match):
        simulate(snn, obs[:1], **kwargs)


def test_bad_observations(nature):
    snn, obs = nature
    with pytest.raises(SimulationError, match="shape"):
        simulate(snn, obs[:, :3], 5)
    with pytest.raises(SimulationError, match="dtype"):
        simulate(snn, obs.astype(np.int64), 5)
