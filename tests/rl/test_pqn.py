"""PQN trainer: Q(lambda) targets by hand, the limits lambda = 0 and 1, CartPole learning, an
Atari run stopped at a checkpoint and resumed, and config validation."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT

from snnjax.rl import config
from snnjax.rl.config import ConfigError
from snnjax.rl.pqn import q_lambda_targets
from snnjax.rl.training import train


def test_q_lambda_targets_by_hand():
    # gamma = lambda = 0.5. t=3 is envpool's reset step after the terminal t=2 (masked in the loss).
    # G2 = 1 (terminal); G1 = 1 + .5 (.5 G2 + .5 * 10) = 3.75; G0 = 1 + .5 (.5 * 3.75 + 5) = 4.4375
    r = jnp.ones(4)
    term = jnp.array([0.0, 0.0, 1.0, 0.0])
    valid = jnp.array([True, True, True, False])
    next_qmax = jnp.array([10.0, 10.0, 10.0, 5.0])
    g = q_lambda_targets(r, term, valid, next_qmax, 0.5, 0.5)
    np.testing.assert_allclose(g[:3], [4.4375, 3.75, 1.0])


def test_q_lambda_limits_and_truncation():
    rng = np.random.default_rng(0)
    r = jnp.asarray(rng.normal(size=6), jnp.float32)
    nq = jnp.asarray(rng.normal(size=6), jnp.float32)
    term = jnp.zeros(6)
    valid = jnp.ones(6, bool)
    # lambda = 0: one-step Q-learning targets
    np.testing.assert_allclose(q_lambda_targets(r, term, valid, nq, 0.9, 0.0), r + 0.9 * nq, rtol=1e-6)
    # lambda = 1: the discounted return of the rollout, bootstrapped once at its end
    disc = 0.9 ** np.arange(6)
    g0 = float((disc * np.asarray(r)).sum() + 0.9**6 * float(nq[-1]))
    np.testing.assert_allclose(q_lambda_targets(r, term, valid, nq, 0.9, 1.0)[0], g0, rtol=1e-5)
    # a truncated episode (not terminal) whose next call is a reset step bootstraps from its last
    # frame only, never from the reset step's value
    valid_t = valid.at[3].set(False)
    g = q_lambda_targets(r, term, valid_t, nq, 0.9, 1.0)
    np.testing.assert_allclose(g[2], float(r[2]) + 0.9 * float(nq[2]), atol=1e-6)


def test_pqn_learns_cartpole(tmp_path):
    cfg = config.load(ROOT / "configs" / "pqn_cartpole.toml", ["eval_episodes=10"])
    summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["algorithm"] == "pqn" and summary["agent_steps"] >= cfg.total_steps
    # 4 epochs x 16 minibatches per rollout of 16 envs x 32 steps (reset steps do not count as steps)
    rollouts = summary["updates"] // 64
    assert summary["updates"] == 64 * rollouts and rollouts * 16 * 32 >= summary["agent_steps"]
    assert summary["eval_return_mean"] >= 200, summary["eval_return_mean"]  # random: about 22
    assert (tmp_path / "run" / "qnetwork.npz").exists()


def test_pqn_atari_stopped_at_checkpoint_resumes(tmp_path):
    over = ["total_steps=3000", "num_envs=8", "pqn_rollout=16", "pqn_minibatches=4", "checkpoint_every=1000",
            "log_every=500", "eps_decay_steps=1000"]
    cfg = config.load(ROOT / "configs" / "recipes" / "pqn.toml", over)
    run = tmp_path / "run"
    out = train(cfg, run, progress=False, stop_after_checkpoints=1)
    assert 1000 <= out["stopped_at_step"] < 3000 and not (run / "qnetwork.npz").exists()
    summary = train(cfg, run, resume=True, progress=False)
    assert summary["agent_steps"] >= 3000 and summary["updates"] > out["updates"]
    assert json.loads((run / "eval.json").read_text())["algorithm"] == "pqn"
    steps = [int(line.split(",")[0]) for line in (run / "log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] >= 3000  # the resumed log continues the old one


@pytest.mark.parametrize("over,match", [(["algorithm=ppo"], "algorithm must be"),
                                        (["pqn_lambda=1.5"], "pqn_lambda"),
                                        (["pqn_minibatches=7"], "not divisible")])
def test_pqn_config_errors(over, match):
    with pytest.raises(ConfigError, match=match):
        config.load(ROOT / "configs" / "pqn_cartpole.toml", over)
