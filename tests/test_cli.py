"""End-to-end smoke runs of every entry point (subprocess, tiny budgets) and bad-input errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

CARTPOLE_MODEL = ROOT / "models" / "CartPole-v1.npz"


def snnjax(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "snnjax.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=600)


def test_train_smoke_and_refuses_to_overwrite(tmp_path):
    run = tmp_path / "run"
    r = snnjax("train", "--config", ROOT / "configs/cartpole.toml", "--run-dir", run, "--no-progress",
               "--set", "total_steps=600", "--set", "learning_starts=200", "--set", "eval_episodes=2",
               "--set", "log_every=200")
    assert r.returncode == 0, r.stderr
    assert (run / "qnetwork.npz").exists() and (run / "config.json").exists()
    assert json.loads((run / "eval.json").read_text())["eval_episodes"] == 2
    assert len((run / "log.csv").read_text().splitlines()) >= 3
    r = snnjax("train", "--config", ROOT / "configs/cartpole.toml", "--run-dir", run, "--no-progress")
    assert r.returncode == 2 and "already holds a run" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_checkpoint(tmp_path, capsys):
    from snnjax.cli import main

    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert main(["evaluate", "--checkpoint", str(bad)]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_convert_writes_documented_npz(tmp_path):
    out = tmp_path / "snn.npz"
    r = snnjax("convert", "--checkpoint", CARTPOLE_MODEL, "-p", "99.9", "--calibration-frames", "300",
               "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    with np.load(out) as d:
        assert list(d["layer_order"]) == ["fc1", "fc2", "q"]
        assert str(d["fc1/kind"]) == "dense" and float(d["v_thr"]) == 1.0
        assert d["fc1/weight"].shape == (4, 128) and float(d["percentile"]) == pytest.approx(99.9)
    from snnjax.conversion.normalize import load_snn
    from snnjax.snn import simulate

    snn = load_snn(out)
    assert snn.int8 == ()  # the shipped CartPole network is float32: nothing to factor
    assert simulate(snn, np.zeros((3, 4), np.float32), 5).robust.shape == (3, 2)


def test_evaluate_and_sweep_smoke_with_resume(tmp_path):
    out = tmp_path / "ev.json"
    r = snnjax("evaluate", "--checkpoint", CARTPOLE_MODEL, "-T", "20", "--episodes", "2",
               "--calibration-frames", "200", "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "CartPole-v1" in r.stdout and out.with_suffix(".csv").exists() and out.with_suffix(".md").exists()
    sw = tmp_path / "sw.json"
    args = ["sweep", "--checkpoint", CARTPOLE_MODEL, "-T", "5,20", "-p", "99,100", "--episodes", "2",
            "--calibration-frames", "200", "--out", sw, "--no-progress"]
    r = snnjax(*args)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "sw_CartPole-v1.png").exists()
    res = json.loads(sw.read_text())
    assert sorted(res["games"]["CartPole-v1"]["runs"]) == ["20", "5"]
    rows = out.with_suffix(".csv").read_text().splitlines()
    assert len(rows) == 2
    before = sw.with_suffix(".csv").read_text()
    r = snnjax(*args)  # rerun: every entry finished, nothing is played again
    assert r.returncode == 0 and "resuming" in r.stderr
    assert sw.with_suffix(".csv").read_text() == before


def test_cli_defaults_are_the_functions_and_configs_defaults():
    """Each default is written once: the command's function or EvalConfig, read by the parser."""
    import inspect

    from snnjax.cli import build_parser
    from snnjax.conversion import qcfs
    from snnjax.experiments import benchmark, latency, speed
    from snnjax.rl.config import EvalConfig

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    parse = build_parser().parse_args
    lt = parse(["latency", "--checkpoint", "m.npz"])
    assert (lt.frames, lt.calibration_frames, lt.t_max) == tuple(default(latency.run, n) for n in
                                                                 ("frames", "calibration_frames", "t_max"))
    ft = parse(["finetune", "--checkpoint", "m.npz", "--out", "q.npz"])
    assert (ft.levels, ft.steps, ft.lr) == (default(qcfs.finetune, "levels"), default(qcfs.finetune, "steps"),
                                           default(qcfs.finetune, "learning_rate"))
    bm = parse(["benchmark"])
    assert bm.episodes is None and bm.play_budget_s == default(benchmark.run, "play_budget_s")  # None: per protocol
    b = parse(["bench"])
    assert b.time_steps == ",".join(map(str, default(speed.run, "Ts")))
    cv = parse(["convert", "--checkpoint", "m.npz", "--out", "s.npz"])
    assert (float(cv.percentile), cv.calibration_frames) == (EvalConfig().percentiles[0], EvalConfig().calibration_frames)
    assert "no_progress" in vars(parse(["evaluate"])) and "no_progress" in vars(parse(["train", "--config", "c.toml"]))
