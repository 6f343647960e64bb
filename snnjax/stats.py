"""Score statistics of the paper's comparison: mean +- std, % of DQN, Welch's t-test, Pearson r.

Built on scipy.stats so p-values come from a maintained implementation. std is the sample
standard deviation (ddof=1), as score tables usually report.
"""

from __future__ import annotations

import math

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
    return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def pearson_r(x, y) -> float:
    """Pearson correlation coefficient; nan if either side is constant or has < 2 points."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(sps.pearsonr(x, y).statistic)


def fmt_pm(mean: float, std: float, digits: int = 1) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
