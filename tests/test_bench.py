"""Smoke run of `snnjax bench` with tiny sizes: tables are produced and sections are replaced."""

from snnjax.bench import run, write_section


def test_bench_smoke_writes_section(tmp_path):
    out = tmp_path / "B.md"
    out.write_text("# Benchmarks\n\nhand-written text\n")
    md = run(out, Ts=(3,), Bs=(2,), Es=(1,), update=False, evaluation=True, section="smoke", log=lambda s: None)
    assert "fp32 matmul peak" in md and "| 3 | 2 |" in md and "Evaluation throughput" in md
    run(out, Ts=(3,), Bs=(1,), Es=(), update=False, evaluation=False, section="smoke", log=lambda s: None)
    text = out.read_text()
    assert "hand-written text" in text and text.count("<!-- bench:smoke -->") == 1 and "| 3 | 1 |" in text


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
            f"sys.exit(main(['bench', '-T', '3', '--agents', '2', '--no-eval', '--no-update', '--out', {str(tmp_path / 'b.md')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| 3 | 2 |" in (tmp_path / "b.md").read_text()


def test_naive_loop_compiles_to_the_reference_scans_library_calls():
    """XLA hoists the naive loop's loop-invariant layer-1 convolution out of the scan, so both
    loops make the same calls per step (conv2, conv3, fc1, q); the bench counts on this when it
    leaves the naive loop out of the default's "best other path" (the same program)."""
    import jax
    import jax.numpy as jnp

    from snnjax.bench import bench_network, loop_library_calls, simulation_paths
    from snnjax.compile import FastJit

    snn = bench_network()
    obs = jnp.zeros((2, 4, 84, 84), jnp.uint8)
    calls = {}
    for name in ("reference", "naive"):
        fn, fast = simulation_paths(3, 2)[name]
        f = FastJit(fn, fast=fast)
        jax.block_until_ready(f(snn, obs))
        calls[name] = loop_library_calls(f.compiled_text())
    assert calls["reference"] == [(2, 2)] and calls["naive"] == calls["reference"]
