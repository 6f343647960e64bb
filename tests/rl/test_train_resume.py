"""Kill an Atari training run after its first checkpoint, resume it, and check continuity."""

import csv
import json
import subprocess
import sys
import time

import pytest
from conftest import ROOT

TOTAL = 1600  # long enough after the first checkpoint (200) that the kill lands mid-run on an idle machine
TINY = ["--set", f"total_steps={TOTAL}", "--set", "num_envs=4", "--set", "replay_capacity=4000",
        "--set", "learning_starts=80", "--set", "checkpoint_every=200", "--set", "log_every=40",
        "--set", "eval_episodes=0", "--set", "train_every=8"]


@pytest.mark.slow  # ~40 s; PQN's Atari resume (tests/rl/test_pqn.py) runs by default
def test_breakout_killed_after_checkpoint_resumes(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "snnjax.cli", "train", "--config", str(ROOT / "configs/atari_cpu.toml"),
           "--run-dir", str(run), "--no-progress", *TINY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    ckpt = run / "checkpoints"
    while time.time() < deadline:
        steps = [p for p in ckpt.glob("*") if p.name.isdigit()] if ckpt.exists() else []
        if steps:
            break
        assert proc.poll() is None, "training ended before its first checkpoint"
        time.sleep(0.05)
    time.sleep(0.5)  # a few log rows past the checkpoint, which the resume must drop
    assert proc.poll() is None, "training finished before it could be killed"
    proc.kill()
    proc.wait()
    assert not (run / "qnetwork.npz").exists()
    with (run / "log.csv").open() as f:
        rows_before = list(csv.DictReader(f))
    first_ckpt = min(int(p.name) for p in ckpt.glob("*") if p.name.isdigit())

    r = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    steps = [int(x["step"]) for x in rows]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # no duplicated rows
    # rows up to the checkpoint are kept as they were; later ones continue from it
    kept = [x for x in rows_before if int(x["step"]) <= first_ckpt]
    assert rows[:len(kept)] == kept
    assert steps[-1] >= TOTAL and all(s > first_ckpt for s in steps[len(kept):])
    updates = [int(x["updates"]) for x in rows]
    assert updates == sorted(updates) and updates[-1] > int(kept[-1]["updates"])
    summary = json.loads((run / "eval.json").read_text())
    assert summary["agent_steps"] >= TOTAL and summary["train_steps_this_call"] < TOTAL
    assert (run / "qnetwork.npz").exists()

    # Against a run that was never killed: every learning quantity logged up to the checkpoint is
    # identical (after the resume the replay is refilled, so later updates
    # differ by design: the buffer is not part of the checkpoint).
    whole = tmp_path / "whole"
    r = subprocess.run([*cmd[:cmd.index("--run-dir") + 1], str(whole), *cmd[cmd.index("--run-dir") + 2:]],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with (whole / "log.csv").open() as f:
        whole_rows = list(csv.DictReader(f))
    learned = ("step", "updates", "episodes", "return_mean10", "loss", "mean_q", "eps")
    pick = lambda rs: [{k: x[k] for k in learned} for x in rs]  # noqa: E731 - drop wall-clock columns
    assert pick(whole_rows[:len(kept)]) == pick(kept)
    # Both reach the budget (a resume gives the envs fresh seeds, so the last step differs by the
    # reset steps that are not counted).
    assert json.loads((whole / "eval.json").read_text())["agent_steps"] >= TOTAL


def test_resume_with_other_config_is_refused(tmp_path):
    from snnjax.cli import main

    run = tmp_path / "run"
    args = ["train", "--config", str(ROOT / "configs/cartpole.toml"), "--run-dir", str(run), "--no-progress",
            "--set", "total_steps=300", "--set", "learning_starts=100", "--set", "eval_episodes=0",
            "--set", "checkpoint_every=100"]
    assert main(args) == 0
    assert main([*args, "--resume", "--set", "learning_rate=0.5"]) == 2
    assert main([*args[:3], "--run-dir", str(tmp_path / "none"), "--resume"]) == 2
