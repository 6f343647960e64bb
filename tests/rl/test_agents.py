"""Agents and the one play loop: exploration by hand, jit == no-jit, env-count independence,
the trainer's exploration unchanged by the agent interface."""

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT

from snnjax.rl import agents


def test_epsilon_greedy_extremes_and_shared_draws():
    greedy = jnp.array([[1, 2, 3, 0], [1, 2, 3, 0]])  # 2 agents x 4 envs
    key = jax.random.key(3)
    np.testing.assert_array_equal(agents.epsilon_greedy(key, greedy, 0.0, 5), greedy)
    rand = agents.epsilon_greedy(key, greedy, 1.0, 5, env_index=jnp.arange(4))
    np.testing.assert_array_equal(rand[0], rand[1])  # env e of every agent gets the same draw
    assert rand.dtype == jnp.int32 and np.all((0 <= rand) & (rand < 5))


def test_epsilon_greedy_batch_draw_is_the_trainers_formula():
    """Without env_index: randint(k1, [E]) and uniform(k2, [E]) < eps, as the trainer always drew."""
    key, greedy = jax.random.key(11), jnp.arange(6) % 4
    k1, k2 = jax.random.split(key)
    want = jnp.where(jax.random.uniform(k2, (6,)) < 0.3, jax.random.randint(k1, (6,), 0, 4), greedy)
    np.testing.assert_array_equal(agents.epsilon_greedy(key, greedy, 0.3, 4), want)


def test_per_env_draws_do_not_depend_on_which_envs_are_asked():
    key = jax.random.key(0)
    g = jnp.zeros((1, 64), jnp.int32)
    full = agents.epsilon_greedy(key, g, 0.5, 6, env_index=jnp.arange(64))
    part = agents.epsilon_greedy(key, g[:, 10:20], 0.5, 6, env_index=jnp.arange(10, 20))
    np.testing.assert_array_equal(full[:, 10:20], part)
    explored = np.asarray(full[0] != 0)
    assert 16 < explored.sum() < 48  # about 0.5 x 5/6 of 64 envs take a non-greedy action


def test_act_jit_equals_no_jit():
    from conftest import random_nature

    from snnjax.rl.agents import dqn_agent

    ann, obs = random_nature(num_actions=4, n_obs=6)
    agent = agents.side_by_side(agents.snn_agent(4, 5, (2, 5), batch=3), dqn_agent(ann, 0.3))
    from snnjax.conversion.normalize import convert

    pop = jax.tree_util.tree_map(lambda x: x[None], convert(ann, obs, 99.0))
    o = jnp.asarray(obs).reshape(2, 3, *obs.shape[1:])
    key, idx = jax.random.key(1), jnp.arange(3)
    a1, aux1 = agent.act((pop, ann), o, key, 0.3, idx)
    a2, aux2 = jax.jit(agent.act)((pop, ann), o, key, 0.3, idx)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(aux1["match"], aux2["match"])
    assert aux1["match"].shape == (1, 3, 3, 2)


def test_random_agent_is_eps_one():
    a = agents.random_agent(7)
    acts, _ = a.act(None, jnp.zeros((2, 5, 3)), jax.random.key(0), env_index=jnp.arange(5))
    np.testing.assert_array_equal(acts, agents.epsilon_greedy(jax.random.key(0), jnp.zeros((2, 5), jnp.int32),
                                                              1.0, 7, jnp.arange(5)))


def test_side_by_side_refuses_other_action_counts():
    with pytest.raises(ValueError, match="4 and 6 actions"):
        agents.side_by_side(agents.random_agent(4), agents.random_agent(6))


def test_an_episode_does_not_depend_on_how_many_are_played():
    """Episode e's score depends only on (model, seed, e): 2 episodes are the first 2 of 3."""
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import score_dqn

    params, meta = load_qnetwork(ROOT / "models" / "Pong-v5.npz")
    r2, l2 = score_dqn(params, meta, 2, seed=4, eps=0.3, max_episode_steps=150)
    r3, l3 = score_dqn(params, meta, 3, seed=4, eps=0.3, max_episode_steps=150)
    np.testing.assert_array_equal(r2, r3[:2])
    np.testing.assert_array_equal(l2, l3[:2])


# The trainer's parameters after 401 updates of the campaign recipe on Breakout (4 envs, 2,000
# agent steps), recorded with the trainer before the agent interface and the one play loop
# existed (commit 3f05565). The refactor must not change what the trainer computes.
TRAINER_SHA256 = "4937e05661e62573cf8a5fd8066f9d42798fa1c04db638b0f9ae95a4e4397611"


@pytest.mark.slow  # a regression guard of a past refactor, ~15 s
def test_trainer_parameters_unchanged_by_the_refactor(tmp_path):
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl import config
    from snnjax.rl.training import train

    cfg = config.load(ROOT / "configs" / "campaign.toml",
                      ["total_steps=2000", "num_envs=4", "replay_capacity=4000", "learning_starts=400",
                       "checkpoint_every=100000", "log_every=500", "eval_episodes=0"])
    summary = train(cfg, tmp_path / "run", progress=False)
    assert summary["updates"] == 401
    params, _ = load_qnetwork(tmp_path / "run" / "qnetwork.npz")
    h = hashlib.sha256()
    for _, x in jax.tree_util.tree_leaves_with_path(params):
        h.update(np.ascontiguousarray(np.asarray(x, np.float32)).tobytes())
    assert h.hexdigest() == TRAINER_SHA256


def test_expected_steps_by_hand():
    """The progress bar's total in lockstep loop steps: the longest known episode (finished or
    prior) while it lies ahead, else 1.25 x the steps so far, at most the cap."""
    from snnjax.rl.play import expected_steps

    assert expected_steps(0, [], [400, 800], cap=4500) == 800
    assert expected_steps(500, [300, 650], [400, 800], cap=4500) == 800
    assert expected_steps(900, [300, 650], [400, 800], cap=4500) == 1125  # past every known length
    assert expected_steps(0, [], [], cap=4500) == 0 and expected_steps(4000, [], [400], cap=4500) == 4500


def test_progress_line_by_hand():
    """A play without a bar (a log file) reports steps, episodes, decisions/s and the time left at
    its recent pace: 30,000 decisions in the last 600 s, 90,000 to come -> 90,000 x 0.02 s = 30 min left."""
    import time

    from snnjax.rl.play import progress_line

    now = 1_800_000_000.0
    line = progress_line("eval Tennis-v5 T=500", 1000, 4000, 5, 75, 30_000, 600.0, 90_000, now=now)
    end = time.strftime("%H:%M", time.localtime(now + 1800))
    assert line == ("eval Tennis-v5 T=500: step 1,000 of about 4,000 (25%), 5 of 75 episodes over, "
                    f"50.0 agent decisions/s, about 30 min left (ends about {end})")
    assert "about 0 min left" in progress_line("x", 10, 10, 3, 3, 30, 5.0, 0)


def test_projected_end_by_hand():
    from snnjax.rl.play import projected_end

    # 30,000 decisions in 600 s: 90,000 more at 0.02 s each
    assert projected_end(30_000, 600.0, 90_000, now=100.0) == 100.0 + 1800.0
    assert projected_end(0, 5.0, 10, now=0.0) == 50.0  # before the first decision: the elapsed time per decision


def test_recent_pace_by_hand():
    """The pace a play projects with: decisions over the last `window` seconds (at least that
    long), not since the start: a fast first stretch drops out of it."""
    from snnjax.rl.play import RecentPace

    pace = RecentPace(start=0.0, window=300.0)
    assert pace.window_of(10.0) == (0.0, 10.0)
    for now, d in [(100.0, 1000), (200.0, 2000), (400.0, 2200), (500.0, 2300), (650.0, 2450)]:
        pace.add(now, d)
    # at 650 s the window reaches back to the newest sample at or before 350 s: (200 s, 2,000 decisions)
    assert pace.window_of(650.0) == (450.0, 450.0)
    pace.add(800.0, 2600)  # now the window starts at (500 s, 2,300)
    assert pace.window_of(800.0) == (300.0, 300.0)
    young = RecentPace(start=0.0, window=300.0)
    young.add(100.0, 1000)
    assert young.window_of(120.0) == (1000.0, 120.0)  # younger than the window: the whole play


def test_decisions_left_by_hand():
    """A running env's expected remaining length is E[L - t | L > t] over the known lengths beyond
    t; the play's cost is the sum over running envs, not steps x envs (one long episode keeps the
    last steps going while the others are over)."""
    from snnjax.rl.play import decisions_left

    # at t = 100 the known lengths beyond it are 300 and 1300: (200 + 1200) / 2 = 700 per env, 10 envs
    assert decisions_left(100, 10, [], [50, 300, 1300], cap=4500) == 7000.0
    # finished episodes count as known lengths too; a cap cuts the prior: (400 - 300 + 500 - 300) / 2 = 150
    assert decisions_left(300, 4, [400], [250, 900], cap=500) == 600.0
    # past every known length: a quarter of the steps so far, never past the cap
    assert decisions_left(800, 2, [300], [400], cap=4500) == 400.0
    assert decisions_left(4400, 2, [], [400], cap=4500) == 200.0
    assert decisions_left(500, 0, [], [900], cap=4500) == 0.0
    # the case it is for: StarGunner's episodes (mean ~700 steps, the longest 1,373); after 131 steps of
    # 75 envs, lockstep steps x envs would project (1373 - 131) x 75 = 93,150 decisions, the expectation far less
    prior = [400.0] * 20 + [700.0] * 20 + [1373.0]
    assert decisions_left(131, 75, [], prior, cap=4500) < 0.7 * (1373 - 131) * 75


def test_a_play_that_would_end_past_its_deadline_stops(monkeypatch):
    """Weighed against its deadline from the first check on: a play that cannot end in time raises
    PastDeadline naming its step and pace; without a deadline the same play runs to its end."""
    import time

    from snnjax.rl import play as pl

    monkeypatch.setattr(pl, "DEADLINE_CHECK_S", 0.0)
    with pytest.raises(pl.PastDeadline, match=r"eval Pong-v5: at step 1 of about 150 .* past the deadline"):
        pl.play(agents.random_agent(6), None, "Pong-v5", 2, max_episode_steps=150, desc="eval Pong-v5",
                deadline=time.time() - 60)
    res = pl.play(agents.random_agent(6), None, "Pong-v5", 2, max_episode_steps=150, deadline=time.time() + 3600)
    assert res.lengths.tolist() == [[150, 150]]
