"""The time-batched fast path equals the per-step reference scan bit for bit, and sharding over
devices equals one device. Exactness trick: weights in multiples of 2^-10 and input u8/256 make
every sum exact in fp32, so any correct implementation agrees to the last bit."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, assert_identical, random_nature

from snnjax.conversion.normalize import convert
from snnjax.snn import float32_only, simulate


def exact_net(seed=0):
    ann, obs = random_nature(6, seed=seed, n_obs=7, scale=1 / 256)
    snn = float32_only(convert(ann, obs, 99.0))  # new weights below: no int8 factorization
    q = lambda x: jnp.round(x * 1024) / 1024  # noqa: E731
    return snn.replace(weights=tuple(q(w) for w in snn.weights), biases=tuple(q(b) for b in snn.biases)), obs


@pytest.fixture(scope="module")
def exact():
    return exact_net()


@pytest.mark.parametrize("batch,T,chunk", [(1, 1, 3), (1, 13, 4), (7, 13, 5), (7, 13, 13), (7, 1, 1), (1, 13, 1)])
def test_chunked_equals_reference_bit_for_bit(exact, batch, T, chunk):
    snn, obs = exact
    ref = simulate(snn, obs[:batch], T, times=(1,) if T > 1 else None, method="reference")
    fast = simulate(snn, obs[:batch], T, times=(1,) if T > 1 else None, method="chunked", chunk=chunk)
    assert_identical(ref, fast)
    assert float(sum(x.sum() for x in fast.spike_counts)) > 0  # the comparison covers real spikes


def test_chunked_if_encoding_and_initial_potential(exact):
    snn, obs = exact
    kw = dict(input_encoding="if", initial_potential=0.5)
    assert_identical(simulate(snn, obs[:3], 11, method="reference", **kw),
                     simulate(snn, obs[:3], 11, method="chunked", chunk=4, **kw))


def test_fast_compile_option_changes_nothing(exact):
    snn, obs = exact
    assert_identical(simulate(snn, obs[:2], 9, fast_compile=False), simulate(snn, obs[:2], 9, fast_compile=True))


SHARD_SCRIPT = """
import os, sys, numpy as np, jax
sys.path[:0] = [{tests!r}, {tests_root!r}]  # test_fastpath, conftest
from test_fastpath import exact_net
from snnjax.snn import float32_only, simulate
assert jax.local_device_count() == 4, jax.local_devices()
snn, obs = exact_net()
res = simulate(snn, obs, 13)
np.savez({out!r}, robust=np.asarray(res.robust), counts=np.asarray(res.spike_counts[2]))
"""


def test_sharded_on_four_host_devices_equals_one_device(exact, tmp_path):
    snn, obs = exact
    out = tmp_path / "sharded.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-c", SHARD_SCRIPT.format(tests=str(ROOT / "tests" / "snn"), tests_root=str(ROOT / "tests"), out=str(out))],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    one = simulate(snn, obs, 13)
    with np.load(out) as d:
        np.testing.assert_array_equal(d["robust"], np.asarray(one.robust))  # batch 7 padded to 8
        np.testing.assert_array_equal(d["counts"], np.asarray(one.spike_counts[2]))


def test_bf16_mode_exact_when_weights_are_bf16_representable(exact):
    """Weights k/1024 with |k| < 256 are exact in bf16: then bf16 mode equals fp32 bit for bit."""
    from snnjax.snn import to_bfloat16

    snn, obs = exact
    small = snn.replace(weights=tuple(jnp.clip(w, -255 / 1024, 255 / 1024) for w in snn.weights))
    assert_identical(simulate(small, obs[:2], 9), simulate(to_bfloat16(small), obs[:2], 9))
    assert to_bfloat16(small).weights[1].dtype == jnp.bfloat16 and to_bfloat16(small).weights[0].dtype == jnp.float32


def test_default_path_choice_by_hand():
    from snnjax.snn import choose_method

    assert choose_method(1, 100) == ("chunked", 64)  # Tc x B ~ 64 rows
    assert choose_method(8, 500) == ("chunked", 8)
    assert choose_method(16, 500) == ("reference", 1)  # from 16 rows on the per-step scan
    assert choose_method(64, 100) == ("reference", 1)
    assert choose_method(4, 10) == ("chunked", 10)  # never longer than T


def test_auto_and_naive_paths_equal_the_reference(exact):
    """The default (auto) path at a batch where it picks the per-step scan, at one where it picks
    chunks, and the bench's naive baseline all give the reference scan's result bit for bit."""
    import jax

    from snnjax.experiments.speed import naive_one

    snn, obs = exact
    ref = simulate(snn, obs[:3], 11, method="reference")
    assert_identical(simulate(snn, obs[:3], 11), ref)
    many = jnp.concatenate([obs] * 10)[:66]  # 66 frames: auto picks the per-step scan
    np.testing.assert_array_equal(np.asarray(simulate(snn, many, 7).robust),
                                  np.asarray(simulate(snn, many, 7, method="chunked", chunk=3).robust))
    naive = jax.vmap(lambda o: naive_one(snn, o, 11))(jnp.asarray(obs[:3]))
    np.testing.assert_array_equal(np.asarray(naive), np.asarray(ref.robust))


def test_groups_of_rows_equal_one_vmap(exact):
    """Past 128 observations on one CPU device `simulate` runs groups of 64 one after another
    (cache-sized); the result is the one-vmap result bit for bit, remainder group included."""
    from snnjax.snn import group_rows

    snn, obs = exact
    many = np.concatenate([obs] * 19)[:130]  # 130 rows: two groups of 64 and a remainder of 2
    assert group_rows(130) == 64 and group_rows(128) == 0
    assert_identical(simulate(snn, many, 4, times=(2,)), simulate(snn, many, 4, times=(2,), group=0))
    assert_identical(simulate(snn, many[:9], 4), simulate(snn, many[:9], 4, group=4))  # small groups, chunked path
    with pytest.raises(ValueError, match="group must be >= 0"):
        simulate(snn, many[:2], 4, group=-1)


@pytest.mark.parametrize("P,E", [(2, 70), (5, 30)])
def test_agent_in_groups_equals_one_vmap(exact, P, E):
    """The SNN population agent with a network's observations in groups (E >= 16 in groups of
    16) acts exactly like one vmap over them (the networks run one after another on one CPU)."""
    from snnjax.rl import agents

    snn, obs = exact
    pop = jax.tree_util.tree_map(lambda x: jnp.stack([x] * P), snn)
    pop = pop.replace(v_thr=pop.v_thr * jnp.linspace(0.8, 1.2, P))  # networks that differ
    o = jnp.asarray(np.concatenate([obs] * (P * E // len(obs) + 1))[:P * E]).reshape(P, E, *obs.shape[1:])
    grouped = agents.snn_agent(6, 3, (1, 3), batch=P * E, group=16)
    whole = agents.snn_agent(6, 3, (1, 3), batch=P * E, group=0)
    (a1, aux1), (a2, aux2) = grouped.greedy(pop, o), whole.greedy(pop, o)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(aux1["actions"], aux2["actions"])
