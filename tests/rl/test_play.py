"""The play loop steps only the active envs once most have finished, with the same episodes."""

import functools

import numpy as np
from conftest import ROOT

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
    cfg = EvalConfig(episodes=8, max_episode_steps=400, eps=0.9)  # near-random play: lengths spread
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
    assert len(set(lengths)) > 3 and min(widths) < 8  # compaction happened
    assert compacted["dqn"] == full["dqn"]
    for a, b in zip(compacted["agents"], full["agents"]):
        for key in ("scores", "lengths", "decisions", "conversion_rate", "conversion_rate_t"):
            assert a[key] == b[key], key
