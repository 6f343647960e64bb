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
