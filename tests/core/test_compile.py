"""snnjax.core.compile: the fast CPU option where JAX takes it, a clean fallback where it does not."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.core import compile as cp


def f(x, w):
    return jnp.maximum(x @ w, 0.0).sum(-1)


X = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
W = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
EXPECTED = np.maximum(X @ W, 0).sum(-1)


def test_takes_int8_by_hand():
    assert cp.takes_int8(np.zeros(2, np.int8), 1.0)
    assert cp.takes_int8(a={"k": jnp.zeros(3, jnp.int8)})
    assert not cp.takes_int8(np.zeros(2, np.uint8), np.zeros(2, np.float32))


def test_unsupported_option_compiles_the_default_without_a_warning(monkeypatch):
    monkeypatch.setattr(cp, "fast_options_supported", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = cp.compile_fast(f, X, W)(X, W)
    np.testing.assert_allclose(np.asarray(out), EXPECTED, rtol=1e-6)


def test_rejected_option_warns_and_falls_back_to_the_same_result(monkeypatch):
    monkeypatch.setattr(cp, "fast_options_supported", lambda: True)
    monkeypatch.setattr(cp, "FAST_CPU_OPTIONS", {"xla_no_such_option_snnjax": "1"})
    with pytest.warns(UserWarning, match="fast CPU compile option rejected"):
        out = cp.compile_fast(f, X, W)(X, W)
    np.testing.assert_allclose(np.asarray(out), EXPECTED, rtol=1e-6)


def test_fastjit_caches_per_signature_and_keeps_int8_off_the_option(monkeypatch):
    calls = []
    real = cp.compile_fast
    monkeypatch.setattr(cp, "compile_fast", lambda fn, *a, **k: calls.append(cp.takes_int8(*a)) or real(fn, *a, **k))
    jit = cp.FastJit(lambda x: x * 2)
    jit(np.ones(3, np.float32)), jit(np.zeros(3, np.float32)), jit(np.ones(3, np.int8))
    assert calls == [False, True]  # one compile per signature; the int8 one is flagged
    assert "multiply" in jit.compiled_text()
