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


def test_int8_dot_units_from_cpu_flags_by_hand():
    assert cp.cpu_has_int8_dots("fpu sse2 avx2 fma avx512f avx512_vnni")
    assert cp.cpu_has_int8_dots("fpu avx2 amx_bf16 amx_int8 amx_tile")
    assert cp.cpu_has_int8_dots("avx2 avx_vnni")
    assert not cp.cpu_has_int8_dots("fpu sse2 avx avx2 fma f16c")  # AVX2 only: float32 is faster
    assert not cp.cpu_has_int8_dots("avx512_vnnix")  # whole flags only


@pytest.mark.parametrize("value,fast", [("int8", True), ("float32", False)])
def test_int8_choice_follows_the_environment_variable(monkeypatch, value, fast):
    cp.int8_dots_fast.cache_clear()
    monkeypatch.setenv(cp.INT8_ENV, value)
    try:
        assert cp.int8_dots_fast() is fast
        monkeypatch.setenv(cp.INT8_ENV, "int4")
        cp.int8_dots_fast.cache_clear()
        with pytest.raises(ValueError, match="SNNJAX_INT8='int4'; allowed: auto, int8, float32"):
            cp.int8_dots_fast()
    finally:
        cp.int8_dots_fast.cache_clear()
