"""The bad-input corpus: every case runs through the real command (`snnjax.cli.main`, the
function the `snnjax` script calls) and must end in ONE line `snnjax: error: ...` naming the bad
value, exit status 2, no traceback, and no file created or changed."""

import json
import os
import zipfile

import numpy as np
import pytest
from conftest import ROOT

BREAKOUT = ROOT / "models" / "Breakout-v5.npz"
CARTPOLE = ROOT / "models" / "CartPole-v1.npz"


def _doctored(path, src, change):
    """A copy of the Q-network file `src` with change(arrays) applied."""
    with np.load(src) as d:
        arrays = {k: d[k] for k in d.files}
    change(arrays)
    np.savez(path, **arrays)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "garbage.npz").write_bytes(os.urandom(300))
    (d / "empty.npz").write_bytes(b"")
    (d / "latin1.toml").write_bytes(b'env_id = "Caf\xe9"\n')
    _doctored(d / "meta_list.npz", CARTPOLE, lambda a: a.update({"__meta__": np.frombuffer(b"[1, 2]", np.uint8)}))
    _doctored(d / "meta_negative.npz", CARTPOLE, lambda a: a.update({"__meta__": np.frombuffer(
        json.dumps(dict(json.loads(bytes(a["__meta__"]).decode()), num_actions=-2)).encode(), np.uint8)}))
    _doctored(d / "complex_kernel.npz", CARTPOLE, lambda a: a.update({"fc1/kernel": a["fc1/kernel"].astype(np.complex64)}))
    _doctored(d / "int16_kernel.npz", BREAKOUT, lambda a: a.update({"conv1/kernel_int8": a["conv1/kernel_int8"].astype(np.int16) * 300}))
    _doctored(d / "float_and_int8.npz", BREAKOUT, lambda a: a.update({"conv1/kernel": np.zeros((8, 8, 4, 32), np.float32)}))
    raw = BREAKOUT.read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    _doctored(d / "wrong_shape.npz", CARTPOLE, lambda a: a.update({"fc1/kernel": np.zeros((5, 128), np.float32)}))
    _doctored(d / "nan_kernel.npz", CARTPOLE, lambda a: a.update({"fc2/kernel": np.full_like(a["fc2/kernel"], np.nan)}))
    with zipfile.ZipFile(d / "no_meta.npz", "w") as z:
        z.writestr("fc1/kernel.npy", b"")
    (d / "a_folder").mkdir()
    (d / "dir.json").mkdir()
    (d / "cfg.toml").write_text('env_id = "CartPole-v1"\nnetwork = "mlp"\n')
    return d


# (command line, text the one-line error must contain); {bad} is the fixture folder.
CASES = [
    # train
    ("train --config configs/cartpole.toml --set env_id=CartPol-v1", "unknown game/env id 'CartPol-v1'"),
    ("train --config configs/cartpole.toml --set total_step=5", "unknown config key 'total_step'"),
    ("train --config configs/cartpole.toml --set total_steps=0", "total_steps must be >= 1"),
    ("train --config configs/cartpole.toml --set seed=99999 --run-dir {bad}/new_run", "seed must be in [0, 5368)"),
    ("train --config {bad}/missing.toml", "not found"),
    ("train --config configs/cartpole.toml --set init_from={bad}/missing.npz --run-dir {bad}/new_run", "not found"),
    ("train --config configs/cartpole.toml --set init_from={bad}/garbage.npz --run-dir {bad}/new_run", "corrupt"),
    ("train --config configs/cartpole.toml --set learning_rate=abc", "learning_rate must be a float"),
    # evaluate: values
    ("evaluate --checkpoint {bad}/missing.npz", "not found"),
    ("evaluate --checkpoint models/CartPole-v1.npz -T 0", "time steps T must be integers in [1, 10000], got 0"),
    ("evaluate --checkpoint models/CartPole-v1.npz -T 1000000", "got 1000000"),
    ("evaluate --checkpoint models/CartPole-v1.npz -p 100.5", "percentile must be in (0, 100]"),
    ("evaluate --checkpoint models/CartPole-v1.npz -p nan", "percentile must be in (0, 100]"),
    ("evaluate --checkpoint models/CartPole-v1.npz -p 0", "percentile must be in (0, 100], got 0.0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --episodes 0", "episodes must be an integer in [1, 4096], got 0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --set episodes=0", "episodes must be an integer in [1, 4096], got 0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --set nope=1", "unknown config key 'nope'"),
    ("evaluate --checkpoint models/CartPole-v1.npz --set time_steps=5,x", "time_steps must be comma-separated integers"),
    ("evaluate --checkpoint models/CartPole-v1.npz --config {bad}/missing.toml", "missing.toml' not found"),
    ("evaluate --checkpoint models/CartPole-v1.npz --num-processes 2", "give both --num-processes and --process-id"),
    ("evaluate --checkpoint models/CartPole-v1.npz --num-processes 2 --process-id 2", "--process-id must be in [0, 2)"),
    ("evaluate --checkpoint models/CartPole-v1.npz --eps 2", "eps must be in [0, 1], got 2.0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --max-episode-steps 0", "max_episode_steps must be an integer in [1, 27000], got 0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --calibration-frames 0", "calibration frames must be an integer in [1, 100000]"),
    ("evaluate --checkpoint models/CartPole-v1.npz --v-thr 0", "v_thr must be > 0"),
    ("evaluate --checkpoint models/CartPole-v1.npz --initial-potential inf", "initial_potential"),
    # evaluate: games against checkpoints
    ("evaluate --checkpoint models/CartPole-v1.npz --game Breakout-v5", "has 2 actions but Breakout-v5 has 4"),
    ("evaluate --checkpoint models/Breakout-v5.npz --game Pong-v5", "has 4 actions but Pong-v5 has 6"),
    ("evaluate --checkpoint models/CartPole-v1.npz --game Brekout-v5", "did you mean 'Breakout-v5'"),
    ("evaluate --game PongNoFrameskip-v4", "envpool names this Atari game 'Pong-v5'"),
    ("evaluate --game ALE/Breakout-v5", "envpool names this Atari game 'Breakout-v5'"),
    ("evaluate --checkpoint models/CartPole-v1.npz --game Acrobot-v1", "has 2 actions but Acrobot-v1 has 3"),
    ("evaluate --checkpoint models/Breakout-v5.npz --game LunarLander-v2", "LunarLander-v2 gives (8,)"),
    ("evaluate --games Pong-v5,Nope-v5", "unknown game/env id 'Nope-v5'"),
    ("evaluate --games , ", "names no game"),
    # Asterix is not a paper game, so the campaign never ships it
    ("evaluate --checkpoint models --game Asterix-v5", "no Q-network for Asterix-v5"),
    # evaluate: checkpoints
    ("evaluate --checkpoint {bad}/garbage.npz", "corrupt"),
    ("evaluate --checkpoint {bad}/truncated.npz", "corrupt"),
    ("evaluate --checkpoint {bad}/no_meta.npz", "corrupt"),
    ("evaluate --checkpoint {bad}/wrong_shape.npz", "fc1/kernel has shape (5, 128), the mlp network needs (4, 128)"),
    ("evaluate --checkpoint {bad}/nan_kernel.npz", "fc2/kernel holds NaN/inf"),
    ("evaluate --checkpoint {bad}/a_folder", "is a folder"),
    # evaluate: outputs
    ("evaluate --checkpoint models/CartPole-v1.npz --out /proc/nope/x.json", "cannot be created"),
    ("evaluate --checkpoint models/CartPole-v1.npz --out {bad}/cfg.toml/x.json", "is a file"),
    ("evaluate --checkpoint models/CartPole-v1.npz --out {bad}/dir.md", "dir.json' is a folder"),
    # sweep
    ("sweep --checkpoint models/CartPole-v1.npz -T 5,0", "got 0"),
    ("sweep --checkpoint models/CartPole-v1.npz -T 5,abc", "comma-separated integers"),
    ("sweep --checkpoint models/CartPole-v1.npz -p 99,200", "percentile must be in (0, 100], got 200.0"),
    ("sweep --checkpoint models/CartPole-v1.npz -T 2.5", "comma-separated integers"),
    # convert
    ("convert --checkpoint models/Breakout-v5.npz -p 99,50 --out {bad}/s.npz", "convert takes one --percentile"),
    ("convert --checkpoint models/Breakout-v5.npz -p 0 --out {bad}/s.npz", "percentile must be in (0, 100]"),
    ("convert --checkpoint models/Breakout-v5.npz --game Pong-v5 --out {bad}/s.npz", "4 actions but Pong-v5 has 6"),
    ("convert --checkpoint models/Breakout-v5.npz --out {bad}/a_folder", "is a folder"),
    ("convert --checkpoint {bad}/nan_kernel.npz --out {bad}/s.npz", "holds NaN/inf"),
    ("convert --checkpoint models/CartPole-v1.npz --calibration-frames 0 --out {bad}/s.npz", "--calibration-frames"),
    ("convert --checkpoint models/CartPole-v1.npz -p auto --auto-time-steps 0 --out {bad}/s.npz", "--auto-time-steps"),
    # latency
    ("latency --checkpoint models/Breakout-v5.npz --game Pong-v5 --out {bad}/l.json", "4 actions but Pong-v5 has 6"),
    ("latency --checkpoint models/Breakout-v5.npz --game LunarLander-v2 --out {bad}/l.json", "LunarLander-v2"),
    ("latency --checkpoint models/Breakout-v5.npz -p 0 --out {bad}/l.json", "percentile must be in (0, 100]"),
    ("latency --checkpoint models/Breakout-v5.npz --frames 0 --out {bad}/l.json", "held-out frames"),
    ("latency --checkpoint models/Breakout-v5.npz --t-max 0 --out {bad}/l.json", "t_max"),
    ("latency --checkpoint models/Breakout-v5.npz --out /proc/nope/l.json", "cannot be created"),
    # bench
    ("bench -T 0 --out {bad}/b.md", "--time-steps must be integers in [1, 10000], got 0"),
    ("bench --agents 0 --out {bad}/b.md", "--agents must be an integer in [1, 4096], got 0"),
    ("bench --episodes 0 --out {bad}/b.md", "--episodes must be an integer in [1, 4096], got 0"),
    ("bench --out /proc/nope/b.md", "cannot be created"),
    ("bench --out {bad}/a_folder", "is a folder"),
    # benchmark, campaign, ship, export-nir
    ("benchmark --games Nope-v5", "unknown game/env id 'Nope-v5'"),
    ("benchmark --episodes 1", "--episodes must be >= 2"),
    ("benchmark --play-budget-s 0", "--play-budget-s must be > 0"),
    ("campaign --games Nope-v5", "unknown game/env id 'Nope-v5'"),
    ("campaign --config {bad}/missing.toml --models {bad}/m --runs-dir {bad}/r --games CartPole-v1", "not found"),
    ("campaign --episodes 1", "--episodes must be >= 2"),
    ("ship {bad}/a_folder", "not a finished training run"),
    ("export-nir --snn {bad}/missing.npz --out {bad}/x.nir", "not found"),
    ("export-nir --snn {bad}/empty.npz --out {bad}/x.nir", "is corrupt: EOFError"),
    ("export-nir --snn {bad}/garbage.npz --out {bad}/x.nir", "is corrupt"),
    ("evaluate --checkpoint {bad}/empty.npz --game Breakout", "is corrupt or not a snnjax Q-network"),
    ("evaluate --checkpoint {bad}/meta_list.npz --game CartPole-v1", "metadata must be a JSON object, got list"),
    ("evaluate --checkpoint {bad}/meta_negative.npz --game CartPole-v1", "num_actions must be an integer >= 1, got -2"),
    ("evaluate --checkpoint {bad}/complex_kernel.npz --game CartPole-v1", "fc1/kernel must be real floating point"),
    ("evaluate --checkpoint {bad}/int16_kernel.npz --game Breakout", "conv1/kernel_int8 must be stored as int8"),
    ("convert --checkpoint {bad}/float_and_int8.npz --out {bad}/s.npz", "holds both a float and an int8 kernel"),
    ("train --config {bad}/latin1.toml", "is not UTF-8 text"),
    ("evaluate --game CartPole-v1 --episodes 100000000", "episodes must be an integer in [1, 4096], got 100000000"),
    ("evaluate --game CartPole-v1 --calibration-frames 10000000000000",
     "calibration frames must be an integer in [1, 100000]"),
    ("convert --checkpoint {bad}/empty.npz --out {bad}/s.npz", "is corrupt or not a snnjax Q-network"),
    # import
    ("import {bad}/garbage.npz --from cleanrl-jax --game Breakout-v5 --out {bad}/i.npz", "not a flax-serialized"),
    ("import {bad}/missing.bin --from cleanrl-jax --game Breakout-v5 --out {bad}/i.npz", "missing.bin' not found"),
    ("import {bad}/garbage.npz --from cleanrl-jax --game Nope-v5 --out {bad}/i.npz", "unknown game/env id 'Nope-v5'"),
    # benchmark --protocol paper
    ("benchmark --protocol paper -T 0", "got 0"),
    ("benchmark --protocol paper --episodes 1", "episodes must be an integer in [2, 4096], got 1"),
    ("benchmark --protocol paper --block 0", "block must be an integer in [1, 4096], got 0"),
    ("benchmark --protocol paper --calibration-frames 0", "calibration frames must be an integer"),
]


def _snapshot(*folders):
    out = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if ".pytest_cache" not in p.parts and "__pycache__" not in p.parts:
                out[str(p)] = (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else None
    return out


@pytest.mark.parametrize("line,match", CASES, ids=[c[0][:70] for c in CASES])
def test_bad_input_one_line_error_and_nothing_written(line, match, bad, capsys, monkeypatch):
    from snnjax.cli import main

    monkeypatch.chdir(ROOT)
    watched = (bad, ROOT / "models", ROOT / "configs")
    before = _snapshot(*watched)
    args = [a.replace("{bad}", str(bad)) for a in line.split()]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("snnjax: error:") and len(err.strip().splitlines()) == 1, err
    assert match in err, err
    assert _snapshot(*watched) == before, "a file was created or changed"


def test_observations_with_nan_are_refused():
    import snnjax
    from snnjax.conversion.normalize import ConvertError
    from snnjax.snn import SimulationError

    ann = snnjax.load_qnetwork(CARTPOLE)
    obs = np.zeros((3, 4), np.float32)
    obs[1, 2] = np.nan
    with pytest.raises(SimulationError, match="1 NaN/inf"):
        snnjax.simulate(ann, obs, 5)
    obs[1, 2] = np.inf
    with pytest.raises(ConvertError, match="NaN/inf"):
        snnjax.convert(ann, obs, 99.9)


def test_results_json_is_strict(tmp_path):
    from snnjax.core import io

    io.write_json(tmp_path / "r.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": np.float32(2.5)})
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": 2.5}
