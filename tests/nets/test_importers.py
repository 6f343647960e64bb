"""snnjax import: a Nature-DQN built and saved by each library, read back as a snnjax Q-network,
gives the library's own Q-values (max abs diff < 1e-5) and greedy actions on real Atari frames.

The cleanrl-jax case runs in the default suite; cleanrl-torch and sb3 need PyTorch (and
Stable-Baselines3): `pip install -e ".[sb3]"`, then `pytest -m slow tests/nets/test_importers.py`."""

import subprocess
import sys

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT

from snnjax.conversion.normalize import from_qnetwork
from snnjax.nets import importers
from snnjax.nets.checkpoint import load_qnetwork
from snnjax.snn import q_values


@pytest.fixture(scope="module")
def frames():
    """Real Breakout frames [64, 4, 84, 84] uint8 (the shipped DQN's own play)."""
    from snnjax.rl.play import collect_observations

    ann = from_qnetwork(*load_qnetwork(ROOT / "models" / "Breakout-v5.npz"))
    return collect_observations(ann, "Breakout-v5", 64 * 4, seed=3, max_episode_steps=400)[::4]


def snnjax_q(path, frames):
    ann = from_qnetwork(*load_qnetwork(path))
    return np.asarray(jax.vmap(lambda o: q_values(ann, o))(jnp.asarray(frames)))


def assert_same(ours, theirs):
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-5
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()
    assert np.ptp(theirs.argmax(-1)) > 0 or np.ptp(theirs) > 0  # not a degenerate network


class CleanRLJaxQNetwork(nn.Module):
    """CleanRL's dqn_atari_jax.py network: NCHW frames -> NHWC, / 255, the Nature CNN, Flax's
    automatic layer names (Conv_0.., Dense_0..)."""

    action_dim: int

    @nn.compact
    def __call__(self, x):
        x = jnp.transpose(x, (0, 2, 3, 1)) / 255.0
        for features, k, s in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            x = nn.relu(nn.Conv(features, (k, k), (s, s), padding="VALID")(x))
        x = nn.relu(nn.Dense(512)(x.reshape((x.shape[0], -1))))
        return nn.Dense(self.action_dim)(x)


def test_cleanrl_jax_import_matches_its_forward_pass(frames, tmp_path):
    net = CleanRLJaxQNetwork(4)
    params = net.init(jax.random.key(7), jnp.asarray(frames[:1]))
    src = tmp_path / "dqn_atari_jax.cleanrl_model"
    src.write_bytes(flax.serialization.to_bytes(params))
    meta = importers.import_qnetwork(src, "cleanrl-jax", "Breakout-v5", tmp_path / "mine.npz")
    assert meta["imported"]["from"] == "cleanrl-jax" and meta["num_actions"] == 4
    assert_same(snnjax_q(tmp_path / "mine.npz", frames), np.asarray(net.apply(params, jnp.asarray(frames))))


def test_import_refuses_bad_files(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00not msgpack")
    for fmt, path, match in (("cleanrl-jax", junk, "not a"), ("cleanrl-jax", tmp_path / "none", "not found"),
                             ("dopamine", junk, "unknown format")):
        with pytest.raises(importers.ImportFormatError, match=match):
            importers.read(path, fmt)
    # a network of another shape (a wider first layer) is named, not imported
    wrong = {"params": {k: {"kernel": np.zeros((2, 2)), "bias": np.zeros(2)}
                        for k in ("Conv_0", "Conv_1", "Conv_2", "Dense_0", "Dense_1")}}
    bad = tmp_path / "bad.cleanrl_model"
    bad.write_bytes(flax.serialization.to_bytes(wrong))
    with pytest.raises(importers.ImportFormatError, match="conv1 kernel is"):
        importers.read(bad, "cleanrl-jax")


def test_import_cli_refuses_another_action_count_then_evaluates(tmp_path, frames):
    net = CleanRLJaxQNetwork(6)
    src = tmp_path / "pong6.cleanrl_model"
    src.write_bytes(flax.serialization.to_bytes(net.init(jax.random.key(1), jnp.asarray(frames[:1]))))
    run = lambda *a: subprocess.run([sys.executable, "-m", "snnjax", *a], capture_output=True, text=True,  # noqa: E731
                                    cwd=ROOT, timeout=600)
    r = run("import", str(src), "--from", "cleanrl-jax", "--game", "Breakout-v5", "--out", str(tmp_path / "x.npz"))
    assert r.returncode == 2 and "6 actions but Breakout-v5 has 4" in r.stderr and not (tmp_path / "x.npz").exists()
    r = run("import", str(src), "--from", "cleanrl-jax", "--game", "Pong-v5", "--out", str(tmp_path / "p.npz"))
    assert r.returncode == 0, r.stderr
    r = run("evaluate", "--checkpoint", str(tmp_path / "p.npz"), "-T", "4", "--episodes", "2", "--max-episode-steps",
            "20", "--calibration-frames", "64", "--out", str(tmp_path / "ev.json"), "--no-progress")
    assert r.returncode == 0, r.stderr[-1500:]
    assert "Pong-v5" in r.stdout


@pytest.mark.slow
def test_cleanrl_torch_import_matches_its_forward_pass(frames, tmp_path):
    torch = pytest.importorskip("torch")

    class QNetwork(torch.nn.Module):  # CleanRL dqn_atari.py: Sequential, x / 255 in forward
        def __init__(self, n):
            super().__init__()
            self.network = torch.nn.Sequential(
                torch.nn.Conv2d(4, 32, 8, stride=4), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 4, stride=2),
                torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, stride=1), torch.nn.ReLU(), torch.nn.Flatten(),
                torch.nn.Linear(3136, 512), torch.nn.ReLU(), torch.nn.Linear(512, n))

        def forward(self, x):
            return self.network(x / 255.0)

    torch.manual_seed(0)
    net = QNetwork(4)
    torch.save(net.state_dict(), tmp_path / "dqn_atari.cleanrl_model")
    importers.import_qnetwork(tmp_path / "dqn_atari.cleanrl_model", "cleanrl-torch", "Breakout-v5", tmp_path / "m.npz")
    with torch.no_grad():
        theirs = net(torch.as_tensor(frames, dtype=torch.float32)).numpy()
    assert_same(snnjax_q(tmp_path / "m.npz", frames), theirs)


@pytest.mark.slow
def test_sb3_import_matches_its_forward_pass(frames, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("stable_baselines3")
    import gymnasium as gym
    from stable_baselines3 import DQN

    class AtariShaped(gym.Env):  # what SB3's Atari wrappers + VecFrameStack give: HWC uint8
        observation_space = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
        action_space = gym.spaces.Discrete(4)

        def reset(self, seed=None, options=None):
            return np.zeros((84, 84, 4), np.uint8), {}

        def step(self, action):
            return np.zeros((84, 84, 4), np.uint8), 0.0, True, False, {}

    model = DQN("CnnPolicy", AtariShaped(), buffer_size=64, learning_starts=0, seed=0, verbose=0)
    model.save(tmp_path / "sb3_dqn")
    importers.import_qnetwork(tmp_path / "sb3_dqn.zip", "sb3", "Breakout-v5", tmp_path / "m.npz")
    with torch.no_grad():  # the policy sees CHW frames (VecTransposeImage), / 255 in preprocess_obs
        theirs = model.policy.q_net(torch.as_tensor(frames)).numpy()
    assert_same(snnjax_q(tmp_path / "m.npz", frames), theirs)
