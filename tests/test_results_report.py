"""RESULTS.md is one report regenerated from results/: it is current, its sections come in the
report's order, and every number the hand-written notes quote appears in the section they name."""

import json
import re
import shutil
from pathlib import Path

import pytest

from snnjax.core.validate import ValidationError
from snnjax.experiments import protocol, report, results_report
from snnjax.experiments.protocol import PaperProtocol

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    """Every number in `text`, as written without thousands separators ("40,490.0" -> "40490.0")."""
    return {m.replace(",", "") for m in NUMBER.findall(text)}


def sections(text: str) -> dict[str, str]:
    """{H2 title: its text up to the next H2} of the generated part of a report."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def note_claims(notes: str) -> dict[str, str]:
    """{H3 title: its text} of the hand-written notes (each H3 names the H2 section it reads)."""
    parts = re.split(r"^### (.+)$", notes, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_numbers_finds_what_prose_quotes():
    assert numbers("SNN 40,490.0 vs -15.0 at T = 500 (p = 0.028); eq. 17, 86.7%") == \
        {"40490.0", "-15.0", "500", "0.028", "17", "86.7"}


def test_every_number_in_the_notes_appears_in_the_section_it_names():
    text = (ROOT / "RESULTS.md").read_text()
    generated, notes = text.split(report.NOTES, 1)
    found, claims = sections(generated), note_claims(notes)
    assert claims, "the notes name no section"
    for title, prose in claims.items():
        assert title in found, f"the notes read a section {title!r} that RESULTS.md does not have"
        missing = numbers(prose) - numbers(found[title] + title)
        assert not missing, f"notes on {title!r} quote numbers its section does not have: {sorted(missing)}"


def test_the_number_check_catches_a_stale_figure():
    section = "| Atlantis-v5 | 96.9 | 97.7 |\n"
    assert numbers("robust 96.9% at p = 99.9") - numbers(section + "p = 99.9") == set()
    assert numbers("robust 99.2% at p = 99.9") - numbers(section + "p = 99.9") == {"99.2"}


def test_results_md_is_what_snnjax_report_writes():
    """RESULTS.md is current: regenerating it from the repository's results changes nothing."""
    text = (ROOT / "RESULTS.md").read_text()
    assert results_report.build(ROOT, text, log=lambda *a: None) == text


def test_report_order_and_carried_sections(tmp_path):
    """The headline (paper protocol) first, then the deviations, the low-latency study, QCFS
    and the latency studies carried over, the notes kept, nothing else of the old file; no diary wording."""
    shutil.copytree(ROOT / "results" / "benchmark", tmp_path / "results" / "benchmark")
    shutil.copytree(ROOT / "models", tmp_path / "models", ignore=shutil.ignore_patterns("*.npz", "logs"))
    old = "\n".join(["# old", "<!-- qcfs:begin -->", "## QCFS kept", "<!-- qcfs:end -->", "## stray prose",
                     "<!-- latency:begin -->", "## latency kept", "<!-- latency:end -->",
                     report.NOTES, "## What we see", "kept prose"])
    logs = []
    text = results_report.build(tmp_path, old, log=logs.append)
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    assert heads[:3] == ["The paper's benchmark at the paper's protocol", "How this setup differs from the paper's",
                         "Low-latency study: T chosen by a play-time budget (not the paper's protocol)"]
    assert heads[3:] == ["latency kept", "QCFS kept", "What we see"] and "stray prose" not in text
    assert text.endswith("## What we see\nkept prose") and len(logs) == 2
    assert "0 of 17 games finished" in text and text.count("| not yet |") >= 17
    facts = results_report.model_facts(tmp_path / "models")
    assert facts["games"] == 17 and f"median {facts['median']:.2f}" in text
    assert not re.search(r"session|hand-written, session", text.split(report.NOTES)[0], flags=re.I)


def test_model_facts_from_provenance(tmp_path):
    t1 = report.paper_table(1)
    game = "Breakout-v5"
    ref = float(t1[game]["dqn_mean"])
    prov = {"frames": 2_000_000, "train_wall_s": 7200, "random_agent": {"mean": 2.0},
            "evaluation": {"mean": 2.0 + 0.25 * (ref - 2.0)}, "beats_random": False}
    (tmp_path / f"{game}.json").write_text(json.dumps(prov))
    facts = results_report.model_facts(tmp_path)
    assert facts == {"games": 1, "frames": "2.0-2.0M", "hours": "2.00-2.00", "median": pytest.approx(0.25),
                     "below_random": 1}


def _stored(path: Path, **settings):
    st = dict(vars(PaperProtocol()), percentiles=[99.9, 99.99], game=path.stem, checkpoint_sha256="x")
    st.update(settings)
    path.write_text(json.dumps({"settings": st, "blocks": {}}))


def test_load_keeps_one_protocol(tmp_path):
    _stored(tmp_path / "Breakout-v5.json")
    _stored(tmp_path / "Pong-v5.json", time_steps=3)
    with pytest.raises(ValidationError, match="different settings"):
        protocol.load(tmp_path)
    results, figs, proto = protocol.load(tmp_path, PaperProtocol())
    assert list(results) == ["Breakout-v5"] and figs == {} and proto == PaperProtocol()
    assert list(protocol.load(tmp_path, PaperProtocol(time_steps=3))[0]) == ["Pong-v5"]
    assert protocol.load(tmp_path / "none") == ({}, {}, PaperProtocol())
    # the TOST margin is a reporting choice: a run stored with another one is the same run
    _stored(tmp_path / "Kangaroo-v5.json", equivalence_margin=0.1)
    assert sorted(protocol.load(tmp_path, PaperProtocol())[0]) == ["Breakout-v5", "Kangaroo-v5"]


def test_snnjax_report_cli_smoke(tmp_path):
    """The entry point on a copy of the project's results: RESULTS.md written whole, and a folder
    that is not a project refused by name."""
    import subprocess
    import sys

    shutil.copytree(ROOT / "results" / "benchmark", tmp_path / "results" / "benchmark")
    shutil.copytree(ROOT / "models", tmp_path / "models", ignore=shutil.ignore_patterns("*.npz", "logs"))
    run = lambda *a: subprocess.run([sys.executable, "-m", "snnjax", "report", *a], capture_output=True,  # noqa: E731
                                    text=True, cwd=ROOT, timeout=300)
    r = run("--root", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.startswith(results_report.TITLE) and "| Breakout-v5 | 10 | 32.8 ± 13.6 | 100 |" in text
    assert not (tmp_path / "BENCHMARKS.md").exists()  # no paper-protocol results: nothing to report there
    bad = run("--root", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "results/ and models/" in bad.stderr
    # a corrupt stored result stops the report with one line naming it, and is left where it is
    broken = tmp_path / "results" / "paper_protocol" / "Pong-v5.json"
    broken.parent.mkdir()
    broken.write_text('{"settings": {"time_steps": 5')
    bad = run("--root", str(tmp_path))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "paper-protocol results file" in bad.stderr and "Pong-v5.json" in bad.stderr and "not valid JSON" in bad.stderr
    assert broken.read_text() == '{"settings": {"time_steps": 5'


def test_read_json_is_read_only_and_names_the_file(tmp_path):
    from snnjax.core.io import ResultsFileError, read_json

    f = tmp_path / "x.json"
    f.write_text('{"settings": {}, "a": 1}')
    assert read_json(f) == {"settings": {}, "a": 1}
    f.write_text("[1, 2]")
    with pytest.raises(ResultsFileError, match="x.json.*no 'settings'"):
        read_json(f)
    f.write_text("{")
    with pytest.raises(ResultsFileError, match="model provenance file .*x.json.* not valid JSON"):
        read_json(f, "model provenance file", key="evaluation")
    assert f.read_text() == "{" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
