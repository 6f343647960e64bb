"""Every path the documentation names exists: the dotted names in the README and models/README
import, every script under bench/, train/ and evaluate/ answers --help, the shell scripts parse,
and every repository file the Markdown reports name is there."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
from conftest import ROOT

DOCS = ("README.md", "models/README.md", "BENCHMARKS.md", "RESULTS.md")
SCRIPTS = sorted(p.relative_to(ROOT).as_posix() for d in ("bench", "train", "evaluate") for p in (ROOT / d).glob("*.py"))


def dotted_names(text: str) -> set[str]:
    """`snnjax.a.b` names and the `from snnjax.a import b, c` lines of a Markdown text."""
    names = set(re.findall(r"\bsnnjax(?:\.[A-Za-z_]\w*)+", text))
    for mod, items in re.findall(r"from (snnjax[\w.]*) import ([\w, ]+)", text):
        names |= {f"{mod}.{n.strip()}" for n in items.split(",") if n.strip()}
    return names


def resolve(name: str):
    """The object a dotted name names: the longest importable module prefix, then attributes."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


def test_dotted_name_helpers():
    assert dotted_names("`snnjax.core.stats` and\nfrom snnjax.rl.play import collect_observations, score_dqn") == {
        "snnjax.core.stats", "snnjax.rl.play", "snnjax.rl.play.collect_observations", "snnjax.rl.play.score_dqn"}
    assert callable(resolve("snnjax.snn.simulate.simulate"))
    with pytest.raises(AttributeError):
        resolve("snnjax.convert.auto_percentile")  # `snnjax.convert` is the function, not a module


@pytest.mark.parametrize("doc", ("README.md", "models/README.md"))
def test_every_dotted_name_in_the_readmes_resolves(doc):
    names = dotted_names((ROOT / doc).read_text())
    assert doc != "README.md" or len(names) >= 10
    bad = []
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            bad.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not bad, "\n".join(bad)


def test_every_repository_path_the_docs_name_exists():
    pattern = re.compile(r"`((?:snnjax|bench|train|evaluate|configs|tests|models|docs)/[\w./-]+?\.(?:py|sh|toml|md|png|csv))`")
    bad = []
    for doc in DOCS:
        for path in sorted(set(pattern.findall((ROOT / doc).read_text()))):
            if "<" not in path and "*" not in path and not (ROOT / path).exists():
                bad.append(f"{doc}: {path}")
    assert not bad, "named but missing:\n" + "\n".join(bad)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_answers_help(script, monkeypatch, capsys):
    """Run in this process (runpy, as `python SCRIPT --help`): argparse prints usage and exits 0
    before any work."""
    import runpy

    monkeypatch.setattr(sys, "argv", [script, "--help"])
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str((ROOT / script).parent))
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    assert exit_.value.code in (0, None)
    assert "usage" in capsys.readouterr().out.lower()


@pytest.mark.parametrize("script", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.sh")))
def test_shell_script_parses(script):
    assert subprocess.run(["bash", "-n", script], cwd=ROOT).returncode == 0
    for name in re.findall(r"\b((?:bench|train|evaluate|models)/[\w.]+\.(?:py|sh))\b", (ROOT / script).read_text()):
        assert (ROOT / name).exists(), f"{script} runs {name}, which does not exist"
