"""int8 Q-network files, warm start, `snnjax ship` and `snnjax campaign` (CartPole, tiny budget)."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import ROOT

from snnjax.experiments import campaign
from snnjax.nets.checkpoint import dequantize_int8, load_qnetwork, quantize_int8, save_qnetwork


def test_quantize_int8_by_hand():
    k = np.array([[1.0, -0.5, 0.0],
                  [0.5, 0.25, 0.0]], np.float32)  # [in=2, out=3]; the last channel is all zero
    q, scale = quantize_int8(k)
    np.testing.assert_allclose(scale, [1 / 127, 0.5 / 127, 1.0], rtol=1e-7)
    # 0.5 * 127 = 63.5 and 0.25 / (0.5 / 127) = 63.5 round half to even: 64.
    np.testing.assert_array_equal(q, [[127, -127, 0], [64, 64, 0]])
    assert q.dtype == np.int8 and scale.dtype == np.float32
    back = dequantize_int8(q, scale)
    assert np.all(np.abs(back - k) <= scale / 2 + 1e-9)


def test_int8_file_round_trip_and_size(tmp_path):
    from snnjax.nets.models import NatureDQN, init_params

    params = init_params(NatureDQN(4), (4, 84, 84), jax.random.key(0))
    meta = {"network": "nature", "num_actions": 4, "obs_shape": [4, 84, 84], "env_id": "Breakout-v5",
            "layers": ["conv1", "conv2", "conv3", "fc1", "q"]}
    fp, i8 = save_qnetwork(tmp_path / "fp.npz", params, meta), save_qnetwork(tmp_path / "i8.npz", params, meta, int8=True)
    assert i8.stat().st_size < 0.3 * fp.stat().st_size
    loaded, m = load_qnetwork(i8)
    assert m["weights"] == "int8-per-output-channel"
    for layer in meta["layers"]:
        q, scale = quantize_int8(params[layer]["kernel"])
        np.testing.assert_array_equal(np.asarray(loaded[layer]["kernel"]), q.astype(np.float32) * scale)
        np.testing.assert_array_equal(np.asarray(loaded[layer]["bias"]), np.asarray(params[layer]["bias"]))
    # Saving the loaded int8 network again gives the same weights: quantization is idempotent.
    again, _ = load_qnetwork(save_qnetwork(tmp_path / "again.npz", loaded, meta, int8=True))
    for layer in meta["layers"]:
        np.testing.assert_array_equal(np.asarray(again[layer]["kernel"]), np.asarray(loaded[layer]["kernel"]))


def test_warm_start_takes_the_shipped_weights(tmp_path):
    """No update happens (learning_starts > total_steps), so the trained network IS the warm start."""
    from snnjax.rl import config
    from snnjax.rl.training import train

    src = ROOT / "models" / "CartPole-v1.npz"
    cfg = config.load(ROOT / "configs/cartpole.toml", [
        f"init_from={src}", "total_steps=200", "learning_starts=10000", "eval_episodes=0", "log_every=100"])
    train(cfg, tmp_path / "run", progress=False)
    a, _ = load_qnetwork(src)
    b, _ = load_qnetwork(tmp_path / "run" / "qnetwork.npz")
    for layer in a:
        np.testing.assert_array_equal(np.asarray(a[layer]["kernel"]), np.asarray(b[layer]["kernel"]))


def test_warm_start_rejects_a_foreign_network(tmp_path):
    from snnjax.rl import config
    from snnjax.rl.config import ConfigError
    from snnjax.rl.training import train

    cfg = config.load(ROOT / "configs/cartpole.toml", [f"init_from={ROOT / 'models/CartPole-v1.npz'}",
                                                       "mlp_hidden=32,32", "total_steps=100"])
    with pytest.raises(ConfigError, match="does not fit the network"):
        train(cfg, tmp_path / "run", progress=False)


def test_paper_games_are_the_17_of_table_1():
    games = campaign.paper_games()
    assert len(games) == 17 and "Pong-v5" in games and "VideoPinball-v5" in games
    assert campaign.resolve_games("paper") == games


def test_campaign_trains_ships_and_skips_on_rerun(tmp_path):
    models, runs = tmp_path / "models", tmp_path / "runs"
    cmd = [sys.executable, "-m", "snnjax", "campaign", "--games", "CartPole-v1", "--config",
           str(ROOT / "configs/cartpole.toml"), "--models", str(models), "--runs-dir", str(runs),
           "--episodes", "4", "--set", "total_steps=1500", "--set", "learning_starts=500",
           "--set", "eval_episodes=0", "--set", "checkpoint_every=1000", "--set", "log_every=500"]
    assert campaign.state_of("CartPole-v1", models, runs) == "new"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert campaign.state_of("CartPole-v1", models, runs) == "shipped"
    prov = json.loads((models / "CartPole-v1.json").read_text())
    assert prov["agent_steps"] >= 1500 and prov["evaluation"]["episodes"] == 4
    assert len(prov["evaluation_float32"]["scores"]) == 4 and len(prov["random_agent"]["scores"]) == 4
    assert isinstance(prov["beats_random"], bool) and "welch_p_vs_random" in prov
    assert (models / "logs" / "CartPole-v1.log.csv").is_file()
    assert "| CartPole-v1 |" in (models / "README.md").read_text()
    params, meta = load_qnetwork(models / "CartPole-v1.npz")
    assert meta["weights"] == "int8-per-output-channel"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "1 of 1 games shipped; to do: none" in r.stdout


def test_campaign_state_finished_run_is_shipped_not_retrained(tmp_path):
    run = tmp_path / "runs" / "Pong-v5"
    run.mkdir(parents=True)
    assert campaign.state_of("Pong-v5", tmp_path / "models", tmp_path / "runs") == "new"
    (run / "qnetwork.npz").write_bytes(b"x")
    (run / "eval.json").write_text("{}")
    assert campaign.state_of("Pong-v5", tmp_path / "models", tmp_path / "runs") == "trained"
