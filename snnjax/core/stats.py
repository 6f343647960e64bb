"""Score statistics of the paper's comparison: mean +- std, % of DQN, Welch's t-test, Pearson r.

Built on scipy.stats so p-values come from a maintained implementation. std is the sample
standard deviation (ddof=1), as score tables usually report.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats as sps


def mean_std(x) -> tuple[float, float]:
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def pct_of(snn_mean: float, dqn_mean: float) -> float:
    """SNN mean as % of the DQN mean (the paper's "Normalized SNN (% DQN)"); nan if DQN is 0."""
    return float(100.0 * snn_mean / dqn_mean) if dqn_mean != 0 else float("nan")


def welch_p(a, b) -> float:
    """Two-sided Welch's t-test p-value (unequal variances); 1.0 if both samples are constant
    and equal, nan with fewer than 2 samples on a side."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2:
        return float("nan")
    if np.all(a == a[0]) and np.all(b == b[0]):
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():  # near-constant samples: scipy warns about precision loss
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def pearson_r(x, y) -> float:
    """Pearson correlation coefficient; nan if either side is constant or has < 2 points."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(sps.pearsonr(x, y).statistic)


def spearman_rho(x, y) -> float:
    """Spearman rank correlation (Pearson r of the ranks, ties averaged): one game far from the
    others cannot carry it alone, as it can carry Pearson's r; nan where pearson_r is nan."""
    return pearson_r(sps.rankdata(x), sps.rankdata(y))


def missing(x) -> bool:
    """None (a NaN stored in strict JSON comes back as null) or NaN."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x, spec: str) -> str:
    """`format(x, spec)`, or "n/a" for a missing value."""
    return "n/a" if missing(x) else format(x, spec)


def fmt_pm(mean: float, std: float, digits: int = 1) -> str:
    if missing(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {fmt(std, f'.{digits}f')}"


# --- Robust aggregate statistics across games (Agarwal et al. 2021, "Deep RL at the edge of the
# statistical precipice"), beside the paper's per-game Welch t-test. ---


def iqm(x) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25%-trimmed mean)."""
    return float(sps.trim_mean(np.asarray(x, np.float64).ravel(), 0.25))


def normalized_scores(snn: dict[str, np.ndarray], dqn: dict[str, np.ndarray],
                      random: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Per game, SNN episode scores normalized as (s - random) / (DQN mean - random)
    (random = 0 when not given): 1.0 means the DQN's level."""
    out = {}
    for g, s in snn.items():
        base = 0.0 if random is None else float(random[g])
        out[g] = (np.asarray(s, np.float64) - base) / (float(np.mean(dqn[g])) - base)
    return out


def stratified_bootstrap_ci(scores: dict[str, np.ndarray], statistic=iqm, reps: int = 2000,
                            alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high): percentile CI of `statistic` over all games' runs, resampling runs
    with replacement within each game (stratified by game)."""
    rng = np.random.default_rng(seed)
    games = [np.asarray(v, np.float64).ravel() for v in scores.values()]
    point = statistic(np.concatenate(games))
    boots = np.empty(reps)
    for i in range(reps):
        boots[i] = statistic(np.concatenate([g[rng.integers(0, len(g), len(g))] for g in games]))
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(point), float(lo), float(hi)


def probability_of_improvement(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> float:
    """P(X > Y) averaged over games: per game the Mann-Whitney U of x against y over n*m
    (ties count one half), then the mean over games."""
    probs = []
    for g in x:
        a, b = np.asarray(x[g], np.float64), np.asarray(y[g], np.float64)
        probs.append(sps.mannwhitneyu(a, b, alternative="two-sided").statistic / (len(a) * len(b)))
    return float(np.mean(probs))


# --- Equivalence and effect sizes for SNN against DQN (what "not distinguishable" needs). ---


def welch_tost(a, b, margin: float) -> float:
    """p-value of the two one-sided Welch tests (TOST) of equivalence: H0 |mean(a) - mean(b)| >=
    margin against H1 |mean(a) - mean(b)| < margin; the larger of the two one-sided p-values.
    p < alpha: the means are equivalent within +- margin at level alpha (a 1 - 2 alpha CI of the
    difference lies inside the margin). nan with fewer than 2 samples on a side or margin <= 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2 or not margin > 0:
        return float("nan")
    if np.all(a == a[0]) and np.all(b == b[0]):
        return 0.0 if abs(a[0] - b[0]) < margin else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        above = sps.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue  # diff > -margin
        below = sps.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue  # diff < +margin
    return float(max(above, below))


def mean_diff_ci(a, b, reps: int = 10_000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high): percentile bootstrap CI of the difference of means that
    resamples BOTH samples (each with replacement, independently): the SNN's episodes and the
    DQN's. nan with an empty side."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size == 0 or b.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    boots = (a[rng.integers(0, a.size, (reps, a.size))].mean(1) - b[rng.integers(0, b.size, (reps, b.size))].mean(1))
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(a.mean() - b.mean()), float(lo), float(hi)


def normalized_difference(snn_mean: float, dqn_mean: float, random_mean: float, reference: float) -> float:
    """(SNN - DQN) / (reference - random): the SNN's gap in units of the gap between a random
    agent and `reference` (e.g. the paper's DQN). Where "% of DQN" misleads (scores near zero
    or negative: Pong's -20 is "108%" of -18.5) this keeps its sign and scale; nan when the
    reference does not beat the random agent."""
    gap = float(reference) - float(random_mean)
    return float((snn_mean - dqn_mean) / gap) if gap > 0 else float("nan")


def paired_iqm_ci(snn: dict[str, np.ndarray], dqn: dict[str, np.ndarray], random: dict[str, float],
                  reps: int = 2000, alpha: float = 0.05, seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high) of the IQM across games of (SNN - random) / (DQN mean - random), per
    SNN episode, with a stratified bootstrap that resamples BOTH agents' episodes within each
    game (the DQN mean that normalizes is itself a sample). Games whose DQN does not beat the
    random agent (normalizer <= 0) are left out."""
    rng = np.random.default_rng(seed)
    games = [g for g in snn if float(np.mean(dqn[g])) > float(random[g])]
    s = {g: np.asarray(snn[g], np.float64).ravel() for g in games}
    d = {g: np.asarray(dqn[g], np.float64).ravel() for g in games}
    if not games:
        return float("nan"), float("nan"), float("nan")

    def stat(ss, dd):
        return iqm(np.concatenate([(ss[g] - random[g]) / (dd[g].mean() - random[g]) for g in games]))

    boots = []
    for _ in range(reps):
        ss = {g: v[rng.integers(0, v.size, v.size)] for g, v in s.items()}
        dd = {g: v[rng.integers(0, v.size, v.size)] for g, v in d.items()}
        if all(dd[g].mean() > random[g] for g in games):
            boots.append(stat(ss, dd))
    if not boots:  # every resample drew a DQN at or below random: no interval
        return float(stat(s, d)), float("nan"), float("nan")
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return float(stat(s, d)), float(lo), float(hi)
