"""`snnjax benchmark`: the choice of T and of the low-latency method by hand, the RESULTS.md
section replacement, and one tiny end-to-end run through the CLI with a resume."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from snnjax.experiments import benchmark, latency, report

TIMES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def _curves(**crs):
    methods = {name: {"percentile": 99.9, "channelwise": name in ("channelwise", "all"),
                      "initial_potential": 0.5 if name in ("v0-half", "all") else 0.0,
                      "readout": "normal" if name == "paper-normal" else "robust", "cr": cr}
               for name, cr in crs.items()}
    return {"times": TIMES, "methods": methods}


FLAT = [0.1] * 10


def test_best_low_latency_picks_smallest_t_reaching_the_papers_cr():
    # Breakout: the paper's T=500 robust CR at p=99.9 is 87.0%.
    assert latency.paper_target("Breakout-v5", 99.9) == pytest.approx(0.870)
    curves = _curves(**{
        "paper": [0.1, 0.2, 0.3, 0.5, 0.7, 0.80, 0.86, 0.88, 0.90, 0.95],   # reaches at T=200
        "paper-normal": FLAT,
        "v0-half": [0.1, 0.2, 0.4, 0.6, 0.88, 0.9, 0.9, 0.9, 0.9, 0.9],     # reaches at T=20 (0.88)
        "channelwise": [0.1, 0.2, 0.4, 0.6, 0.87, 0.9, 0.9, 0.9, 0.9, 0.9],  # T=20 too, lower CR
        "auto-p": FLAT,
        "all": [0.1, 0.2, 0.4, 0.6, 0.7, 0.9, 0.9, 0.9, 0.9, 0.9]})          # T=50
    best = benchmark.best_low_latency(curves, "Breakout-v5")
    assert (best["method"], best["time_steps"], best["initial_potential"]) == ("v0-half", 20, 0.5)
    assert best["cr_held_out"] == 0.88


def test_best_low_latency_without_a_hit_takes_the_best_cr_at_t50():
    curves = _curves(paper=FLAT, **{"paper-normal": FLAT}, **{"v0-half": FLAT, "auto-p": FLAT},
                     channelwise=[0.1] * 5 + [0.5] + [0.6] * 4, all=[0.1] * 5 + [0.4] + [0.8] * 4)
    best = benchmark.best_low_latency(curves, "Breakout-v5")
    assert (best["method"], best["time_steps"]) == ("channelwise", 50)
    assert "no method reached" in best["why"]


def test_choose_t_by_hand(monkeypatch):
    # Seconds per decision proportional to T: 1 ms per 100 steps.
    monkeypatch.setattr(benchmark, "seconds_per_decision", lambda t, batch: t / 100 * 1e-3)
    # 10 episodes x 1.3 x 1000 steps = 13,000 decisions: T=500 -> 65 s, 200 -> 26 s, 100 -> 13 s.
    assert benchmark.choose_t(1000, 10, 100.0)[0] == 500
    assert benchmark.choose_t(1000, 10, 30.0)[0] == 200
    t, info = benchmark.choose_t(1000, 10, 20.0)
    assert t == 100 and info["decisions"] == pytest.approx(13000) and info["predicted_s"][100] == pytest.approx(13)
    assert benchmark.choose_t(1000, 10, 1.0, log=lambda *_: None)[0] == 50  # nothing fits: the smallest


def test_replace_section_keeps_everything_else(tmp_path):
    md = tmp_path / "R.md"
    md.write_text("# title\n\nlatency part\n\n" + report.NOTES + "\nhand notes\n")
    report.write_section(md, "first", benchmark.BEGIN, benchmark.END)
    text = md.read_text()
    assert text.index("latency part") < text.index("first") < text.index(report.NOTES) < text.index("hand notes")
    report.write_section(md, "second", benchmark.BEGIN, benchmark.END)
    text = md.read_text()
    assert "first" not in text and text.count(benchmark.BEGIN) == 1 and "second" in text and "hand notes" in text


@pytest.mark.slow  # 1-3 minutes; the benchmark command's default smoke is `--protocol paper` run small
def test_benchmark_cli_end_to_end_and_resume(tmp_path):
    """Breakout with tiny settings through the real command; the rerun reuses the stored stages,
    and other settings are refused instead of silently replacing the stored run."""
    md = tmp_path / "R.md"
    args = [sys.executable, "-c",
            "import sys; from pathlib import Path; from snnjax.experiments import benchmark; "
            "benchmark.run(['Breakout-v5', 'Atlantis-v5'], Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), "
            "episodes=2, play_budget_s=float(sys.argv[4]), progress=False, calibration_frames=200, held_out=8, "
            "max_episode_steps=60)",
            str(tmp_path / "models"), str(tmp_path / "bm"), str(md), "0.5"]
    (tmp_path / "models").mkdir()
    for suffix in (".npz", ".json"):
        (tmp_path / "models" / f"Breakout-v5{suffix}").write_bytes((ROOT / "models" / f"Breakout-v5{suffix}").read_bytes())
    r = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "bm" / "Breakout-v5.json").read_text())
    assert set(res["conversion"]["table2"]) == {"99.9", "99.99"}
    play = res["play"]
    assert play["paper"]["time_steps"] in benchmark.T_CHOICES
    assert len(play["paper"]["snn"]["scores"]) == 2 and len(play["low_latency"]["dqn"]["scores"]) == 2
    # Same seeds and exploration draws: both calls play the DQN's identical games.
    assert play["paper"]["dqn"]["scores"] == play["low_latency"]["dqn"]["scores"]
    text = md.read_text()
    assert "| Breakout-v5 | 2 |" in text and "| Atlantis-v5 | - | not yet |" in text
    assert (tmp_path / "docs" / "normalized_scores.png").is_file()
    mtime = (tmp_path / "bm" / "Breakout-v5.json").stat().st_mtime
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "conversion stage" not in r.stdout
    assert (tmp_path / "bm" / "Breakout-v5.json").stat().st_mtime == mtime
    # A stored low-latency stage that is no longer the rule's choice (e.g. after the rule changed)
    # is played again; the paper's stage and the conversion stage are kept.
    stale = json.loads((tmp_path / "bm" / "Breakout-v5.json").read_text())
    stale["play"]["low_latency"]["time_steps"] = -1
    (tmp_path / "bm" / "Breakout-v5.json").write_text(json.dumps(stale))
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "played again" in r.stdout and "conversion stage" not in r.stdout and "paper's method" not in r.stdout
    again = json.loads((tmp_path / "bm" / "Breakout-v5.json").read_text())
    assert again["play"]["low_latency"]["time_steps"] == play["low_latency"]["time_steps"]
    assert again["play"]["low_latency"]["snn"] == play["low_latency"]["snn"]  # same seeds: the same games
    assert again["play"]["paper"] == play["paper"] and again["conversion"] == res["conversion"]
    # A conversion stage whose held-out frames were sampled otherwise (the first 128 steps of 16
    # episodes, before whole-episode sampling) is measured again; both play stages are kept.
    assert res["conversion"]["held_out_sampling"] == benchmark.HELD_OUT == {"envs": 1, "stride": 64}
    stale = dict(again, conversion=dict(again["conversion"], held_out_sampling={"envs": 16, "stride": 8}))
    (tmp_path / "bm" / "Breakout-v5.json").write_text(json.dumps(stale))
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "measured again" in r.stdout and "paper's method" not in r.stdout and "played again" not in r.stdout
    remeasured = json.loads((tmp_path / "bm" / "Breakout-v5.json").read_text())
    assert remeasured["conversion"]["held_out_sampling"] == benchmark.HELD_OUT
    assert remeasured["conversion"]["table2"] == res["conversion"]["table2"]  # same frames, same numbers
    assert remeasured["play"] == again["play"]
    r = subprocess.run(args[:-1] + ["9.0"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "other settings" in r.stderr and "play_budget_s" in r.stderr
