"""Side-by-side evaluation on a real envpool game with a small random Nature-DQN and small T."""

import jax
import numpy as np
import pytest

from snnjax.conversion.normalize import convert, from_params
from snnjax.core.validate import ValidationError
from snnjax.experiments.evaluation import EvaluationError, evaluate
from snnjax.nets.models import NatureDQN, init_params, layer_specs
from snnjax.rl import envs
from snnjax.rl.config import EvalConfig
from snnjax.rl.play import collect_observations


@pytest.fixture(scope="module")
def breakout_nets():
    net = NatureDQN(4)
    p = init_params(net, (4, 84, 84), jax.random.key(7))
    ann = from_params(p, layer_specs(net), (4, 84, 84), "chw", 1 / 255)
    calib = collect_observations(ann, "Breakout-v5", 64, num_envs=4, max_episode_steps=40)
    return ann, [convert(ann, calib, 99.0), convert(ann, calib, 100.0)]


CFG = EvalConfig(episodes=3, max_episode_steps=60, eps=0.05)


def test_population_evaluation_fields_and_ranges(breakout_nets):
    ann, pop = breakout_nets
    res = evaluate(ann, pop, CFG, "Breakout-v5", 6, cr_times=(2, 4), progress=False)
    assert res["times"] == [2, 4, 6]
    assert len(res["agents"]) == 2 and len(res["dqn"]["scores"]) == 3
    for agent in res["agents"]:
        assert len(agent["scores"]) == 3 and all(1 <= n <= 60 for n in agent["lengths"])
        assert agent["decisions"] == agent["lengths"]  # one decision per counted agent step
        for name in ("normal", "robust", "membrane"):
            cr = np.asarray(agent["conversion_rate"][name])
            assert cr.shape == (3,) and np.all((0 <= cr) & (cr <= 1))
            crt = np.asarray(agent["conversion_rate_t"][name])
            assert crt.shape == (3, 3)
            np.testing.assert_array_equal(crt[:, -1], cr)
    assert res["timing"]["decisions"] > 0


def test_dqn_beside_itself_gives_cr_one_and_identical_scores(breakout_nets):
    """The side-by-side agent with the DQN in the SNN's place: every decision agrees and both
    rows play identical games (same seeds, same exploration draws)."""
    from snnjax.rl import agents
    from snnjax.rl.agents import dqn_agent
    from snnjax.rl.play import play

    ann, _ = breakout_nets
    agent = agents.side_by_side(dqn_agent(ann), dqn_agent(ann))
    res = play(agent, (ann, ann), "Breakout-v5", 3, num_agents=2, max_episode_steps=60, count=("match",))
    np.testing.assert_array_equal(res.counts["match"][..., 0], res.decisions[:1])
    np.testing.assert_array_equal(res.returns[0], res.returns[1])
    np.testing.assert_array_equal(res.lengths[0], res.lengths[1])


def test_mismatched_action_count_is_refused(breakout_nets):
    ann, pop = breakout_nets
    with pytest.raises(EvaluationError, match="4 actions but Pong-v5 has 6"):
        evaluate(ann, pop, CFG, "Pong-v5", 6, progress=False)
    with pytest.raises(ValidationError, match=r"time steps T must be integers in \[1, 10000\], got 0"):
        evaluate(ann, pop, CFG, "Breakout-v5", 0, progress=False)
    with pytest.raises(ValidationError, match=r"episodes must be an integer in \[1, 4096\], got 0"):
        EvalConfig(episodes=0)


def test_eval_protocol_on_real_game_noop_starts_and_reset_step():
    """Raw scores = sum of info['reward'] over counted steps; lengths equal the emulator's
    elapsed steps (the auto-reset step is not counted); no-op starts differ between envs."""
    n = 6
    env = envs.make_eval_env("Breakout-v5", n, 0, max_episode_steps=300)
    obs, info = env.reset()
    tracker = envs.EpisodeTracker(n)
    rng = np.random.default_rng(0)
    raw = np.zeros(n)
    finished_lengths, finished_elapsed, finished_raw = [], [], []
    while len(finished_lengths) < n:
        obs, r, te, tr, info = env.step(rng.integers(0, 4, n).astype(np.int32))
        counted, finished = tracker.step(r, te, tr, info)
        raw[counted] += info["reward"][counted]
        done_now = np.flatnonzero(finished)
        for k, i in enumerate(done_now):
            finished_elapsed.append(int(info["elapsed_step"][i]))
            finished_raw.append(raw[i])
            finished_lengths.append(tracker.lengths[len(tracker.lengths) - len(done_now) + k])
            raw[i] = 0
    assert finished_lengths == finished_elapsed
    np.testing.assert_allclose(tracker.returns[:len(finished_raw)], finished_raw)
    env.close()


@pytest.mark.parametrize("game", ["Pong-v5", "Breakout-v5"])
def test_noop_starts_differ_between_episodes(game):
    """envpool draws 1..30 no-op frames per episode. The first screens of these games look the
    same whatever the count, so compare the emulator RAM (frame counters) at the start."""
    env = envs.make_eval_env(game, 8, 0)
    _, info = env.reset()
    env.close()
    assert len({r.tobytes() for r in info["ram"]}) > 1
