import numpy as np
import pytest
from scipy import stats as sps

from snnjax.core import stats


def test_mean_std_and_pct_by_hand():
    assert stats.mean_std([1, 2, 3, 4]) == (2.5, pytest.approx(np.sqrt(5 / 3)))
    assert stats.pct_of(19.8, 19.9) == pytest.approx(99.497, abs=1e-3)  # paper's Pong: 99.7% (rounded means)
    assert np.isnan(stats.pct_of(1.0, 0.0))


def test_welch_by_hand():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    # t = (2.5 - 4) / sqrt(1.6667/4 + 4/3) = -1.1339; Welch-Satterthwaite df = 3.0625 / 0.94676 = 3.2347
    se2 = (5 / 3) / 4 + 4 / 3
    t = (2.5 - 4.0) / np.sqrt(se2)
    df = se2**2 / (((5 / 3) / 4) ** 2 / 3 + (4 / 3) ** 2 / 2)
    p = 2 * sps.t.sf(abs(t), df)
    assert t == pytest.approx(-1.1339, abs=1e-4) and df == pytest.approx(3.2347, abs=1e-3)
    assert stats.welch_p(a, b) == pytest.approx(p, rel=1e-10)
    assert stats.welch_p([5, 5], [5, 5]) == 1.0
    assert np.isnan(stats.welch_p([1], [2, 3]))


def test_pearson_by_hand():
    assert stats.pearson_r([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert stats.pearson_r([1, 2, 3], [3, 1, 2]) == pytest.approx(-0.5)
    assert np.isnan(stats.pearson_r([1, 1, 1], [1, 2, 3]))


def test_spearman_by_hand():
    # Ranks of y = (1, 3, 2, 4) against x's (1, 2, 3, 4): d = (0, 1, -1, 0), rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert stats.spearman_rho([1, 2, 3, 4], [10, 30, 20, 40]) == pytest.approx(0.8)
    # One point far from the rest carries Pearson's r, not the ranks.
    x, y = [0.1, 0.2, 0.3, 0.4, 5.0], [0.4, 0.3, 0.2, 0.1, 5.0]
    # y ranks (4, 3, 2, 1, 5): d = (-3, -1, 1, 3, 0), rho = 1 - 6 * 20 / (5 * 24) = 0.
    assert stats.pearson_r(x, y) > 0.9 and stats.spearman_rho(x, y) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(stats.spearman_rho([1, 1, 1], [1, 2, 3]))


def test_iqm_by_hand():
    # sorted [-50, 1, 2, 3, 4, 5, 6, 100]: drop the lowest 2 and highest 2, mean of [2, 3, 4, 5] = 3.5
    assert stats.iqm([100, 1, 2, 3, 4, 5, 6, -50]) == pytest.approx(3.5)


def test_probability_of_improvement_by_hand():
    # game a: x=[2, 3] vs y=[1, 2]: pairs (2>1) 1, (2=2) .5, (3>1) 1, (3>2) 1 -> 3.5/4
    # game b: x=[0] vs y=[1]: 0 -> mean (0.875 + 0) / 2
    p = stats.probability_of_improvement({"a": [2, 3], "b": [0]}, {"a": [1, 2], "b": [1]})
    assert p == pytest.approx(0.4375)


def test_normalized_scores_and_stratified_bootstrap():
    norm = stats.normalized_scores({"g": [5.0, 15.0]}, {"g": [10.0, 10.0]}, {"g": 0.0})
    np.testing.assert_allclose(norm["g"], [0.5, 1.5])
    norm = stats.normalized_scores({"g": [5.0]}, {"g": [10.0]}, {"g": 5.0})
    np.testing.assert_allclose(norm["g"], [0.0])
    const = {"a": np.ones(10), "b": np.ones(4)}
    assert stats.stratified_bootstrap_ci(const, reps=50) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(1.0, 0.1, 50), "b": rng.normal(1.0, 0.1, 50)}
    point, lo, hi = stats.stratified_bootstrap_ci(data, reps=500)
    assert lo < point < hi and 0.9 < lo and hi < 1.1


def test_tables_take_missing_values_read_back_from_strict_json():
    """A NaN is stored as null in strict JSON: the Markdown and console tables regenerated from a
    stored file show n/a instead of crashing on the format spec."""
    from snnjax.core.stats import fmt, fmt_pm, missing
    from snnjax.experiments import report

    assert missing(None) and missing(float("nan")) and not missing(0.0)
    assert fmt(None, ".1f") == "n/a" and fmt(2.25, ".1f") == "2.2" and fmt_pm(1.0, None) == "1.0 ± n/a"
    row = {"game": "Pong-v5", "time_steps": 5, "percentile": 99.9, "dqn_mean": 1.0, "dqn_std": None,
           "snn_mean": 1.0, "snn_std": 0.5, "snn_pct_of_dqn": None, "p_value": None, "cr_normal": None,
           "cr_normal_std": None, "cr_robust": 0.5, "cr_robust_std": None}
    md = report.markdown_table([row]).splitlines()[-1]
    assert md.startswith("| Pong-v5 | 5 | 99.9 | 1.0 ± n/a | 1.0 ± 0.5 | n/a | n/a | n/a ± n/a | 50.0 ± n/a |")
    assert "n/a" in report.console_table([row]).splitlines()[-1]


def test_welch_tost_by_hand():
    # a = [1, 2, 3], b = [2, 3, 4]: difference -1, se = sqrt(1/3 + 1/3), Welch df = 4.
    from scipy import stats as sps

    from snnjax.core.stats import welch_tost

    se = (2 / 3) ** 0.5
    p = welch_tost([1, 2, 3], [2, 3, 4], margin=2.0)
    assert abs(p - sps.t.sf((-1 + 2) / se, 4)) < 1e-9  # the larger one-sided p (0.144), not P(T4 < -3.67)
    assert abs(p - 0.14393) < 1e-4
    assert welch_tost([1, 2, 3], [2, 3, 4], margin=0.5) > 0.5  # the difference itself lies outside +-0.5
    assert welch_tost([5, 5], [5, 5], 1.0) == 0.0 and welch_tost([5, 5], [7, 7], 1.0) == 1.0
    assert np.isnan(welch_tost([1], [1, 2], 1.0)) and np.isnan(welch_tost([1, 2], [1, 2], 0.0))


def test_mean_diff_ci_resamples_both_sides():
    from snnjax.core.stats import mean_diff_ci

    assert mean_diff_ci([5, 5, 5], [3, 3]) == (2.0, 2.0, 2.0)
    rng = np.random.default_rng(0)
    d, lo, hi = mean_diff_ci(rng.normal(1, 1, 400), rng.normal(0, 1, 400), reps=2000)
    assert lo < d < hi and lo > 0.6 and hi < 1.4 and 0.1 < hi - lo < 0.4  # 95% CI width ~ 2 x 1.96 x 0.071
    # a constant DQN side: the CI is the SNN's alone, as wide as one sample's
    _, lo1, hi1 = mean_diff_ci(rng.normal(0, 1, 400), np.zeros(400), reps=2000)
    assert (hi1 - lo1) < (hi - lo)


def test_normalized_difference_keeps_sign_on_negative_scores():
    from snnjax.core.stats import normalized_difference, pct_of

    # Pong-like: SNN -20 vs DQN -18.5, random -20.7, the paper's DQN 18.9
    assert pct_of(-20.0, -18.5) > 100  # "% DQN" reads as better
    assert abs(normalized_difference(-20.0, -18.5, -20.7, 18.9) - (-1.5 / 39.6)) < 1e-12
    assert np.isnan(normalized_difference(1, 2, 5, 5))


def test_paired_iqm_ci():
    from snnjax.core.stats import paired_iqm_ci

    snn = {"a": [10.0] * 8, "b": [20.0] * 8}
    dqn = {"a": [10.0] * 8, "b": [20.0] * 8}
    assert paired_iqm_ci(snn, dqn, {"a": 0.0, "b": 0.0}, reps=50) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(1)
    snn = {g: rng.normal(8, 2, 50) for g in "abcd"}
    dqn = {g: rng.normal(10, 2, 50) for g in "abcd"}
    point, lo, hi = paired_iqm_ci(snn, dqn, {g: 0.0 for g in "abcd"}, reps=300)
    assert lo < point < hi and lo < 0.8 < hi and hi < 1.0  # the SNN sits at ~0.8 of its DQN
    assert np.isnan(paired_iqm_ci({"a": [1.0]}, {"a": [0.0]}, {"a": 0.0})[0])  # no game beats random
