import numpy as np
import pytest
from scipy import stats as sps

from snnjax import stats


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
