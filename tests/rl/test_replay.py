import numpy as np
import pytest

from snnjax.rl.replay import ReplayBuffer


def frame(v):
    return np.full((1, 2, 2), v, np.uint8)


def test_stacks_never_cross_episode_start():
    rb = ReplayBuffer(1, 100, (2, 2), stack=4)
    rb.add_frames(frame(1), np.array([True]))
    rb.add_transition(frame(2), [0], [1.0], [False])
    rb.add_transition(frame(3), [1], [0.0], [True])  # frame 3 ends the episode
    rb.add_frames(frame(10), np.array([True]))  # new episode starts
    rb.add_transition(frame(11), [2], [5.0], [False])
    rb.add_transition(frame(12), [3], [0.0], [False])
    stack = rb._stack(np.array([0, 0, 0, 0]), np.array([0, 1, 4, 5]))[:, :, 0, 0]
    np.testing.assert_array_equal(stack[0], [1, 1, 1, 1])  # first frame repeated, like envpool
    np.testing.assert_array_equal(stack[1], [1, 1, 1, 2])
    np.testing.assert_array_equal(stack[2], [10, 10, 10, 11])  # not 2, 3 of the old episode
    np.testing.assert_array_equal(stack[3], [10, 10, 11, 12])


def test_sample_n_step_returns_and_terminal():
    rb = ReplayBuffer(1, 100, (1,), stack=1, dtype=np.float32)
    rb.add_frames(np.array([[0.0]]), np.array([True]))
    for i, (r, term) in enumerate([(1.0, False), (2.0, False), (4.0, True)]):
        rb.add_transition(np.array([[i + 1.0]]), [i], [r], [term])
    rb.add_frames(np.array([[100.0]]), np.array([True]))
    rb.add_transition(np.array([[101.0]]), [7], [8.0], [False])
    rb.add_transition(np.array([[102.0]]), [8], [0.0], [False])
    rng = np.random.default_rng(0)
    b = rb.sample(rng, 400, n_step=2, gamma=0.5)
    seen = {}
    for o, a, ret, d, no in zip(b["obs"][:, 0], b["action"], b["ret"], b["discount"], b["next_obs"][:, 0]):
        seen[float(o)] = (int(a), float(ret), float(d), float(no))
    # from frame 0: r=1 + 0.5*2 = 2, bootstrap from frame 2 with 0.25
    assert seen[0.0] == (0, 2.0, 0.25, 2.0)
    # from frame 1: 2 + 0.5*4, terminal inside the 2 steps -> discount 0
    assert seen[1.0] == (1, 4.0, 0.0, 3.0)
    # from frame 2: terminal transition, one step
    assert seen[2.0] == (2, 4.0, 0.0, 3.0)
    # terminal frame 3 has no transition; frame 101 needs 2 more frames (only 1 exists)
    assert 3.0 not in seen and 101.0 not in seen
    assert seen[100.0] == (7, 8.0, 0.25, 102.0)


def test_memory_of_one_million_atari_transitions_is_single_frames():
    per_frame = 84 * 84 + 1 + 4 + 4 + 1 + 1  # frame + flags + action + reward
    assert 1_000_000 * per_frame / 1e9 < 7.2  # about 7 GB, not 26 GB of stored stacks
    rb = ReplayBuffer(8, 8_000, (84, 84), stack=4)
    assert rb.nbytes == 8_000 * per_frame


def test_empty_buffer_refuses_to_sample():
    rb = ReplayBuffer(2, 100, (1,), stack=1)
    with pytest.raises(ValueError, match="no complete transition"):
        rb.sample(np.random.default_rng(0), 4)
