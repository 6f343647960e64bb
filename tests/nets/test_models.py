import jax
import jax.numpy as jnp
import numpy as np

from snnjax.nets.models import MLPQNetwork, NatureDQN, init_params, layer_specs, param_count


def test_nature_dqn_parameter_count_6_actions():
    # conv1 8*8*4*32+32=8224, conv2 4*4*32*64+64=32832, conv3 3*3*64*64+64=36928,
    # fc1 3136*512+512=1606144, q 512*6+6=3078 -> 1,687,206
    p = init_params(NatureDQN(6), (4, 84, 84), jax.random.key(0))
    assert param_count(p) == 1_687_206
    assert p["fc1"]["kernel"].shape == (3136, 512)


def test_layer_order_is_explicit():
    assert [s.name for s in layer_specs(NatureDQN(4))] == ["conv1", "conv2", "conv3", "fc1", "q"]
    assert [s.stride for s in layer_specs(NatureDQN(4))][:3] == [4, 2, 1]
    names = [s.name for s in layer_specs(MLPQNetwork(2, (8, 8, 8)))]
    assert names == ["fc1", "fc2", "fc3", "q"]


def test_nature_dqn_scales_uint8_input():
    net = NatureDQN(3)
    p = init_params(net, (4, 84, 84), jax.random.key(1))
    obs = np.random.default_rng(0).integers(0, 256, (2, 4, 84, 84), dtype=np.uint8)
    q_u8 = net.apply({"params": p}, jnp.asarray(obs))
    q_f = net.apply({"params": p}, jnp.asarray(obs, jnp.float32))
    assert q_u8.shape == (2, 3)
    np.testing.assert_allclose(q_u8, q_f, rtol=1e-6)
