"""The play loop steps only the active envs once most have finished, with the same episodes."""

import functools

import numpy as np
import pytest
from conftest import ROOT

from snnjax.core.validate import ValidationError
from snnjax.experiments import evaluation
from snnjax.rl import play as play_mod
from snnjax.rl.config import EvalConfig


def test_compact_rows_by_hand():
    active = np.array([[0, 1, 0, 0, 0, 0, 1, 0],
                       [0, 0, 0, 0, 0, 0, 0, 0],
                       [1, 0, 0, 0, 0, 0, 0, 0]], bool)
    rows = play_mod.compact_rows(active)
    # the most active envs of any agent: 2 -> width 2; agent 1 has none: env 0 (masked later)
    np.testing.assert_array_equal(rows, [[1, 6], [0, 0], [0, 0]])
    four = active.copy()
    four[0, [0, 5]] = True  # 4 active: width 4 = 8 // 2, still worth it
    np.testing.assert_array_equal(play_mod.compact_rows(four), [[0, 1, 5, 6], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert play_mod.compact_rows(np.ones((2, 8), bool)) is None  # 8 > 8 // 2: the full batch
    assert play_mod.compact_rows(np.array([[1, 1, 0]], bool)) is None  # width 2 > 3 // 2
    assert play_mod.compact_rows(active, multiple=4).shape == (3, 4)  # a multiple of the devices
    np.testing.assert_array_equal(play_mod.compact_rows(active, multiple=4)[0], [1, 6, 1, 1])  # padded by the first


def test_spread_puts_rows_back():
    rows = np.array([[1, 6], [0, 0]])
    x = np.array([[10, 60], [7, 7]])
    np.testing.assert_array_equal(play_mod._spread(x, rows, 8), [[0, 10, 0, 0, 0, 0, 60, 0], [7, 0, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(play_mod._spread(x[:1, :, None], rows, 8)[..., 0], [[0, 10, 0, 0, 0, 0, 60, 0]])


def test_compacted_play_equals_the_full_batch(monkeypatch):
    """The shipped Breakout DQN and two SNNs, episodes of different lengths: scores, lengths,
    decisions and every readout's conversion counts equal with and without compaction, and the
    compacted run did step on fewer rows (its few-row steps take the chunked path, the full batch
    the per-step scan: exact either way on the int8 network)."""
    from snnjax.conversion.normalize import convert, from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import collect_observations

    ann = from_qnetwork(*load_qnetwork(ROOT / "models" / "Breakout-v5.npz"))
    calib = collect_observations(ann, "Breakout-v5", 128, num_envs=4, max_episode_steps=100)
    pop = [convert(ann, calib, 99.9), convert(ann, calib, 99.0)]
    cfg = EvalConfig(episodes=8, max_episode_steps=250, eps=0.9)  # near-random play: lengths spread
    widths = []
    spy = play_mod.compact_rows

    def counting(active, multiple=1):
        rows = spy(active, multiple)
        widths.append(active.shape[1] if rows is None else rows.shape[1])
        return rows

    monkeypatch.setattr(play_mod, "compact_rows", counting)
    compacted = evaluation.evaluate(ann, pop, cfg, "Breakout-v5", 8, progress=False)
    monkeypatch.setattr(evaluation, "play", functools.partial(play_mod.play, compact=False))
    full = evaluation.evaluate(ann, pop, cfg, "Breakout-v5", 8, progress=False)
    lengths = [n for a in compacted["agents"] for n in a["lengths"]] + compacted["dqn"]["lengths"]
    assert len(set(lengths)) > 3 and min(widths) < cfg.episodes  # compaction happened
    assert compacted["dqn"] == full["dqn"]
    for a, b in zip(compacted["agents"], full["agents"]):
        for key in ("scores", "lengths", "decisions", "conversion_rate", "conversion_rate_t"):
            assert a[key] == b[key], key


def test_memo_runs_each_new_observation_once_by_hand():
    """Agent 0 meets observations x, x, y (x twice in one step), agent 1 meets y: one call on
    [2, 2] rows (agent 0: x and y; agent 1: y, padded by itself); the next step meets only old
    ones: no call, the same answers. Inactive envs get zeros."""
    calls = []

    def greedy_step(params, obs):  # action = the observation's first pixel; aux only for agent 0
        obs = np.asarray(obs)
        calls.append(obs[..., 0].tolist())
        return obs[..., 0].astype(np.int32), {"match": obs[:1, :, :2] > 0}

    x, y = [3, 0, 5], [7, 1, 0]
    o = np.array([[x, x, y], [y, y, y]], np.uint8)
    active = np.array([[1, 1, 1], [0, 1, 0]], bool)
    memo = play_mod.Memo(2)
    g, aux = memo.greedy(greedy_step, None, o, active)
    assert calls == [[[3, 7], [7, 7]]]
    np.testing.assert_array_equal(g, [[3, 3, 7], [0, 7, 0]])
    np.testing.assert_array_equal(aux["match"], [[[1, 0], [1, 0], [1, 1]]])
    assert memo.computed.tolist() == [2, 1] and memo.reused.tolist() == [1, 0] and memo.rows == 4
    g2, aux2 = memo.greedy(greedy_step, None, o[:, ::-1], np.ones((2, 3), bool))
    assert len(calls) == 1  # every observation met before
    np.testing.assert_array_equal(g2, [[7, 3, 3], [7, 7, 7]])
    assert aux2["match"].shape == (1, 3, 2) and memo.computed.tolist() == [2, 1] and memo.reused.tolist() == [4, 3]


def test_memo_play_equals_the_plain_play():
    """The shipped Breakout DQN and two SNNs at low exploration (the game waits for FIRE: screens
    repeat): scores, lengths, decisions and every readout's conversion counts (at T and at an
    any-time step) equal with and without the memo, and the memo did serve decisions."""
    from snnjax.conversion.normalize import convert, from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import collect_observations

    ann = from_qnetwork(*load_qnetwork(ROOT / "models" / "Breakout-v5.npz"))
    calib = collect_observations(ann, "Breakout-v5", 128, num_envs=4, max_episode_steps=100)
    pop = [convert(ann, calib, 99.9), convert(ann, calib, 99.0)]
    cfg = EvalConfig(episodes=4, max_episode_steps=150, eps=0.05)
    memo = evaluation.evaluate(ann, pop, cfg, "Breakout-v5", 8, cr_times=(4,), progress=False, memo=True)
    plain = evaluation.evaluate(ann, pop, cfg, "Breakout-v5", 8, cr_times=(4,), progress=False)
    assert sum(memo["timing"]["memo_reused"]) > 0 and "memo_reused" not in plain["timing"]
    assert memo["dqn"] == plain["dqn"]
    for a, b in zip(memo["agents"], plain["agents"]):
        for key in ("scores", "lengths", "decisions", "conversion_rate", "conversion_rate_t"):
            assert a[key] == b[key], key


def test_env_range_must_be_a_part_of_the_envs():
    assert play_mod.check_env_range((2, 5), 8) == (2, 5)
    for bad in ((5, 5), (-1, 3), (3, 9)):
        with pytest.raises(ValidationError, match=r"env range .* is not a part of 8 envs"):
            play_mod.check_env_range(bad, 8)
