"""evaluate/readout_ties.py: the tie analysis partitions the frames exactly, and its script runs
end to end on a shipped model."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, random_nature

spec = importlib.util.spec_from_file_location("readout_ties", ROOT / "evaluate" / "readout_ties.py")
readout_ties = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readout_ties)


def test_tied_and_untied_frames_partition_the_conversion_rate():
    import jax

    from snnjax.conversion.normalize import ActivationStats, normalize
    from snnjax.snn import q_values, simulate

    ann, obs = random_nature(n_obs=24)
    r = readout_ties.readout_ties(ann, ActivationStats(ann, obs, 99.0), obs, 99.0, time_steps=8)
    n = r["frames"]
    assert n == 24 and all(sum(h) == n for h in r["actions"].values())
    f = r["tied_fraction"]
    assert 0.0 < f < 1.0  # T = 8 leaves at most 9 spike counts per action: some frames tie
    for ro in ("normal", "robust"):
        parts = f * r["cr_tied"][ro] + (1 - f) * r["cr_untied"][ro]
        assert r["cr"][ro] == pytest.approx(parts)
    # the same numbers from the simulator directly
    snn = normalize(ann, ActivationStats(ann, obs, 99.0).lambdas(99.0), 1.0, 99.0)
    res = simulate(snn, obs, 8)
    target = np.asarray(jax.vmap(lambda o: q_values(ann, o))(obs)).argmax(-1)
    assert r["cr"]["robust"] == pytest.approx(float((np.asarray(res.actions("robust")) == target).mean()))
    assert r["actions"]["dqn"] == np.bincount(target, minlength=6).tolist()


@pytest.mark.parametrize("openings", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_readout_ties_script_smoke(tmp_path, openings):
    out = tmp_path / "ties.json"
    cmd = [sys.executable, str(ROOT / "evaluate" / "readout_ties.py"), "Breakout-v5", "--percentiles", "99.9",
           "--calibration-frames", "64", "--held-out", "8", "-T", "16", "--out", str(out)]
    if openings:
        cmd.append("--openings")
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "| 99.9 |" in r.stdout
    res = json.loads(out.read_text())["by_percentile"][0]
    assert res["frames"] == 8 and res["time_steps"] == 16
    assert json.loads(out.read_text())["held_out"] == ("openings" if openings else "whole episodes")
