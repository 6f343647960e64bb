import tomllib

import pytest
from conftest import ROOT

from snnjax.rl import config
from snnjax.rl.config import ConfigError

CONFIGS = sorted(p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.toml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_loads_and_says_what_it_trains(name):
    path = ROOT / "configs" / name
    if name.startswith("eval"):
        cfg = config.load_eval(path)
        assert cfg.episodes >= 1 and cfg.time_steps and cfg.percentiles
        return
    cfg = config.load(path)
    for key, value in tomllib.loads(path.read_text()).items():  # every field written in the file is the field loaded
        if not isinstance(value, dict):
            got = getattr(cfg, key)
            assert (list(got) if isinstance(got, tuple) else got) == value, key
    assert cfg.total_steps > 0 and cfg.env_id and cfg.network in ("nature", "mlp")


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


def test_eval_config_layers_and_the_paper_file(tmp_path):
    from snnjax.rl.config import EvalConfig, load_eval

    paper = load_eval(ROOT / "configs" / "eval_paper.toml")
    assert paper.time_steps == (500,) and paper.percentiles == (99.9, 99.99) and paper.episodes == 50
    # defaults <- file <- --set <- flags
    f = tmp_path / "e.toml"
    f.write_text("episodes = 3\nseed = 2\ntime_steps = [10, 5]\n")
    cfg = load_eval(f, ["seed=4", "percentiles=99,100"], {"eps": 0.1})
    assert (cfg.episodes, cfg.seed, cfg.eps, cfg.time_steps, cfg.percentiles) == (3, 4, 0.1, (5, 10), (99.0, 100.0))
    assert cfg == EvalConfig(**cfg.to_dict())  # round trip through the results JSON
    assert load_eval(None, [], {"time_steps": 7}).time_steps == (7,)


@pytest.mark.parametrize("over,match", [
    (["episodes=0"], r"episodes must be an integer in \[1, 4096\], got 0"),
    (["time_steps=0"], r"time steps T must be integers in \[1, 10000\], got 0"),
    (["percentiles=100.5"], r"percentile must be in \(0, 100\], got 100.5"),
    (["eps=1.5"], r"eps must be in \[0, 1\]"),
    (["readout=spikes"], "readout must be one of normal, robust, membrane, got 'spikes'"),
    (["input_encoding=poisson"], "input_encoding must be 'constant' or 'if'"),
    (["v_thr=0"], "v_thr must be > 0"),
    (["seed=-1"], "seed must be an integer in"),
    (["epsilon=0.1"], "unknown config key 'epsilon' \\(did you mean 'eps'\\?\\)"),
])
def test_eval_config_bad_values_name_the_value(over, match):
    from snnjax.core.validate import ValidationError
    from snnjax.rl.config import load_eval

    with pytest.raises(ValidationError, match=match):
        load_eval(None, over)
