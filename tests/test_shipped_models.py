"""Every shipped model loads and its greedy policy on fixed seeds reproduces the recorded score
band: a regression guard against a broken loader or a changed network definition."""

import json
import sys

import pytest

from conftest import ROOT

MODELS = sorted((ROOT / "models").glob("*.npz"))


def test_models_are_shipped():
    assert MODELS, "no shipped models in models/"


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_shipped_model_reproduces_recorded_band(model):
    sys.path.insert(0, str(ROOT / "models"))
    from ship import regression_scores

    prov = json.loads(model.with_suffix(".json").read_text())
    lo, hi = prov["regression"]["band"]
    scores = regression_scores(model)
    assert lo <= min(scores) and max(scores) <= hi, (scores, (lo, hi))
    assert prov["evaluation"]["mean"] > prov["random_agent"]["mean"]


def test_regression_band_by_hand():
    sys.path.insert(0, str(ROOT / "models"))
    from ship import regression_band

    assert regression_band([15.0, 21.0]) == pytest.approx([11.0, 26.2])  # Breakout's recorded band
    assert regression_band([-20.0, -15.0]) == pytest.approx([-25.0, -11.0])  # negative scores widen too
