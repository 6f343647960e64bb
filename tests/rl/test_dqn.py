import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.nets.models import MLPQNetwork
from snnjax.rl.config import ConfigError, TrainConfig
from snnjax.rl.dqn import epsilon, init_state, make_optimizer, make_update, td_target


def test_td_target_hand_worked():
    q_next_target = jnp.array([1.0, 3.0, 2.0])
    assert float(td_target(1.0, 0.99, q_next_target)) == pytest.approx(1 + 0.99 * 3)
    # Double DQN: the online net picks action 0, the target net values it at 1.0
    assert float(td_target(1.0, 0.99, q_next_target, jnp.array([5.0, 0.0, 0.0]))) == pytest.approx(1.99)
    assert float(td_target(2.0, 0.0, q_next_target)) == 2.0  # terminal: no bootstrap


def test_td_target_batch_vmapped():
    t = jax.vmap(td_target)(jnp.array([0.0, 1.0]), jnp.array([0.5, 0.0]), jnp.array([[2.0, 4.0], [9.0, 9.0]]))
    np.testing.assert_allclose(t, [2.0, 1.0])


def test_epsilon_schedule():
    cfg = TrainConfig(eps_start=1.0, eps_end=0.1, eps_decay_steps=1000)
    assert epsilon(cfg, 0) == 1.0
    assert epsilon(cfg, 500) == pytest.approx(0.55)
    assert epsilon(cfg, 1000) == pytest.approx(0.1)
    assert epsilon(cfg, 10**7) == pytest.approx(0.1)


def test_update_reduces_loss_and_copies_target():
    cfg = TrainConfig(optimizer="adam", learning_rate=1e-2, target_update_every=3, batch_size=8)
    net = MLPQNetwork(2, (16,))
    opt = make_optimizer(cfg)
    state = init_state(cfg, net, opt, (4,))
    rng = np.random.default_rng(0)
    batch = dict(obs=rng.normal(size=(8, 4)).astype(np.float32), action=rng.integers(0, 2, 8).astype(np.int32),
                 ret=np.ones(8, np.float32), discount=np.zeros(8, np.float32),
                 next_obs=rng.normal(size=(8, 4)).astype(np.float32))
    update = jax.jit(make_update(cfg, net, opt))
    losses = []
    for i in range(3):
        state, m = update(state, batch)
        losses.append(float(m["loss"]))
        same = jax.tree_util.tree_all(jax.tree_util.tree_map(
            lambda a, b: bool(jnp.array_equal(a, b)), state.params, state.target_params))
        assert same == (i == 2)  # copied on the 3rd update only
    assert losses[-1] < losses[0]
    assert int(state.updates) == 3


@pytest.mark.parametrize("field,value", [("total_steps", 0), ("batch_size", -1), ("learning_rate", 0.0),
                                         ("optimizer", "sgd"), ("eps_end", 1.5)])
def test_bad_config_values(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})
