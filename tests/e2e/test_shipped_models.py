"""Every shipped model loads and its greedy policy on fixed seeds reproduces the recorded score
band: a regression guard against a broken loader or a changed network definition. Its
provenance says honestly whether it beats the random agent."""

import json

import numpy as np
import pytest
from conftest import ROOT

from snnjax.core import stats
from snnjax.experiments.ship import regression_band, regression_scores

MODELS = sorted((ROOT / "models").glob("*.npz"))
# The default suite replays Breakout's band (the main command's model); the other 17 under -m slow.
BANDS = [m if m.stem == "Breakout-v5" else pytest.param(m, marks=pytest.mark.slow) for m in MODELS]


def test_models_are_shipped():
    assert MODELS, "no shipped models in models/"
    for m in MODELS:
        assert m.with_suffix(".json").is_file(), f"{m.name} has no provenance JSON"
        assert (ROOT / "models" / "logs" / f"{m.stem}.log.csv").is_file(), f"{m.name} has no training log"


@pytest.mark.parametrize("model", BANDS, ids=lambda p: p.stem)
def test_shipped_model_reproduces_recorded_band(model):
    prov = json.loads(model.with_suffix(".json").read_text())
    lo, hi = prov["regression"]["band"]
    scores = regression_scores(model)
    assert lo <= min(scores) and max(scores) <= hi, (scores, (lo, hi))
    ev, rnd = prov["evaluation"], prov["random_agent"]
    p = stats.welch_p(ev["scores"], rnd["scores"])
    beats = bool(np.mean(ev["scores"]) > np.mean(rnd["scores"]) and p < 0.05)
    assert prov.get("beats_random", beats) == beats
    if "welch_p_vs_random" in prov:
        assert prov["welch_p_vs_random"] == pytest.approx(p)
    readme = (ROOT / "models" / "README.md").read_text()
    assert f"| {prov['game']} |" in readme


def test_regression_band_by_hand():
    assert regression_band([15.0, 21.0]) == pytest.approx([11.0, 26.2])  # Breakout's recorded band
    assert regression_band([-20.0, -15.0]) == pytest.approx([-25.0, -11.0])  # negative scores widen too


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_flax_network_and_converter_compute_the_same_q_values(model):
    """The trainer's Flax module and the converter's layer list are one network: same Q-values on
    the shipped weights (observations: random uint8 frames or random vectors)."""
    import jax

    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.nets.models import network_from_meta
    from snnjax.snn import q_values

    params, meta = load_qnetwork(model)
    rng = np.random.default_rng(0)
    shape = (8, *meta["obs_shape"])
    obs = rng.integers(0, 256, shape, dtype=np.uint8) if meta["network"] == "nature" else rng.normal(size=shape).astype(np.float32)
    flax_q = np.asarray(network_from_meta(meta).apply({"params": params}, obs))
    conv_q = np.asarray(jax.vmap(lambda o: q_values(from_qnetwork(params, meta), o))(obs))
    np.testing.assert_allclose(conv_q, flax_q, rtol=1e-4, atol=1e-4 * np.abs(flax_q).max())
    assert (conv_q.argmax(-1) == flax_q.argmax(-1)).all()


def test_main_command_gives_the_shipped_scores(tmp_path, monkeypatch):
    """One model, one seed, one score: `snnjax evaluate` (the main command: the DQN beside its
    SNN in the one play loop) plays the same episodes as `snnjax ship` recorded in
    models/README.md; its E DQN episodes are the first E of the shipped 20."""
    from snnjax.cli import main

    monkeypatch.chdir(ROOT)
    out = tmp_path / "main.json"
    assert main(["evaluate", "--episodes", "2", "-T", "4", "--calibration-frames", "64", "--quiet",
                 "--out", str(out)]) == 0
    dqn = json.loads(out.read_text())["games"]["Breakout-v5"]["runs"]["4"]["dqn"]
    shipped = json.loads((ROOT / "models" / "Breakout-v5.json").read_text())["evaluation"]
    assert dqn["scores"] == shipped["scores"][:2]
    assert dqn["lengths"] == shipped["lengths"][:2]
