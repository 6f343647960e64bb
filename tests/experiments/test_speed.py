"""Smoke run of `snnjax bench` with tiny sizes: tables are produced and sections are replaced."""

from snnjax.experiments.speed import run, write_section


def test_bench_smoke_writes_section(tmp_path):
    out = tmp_path / "B.md"
    out.write_text("# Benchmarks\n\nhand-written text\n")
    md = run(out, Ts=(3,), Bs=(2,), Es=(1,), update=False, evaluation=True, section="smoke", log=lambda s: None,
             peak_n=256)
    assert "Matmul peaks (256^3" in md and "int8" in md and "| 3 | 2 |" in md and "Evaluation throughput" in md
    text = out.read_text()
    assert "hand-written text" in text and md in text
    write_section(out, "smoke", "a newer run\n")  # what run() writes with: its section replaced, the rest kept
    text = out.read_text()
    assert "hand-written text" in text and text.count("<!-- bench:smoke -->") == 1 and "a newer run" in text
    assert md not in text


def test_write_section_appends_and_replaces(tmp_path):
    p = tmp_path / "x.md"
    write_section(p, "a", "one")
    write_section(p, "b", "two")
    write_section(p, "a", "three")
    text = p.read_text()
    assert "three" in text and "one" not in text and "two" in text


def test_bench_without_envpool(tmp_path):
    """The accelerator machine has no envpool: `snnjax bench --no-eval` must not import it."""
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys; sys.modules['envpool'] = None; from snnjax.cli import main; "
            f"sys.exit(main(['bench', '-T', '3', '--agents', '2', '--no-eval', '--no-update', '--peak-n', '256', "
            f"'--out', {str(tmp_path / 'b.md')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| 3 | 2 |" in (tmp_path / "b.md").read_text()


def test_bench_paths_agree_and_the_default_runs_int8():
    """Every path the bench times computes the same readouts: the int8 programs bit for bit among
    themselves, the float32 ones (the current float32 path, the previous default carried on V, the
    naive loop) among themselves; the default's compiled loop convolves int8 spikes."""
    import jax.numpy as jnp
    import numpy as np

    from snnjax.core.compile import FastJit
    from snnjax.experiments.speed import bench_network, simulation_paths
    from snnjax.snn import float32_only

    snn = bench_network()
    assert snn.int8  # the bench network is stored like the shipped ones: int8 x channel scale
    obs = jnp.asarray(np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8))
    out, fns = {}, {}
    for name, (fn, arith) in simulation_paths(30, 3).items():  # chunks of 21 steps and a remainder of 9
        fns[name] = FastJit(fn)
        res = fns[name](snn if arith == "own" else float32_only(snn), obs)
        out[name] = np.asarray(res.robust if hasattr(res, "robust") else res)
    for group in (("default", "reference", "chunked-512", "default, full result"), ("float32", "previous default", "naive")):
        for name in group[1:]:
            np.testing.assert_array_equal(out[name], out[group[0]], err_msg=name)
    assert out["default"].shape == (3, 6) and np.isfinite(out["default"]).all()
    np.testing.assert_allclose(out["default"], out["float32"], atol=0.05)  # rounding only
    assert "s8[" in fns["default"].compiled_text() and "s8[" not in fns["float32"].compiled_text()


def test_interleaved_best_times_every_case_each_round():
    from snnjax.experiments.speed import interleaved_best

    calls = []
    best = interleaved_best({"a": (lambda x: calls.append(("a", x)) or x, (1,)),
                             "b": (lambda x: calls.append(("b", x)) or x, (2,))}, rounds=2)
    assert calls == [("a", 1), ("b", 2), ("a", 1), ("b", 2)]  # interleaved, one call per case per round
    assert set(best) == {"a", "b"} and all(0 <= t < 1 for t in best.values())
