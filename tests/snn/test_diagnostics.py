import numpy as np
import pytest
from test_snn import tiny_net

from snnjax.snn.diagnostics import error_analysis


def test_four_cases_by_hand():
    # Layer 1: input 0.5 -> spikes at t=2, 4. Output neurons z = b + w s1:
    #  A w=-1,   b=.6 : t1 .6, t2 -.4 -> V=.2, N=0; R = -.5+.6 = .1 > 0, dV = .1 > 0   (case 1)
    #  B w=-1,   b=.2 : t1 .2, t2 -.8 -> V=-.6, N=0; R = -.3, dV = -.3              (case 4)
    #  C w=-1.5, b=1  : t1 1 spike ->0, t2 -.5 -> V=-.5, N=1; R=.25, dV=-.25, r=.5  (case 3)
    net = tiny_net([[1.0]], [0.0], [[-1.0, -1.0, -1.5]], [0.6, 0.2, 1.0])
    rows = error_analysis(net, np.array([[0.5]], np.float32), times=(2,))
    hidden, out = rows
    assert hidden["cases"]["boundary"] == 1.0  # N=1, V=0 at t=2: dV == 0
    assert hidden["gap_mean"] == pytest.approx(0.5 - 0.5)
    assert out["cases"]["R>0,dV>0"] == pytest.approx(1 / 3)
    assert out["cases"]["R>0,dV<0"] == pytest.approx(1 / 3)
    assert out["cases"]["R<0,dV<0"] == pytest.approx(1 / 3)
    assert out["cases"]["R<0,dV>0"] == 0.0
    # ANN: a1 = .5, q = [.1, -.3, .25]; rates [0, 0, .5] -> gaps [-.1, .3, .25]
    assert out["gap_mean"] == pytest.approx((-0.1 + 0.3 + 0.25) / 3)
    assert out["gap_abs_mean"] == pytest.approx((0.1 + 0.3 + 0.25) / 3)
