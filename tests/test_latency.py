import json

from snnjax.latency import markdown, run, smallest_t

from conftest import ROOT


def test_smallest_t_by_hand():
    assert smallest_t([1, 10, 100], [0.2, 0.9, 0.95], 0.9) == 10
    assert smallest_t([1, 10, 100], [0.2, 0.5, 0.6], 0.9) is None


def test_latency_study_smoke(tmp_path):
    out = tmp_path / "lat.json"
    res = run(ROOT / "models" / "CartPole-v1.npz", None, 99.9, out, frames=24, calibration_frames=300,
              t_max=20, log=lambda s: None)
    assert res["times"] == [1, 2, 5, 10, 20]
    assert set(res["methods"]) == {"paper", "paper-normal", "v0-half", "channelwise", "auto-p", "all"}
    for m in res["methods"].values():
        assert len(m["cr"]) == 5 and all(0 <= c <= 1 for c in m["cr"])
    assert json.loads(out.read_text())["game"] == "CartPole-v1"
    assert out.with_suffix(".png").exists() and "| paper |" in out.with_suffix(".md").read_text()


def test_markdown_headline_uses_paper_table2():
    res = {"times": [10, 500], "frames": 5,
           "methods": {"paper": {"percentile": 99.9, "cr": [0.5, 0.9]}}}
    md = markdown("Breakout-v5", res, 99.9)  # paper: Breakout p99.9 robust CR 87.0%
    assert "| paper | 99.9 | 50.0 | 90.0 | 500 |" in md and "87.0%" in md
