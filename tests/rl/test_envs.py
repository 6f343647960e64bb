import numpy as np
import pytest

from snnjax.rl import envs


def test_unknown_game_suggests_closest():
    with pytest.raises(envs.EnvError, match="unknown game.*'Breakout-v5'"):
        envs.check_env_id("Breakot-v5")


def test_seed_ranges_are_disjoint():
    train = set(envs.seeds(envs.TRAIN_SEED_BASE, 3, 256))
    calib = set(envs.seeds(envs.CALIBRATION_SEED_BASE, 3, 256))
    ev = set(envs.seeds(envs.EVAL_SEED_BASE, 3, 256))
    assert not (train & ev) and not (train & calib) and not (calib & ev)


def test_protocol_settings():
    assert envs.EVAL_ATARI["episodic_life"] is False and envs.EVAL_ATARI["reward_clip"] is False
    assert envs.TRAIN_ATARI["episodic_life"] is True and envs.TRAIN_ATARI["reward_clip"] is True
    assert envs.EVAL_ATARI["repeat_action_probability"] == 0.0
    assert envs.EVAL_ATARI["max_episode_steps"] == 4500  # 18,000 frames


def test_raw_score_bookkeeping_on_breakout_training_env():
    """Clipped training env with episodic life: the tracker sums info['reward'] over whole games
    and never counts envpool's reset step (its length equals the emulator's elapsed steps less
    one reset step per lost life)."""
    env = envs.make_train_env("Breakout-v5", 4, 0)
    env.reset()
    tracker = envs.EpisodeTracker(4)
    rng = np.random.default_rng(0)
    raw = np.zeros(4)
    clipped = np.zeros(4)
    ref_returns = []
    while len(tracker.returns) < 4:
        obs, r, te, tr, info = env.step(rng.integers(0, 4, 4).astype(np.int32))
        counted, finished = tracker.step(r, te, tr, info)
        assert np.all(r[~counted] == 0)  # the reset step gives reward 0 and is not counted
        raw[counted] += info["reward"][counted]
        clipped[counted] += r[counted]
        for i in np.flatnonzero(finished):
            ref_returns.append(raw[i])
            assert info["terminated"][i] or tr[i]
            raw[i] = 0
    np.testing.assert_allclose(tracker.returns[:len(ref_returns)], ref_returns)
    env.close()


def test_eval_episodes_truncate_at_cap_and_count_no_reset_step():
    from snnjax.rl.agents import random_agent
    from snnjax.rl.play import play

    lines = []  # a play without a bar reports to `heartbeat` (here after every step)
    res = play(random_agent(6), None, "Pong-v5", 3, num_agents=2, max_episode_steps=40, heartbeat=lines.append,
               heartbeat_s=0.0)
    assert len(lines) == 40 and lines[0].startswith("play: step 1 of about 40 (2%), 0 of 6 episodes over")
    assert lines[-1].startswith("play: step 40 of about 40 (100%), 6 of 6 episodes over")
    assert res.lengths.shape == (2, 3)
    assert np.all(res.lengths == 40)  # Pong cannot end in 40 agent steps: every episode is truncated
    assert np.all(res.decisions == 40)  # the reset step after the truncation is not a decision
    assert np.all(res.returns == 0)
