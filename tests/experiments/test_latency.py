import json

import pytest
from conftest import ROOT

from snnjax.experiments.latency import diagnostics_markdown, headline, markdown, run, smallest_t


def test_smallest_t_by_hand():
    assert smallest_t([1, 10, 100], [0.2, 0.9, 0.95], 0.9) == 10
    assert smallest_t([1, 10, 100], [0.2, 0.5, 0.6], 0.9) is None
    # A blip above the target that falls back below does not count (CrazyClimber, v0-half: 86% at
    # T = 2, 20% at T = 4, >= 92% from T = 16 on).
    assert smallest_t([1, 2, 4, 16, 50], [0.0, 0.86, 0.2, 0.92, 0.99], 0.614) == 16
    assert smallest_t([1, 2, 4], [0.0, 0.95, 0.5], 0.9) is None


def test_latency_study_smoke(tmp_path):
    out = tmp_path / "lat.json"
    res = run(ROOT / "models" / "CartPole-v1.npz", None, 99.9, out, frames=24, calibration_frames=300,
              t_max=20, log=lambda s: None)
    assert res["times"] == [1, 2, 4, 5, 8, 10, 16, 20]
    assert set(res["methods"]) == {"paper", "paper-normal", "v0-half", "channelwise", "auto-p", "all"}
    for m in res["methods"].values():
        assert len(m["cr"]) == 8 and all(0 <= c <= 1 for c in m["cr"])
    assert json.loads(out.read_text())["game"] == "CartPole-v1"
    assert out.with_suffix(".png").exists() and "| paper |" in out.with_suffix(".md").read_text()
    diag = res["diagnostics"]  # the paper's method at T = 10 and 20 (<= t_max) for every layer
    assert [(d["t"], d["layer"]) for d in diag] == [(t, n) for t in (10,) for n in ("fc1", "fc2", "q")]
    for d in diag:
        assert abs(sum(d["cases"].values()) - 1) < 1e-6 and d["cases"]["R<0,dV>0"] == 0


def test_markdown_headline_uses_paper_table2():
    res = {"times": [10, 500], "frames": 5,
           "methods": {"paper": {"percentile": 99.9, "cr": [0.5, 0.9]}}}
    md = markdown("Breakout-v5", res, 99.9)  # paper: Breakout p99.9 robust CR 87.0%
    assert "| paper | 99.9 | 50.0 | 90.0 | 500 |" in md and "87.0%" in md


def test_headline_by_hand():
    # paper, p = 99.9, robust, T = 500: Breakout 87.0%, Pong 63.9%; CartPole is not in the paper
    curves = {"times": [10, 50, 500],
              "methods": {"paper": {"cr": [0.5, 0.86, 0.88]}, "v0-half": {"cr": [0.64, 0.87, 0.9]}}}
    md = headline({"Breakout-v5": curves, "Pong-v5": curves, "CartPole-v1": curves}, 99.9)
    assert "| Breakout-v5 | 87.0% | T = 500 | T = 50 |" in md
    assert "| Pong-v5 | 63.9% | T = 50 | T = 10 |" in md
    assert "| CartPole-v1 | - | n/a | n/a |" in md
    low = {"times": [10], "methods": {"paper": {"cr": [0.2]}}}
    assert "| Breakout-v5 | 87.0% | not reached |" in headline({"Breakout-v5": low}, 99.9)


@pytest.mark.slow  # ~18 s; the study itself runs by default (test_latency_study_smoke)
def test_latency_study_script_smoke(tmp_path):
    """evaluate/latency_study.py end to end on the shipped Breakout model (tiny settings), and a
    rerun with the same settings reuses the stored study instead of simulating again."""
    import shutil
    import subprocess
    import sys

    models = tmp_path / "models"
    models.mkdir()
    for name in ("Breakout-v5.npz", "CartPole-v1.npz"):  # CartPole (an MLP) is not an Atari study
        shutil.copy(ROOT / "models" / name, models / name)
    cmd = [sys.executable, str(ROOT / "evaluate" / "latency_study.py"), "--models", str(models),
           "--frames", "4", "--calibration-frames", "64", "--t-max", "5",
           "--results-dir", str(tmp_path / "results"), "--out", str(tmp_path / "RESULTS.md")]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| Breakout-v5 | 87.0% |" in text and "CartPole" not in text
    assert (tmp_path / "docs" / "latency_Breakout-v5.png").exists()
    stored = json.loads((tmp_path / "results" / "latency_Breakout-v5.json").read_text())
    assert stored["settings"]["t_max"] == 5 and stored["times"] == [1, 2, 4, 5]
    notes = "<!-- notes: kept when this file is regenerated -->\n## Notes\nhand-written\n"
    (tmp_path / "RESULTS.md").write_text(text + notes)
    again = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert "reusing" in again.stdout
    regenerated = (tmp_path / "RESULTS.md").read_text()
    assert regenerated.endswith(notes) and regenerated.count("<!-- notes") == 1


def test_diagnostics_table_by_hand():
    res = {"frames": 8, "diag_frames": 4, "diagnostics": [
        {"t": 10, "layer": "conv1", "rate_mean": 0.125, "gap_abs_mean": 0.01,
         "cases": {"R>0,dV>0": 0.5, "R<0,dV>0": 0.0, "R>0,dV<0": 0.25, "R<0,dV<0": 0.125, "boundary": 0.125}}]}
    md = diagnostics_markdown(res)
    assert "on 4 of these frames" in md
    assert "| 10 | conv1 | 50.0 | 0.0 | 25.0 | 12.5 | 12.5 | 0.125 | 0.0100 |" in md
    assert diagnostics_markdown({"frames": 8}) == ""
