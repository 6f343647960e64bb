import pytest

from snnjax import config
from snnjax.config import ConfigError

from conftest import ROOT


@pytest.mark.parametrize("name", ["cartpole", "atari_cpu", "nature_dqn"])
def test_shipped_configs_load(name):
    cfg = config.load(ROOT / "configs" / f"{name}.toml")
    assert cfg.total_steps > 0


def test_nature_dqn_config_is_mnih_2015():
    cfg = config.load(ROOT / "configs" / "nature_dqn.toml")
    assert (cfg.replay_capacity, cfg.batch_size, cfg.train_every, cfg.target_update_every) == (1_000_000, 32, 4, 10_000)
    assert (cfg.optimizer, cfg.learning_rate, cfg.rmsprop_decay, cfg.rmsprop_centered) == ("rmsprop", 2.5e-4, 0.95, True)
    assert (cfg.eps_end, cfg.eps_decay_steps, cfg.learning_starts, cfg.gamma) == (0.1, 1_000_000, 50_000, 0.99)


def test_per_game_override_and_set(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('env_id = "Breakout-v5"\nlearning_rate = 1e-4\n[games."Pong-v5"]\nlearning_rate = 2e-4\n')
    assert config.load(p).learning_rate == 1e-4
    assert config.load(p, ["env_id=Pong-v5"]).learning_rate == 2e-4
    cfg = config.load(p, ["env_id=Pong-v5", "learning_rate=3e-4", "double_dqn=true", "mlp_hidden=8,8"])
    assert (cfg.learning_rate, cfg.double_dqn, cfg.mlp_hidden) == (3e-4, True, (8, 8))


def test_unknown_key_suggests(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'learning_rat'.*learning_rate"):
        config.load(ROOT / "configs" / "cartpole.toml", ["learning_rat=1"])
    p = tmp_path / "c.toml"
    p.write_text("batchsize = 3\n")
    with pytest.raises(ConfigError, match="batchsize"):
        config.load(p)


def test_bad_types_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="total_steps must be a int"):
        config.load(ROOT / "configs" / "cartpole.toml", ["total_steps=lots"])
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.toml")
