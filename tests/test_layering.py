"""The package's layers as a test: imports point down, no cycles, no private names across modules,
each third-party heavy dependency behind one module, and `import snnjax` without the optional ones.

Layers, lowest first (each `__init__` docstring says what it owns and may import):
core < nets < snn < conversion < rl < experiments < cli. `snnjax/__init__.py` is the public face
and may import any layer below `rl`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "snnjax"
LAYERS = ("core", "nets", "snn", "conversion", "rl", "experiments", "cli")
ONLY = {"envpool": "snnjax.rl.envs", "orbax": "snnjax.nets.checkpoint", "matplotlib": "snnjax.experiments.plots"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def layer(mod: str) -> int:
    """Layer index of a module name under snnjax (`snnjax` itself: -1; `__main__` is the CLI's)."""
    parts = mod.split(".")
    if len(parts) < 2:
        return -1
    return LAYERS.index("cli" if parts[1] == "__main__" else parts[1])


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) of every import in the file, lazy ones too."""
    mod = module_name(path)
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = mod.split(".")[: len(mod.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(pkg + ([base] if base else []))
            out.append((base, [a.name for a in node.names], node.lineno))
    return out


def resolve(target: str, names: list[str], known: dict[str, Path]) -> list[str]:
    """The snnjax modules an import statement loads: `from snnjax.x import y` is module x.y if
    that is a module, else x."""
    found = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
    return found or ([target] if target in known else [])


def snnjax_edges() -> dict[str, set[str]]:
    known = modules()
    edges = {m: set() for m in known}
    for m, path in known.items():
        for target, names, _ in imports(path):
            if target == "snnjax" or target.startswith("snnjax."):
                edges[m] |= {t for t in resolve(target, names, known) if t != m}
    return edges


def test_layers_cover_every_module():
    for m in modules():
        if m not in ("snnjax", "snnjax.__main__"):
            assert m.split(".")[1] in LAYERS, f"{m} is in no layer; add its folder to LAYERS"


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports that point up a layer (the public face `snnjax` may use layers below `rl`)."""
    bad = []
    for m, targets in edges.items():
        if m == "snnjax":
            bad += [f"snnjax -> {t}" for t in targets if layer(t) >= LAYERS.index("rl")]
            continue
        bad += [f"{m} -> {t}" for t in targets if layer(t) > layer(m)]
        bad += [f"{m} -> snnjax (the public face)" for t in targets if t == "snnjax"]
    return sorted(bad)


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Every import cycle found by a depth-first walk; a package importing its own submodules (to
    re-export them) is not one."""
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in edges.items()}
    state: dict[str, int] = {}
    found = []

    def visit(m, stack):
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                found.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in edges:
        if m not in state:
            visit(m, [m])
    return found


def test_no_module_imports_a_higher_layer():
    bad = upward(snnjax_edges())
    assert not bad, "imports that point up a layer:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(snnjax_edges())
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_checks_fail_on_a_bad_graph():
    assert upward({"snnjax.core.io": {"snnjax.rl.envs"}}) == ["snnjax.core.io -> snnjax.rl.envs"]
    assert upward({"snnjax.rl.envs": {"snnjax.core.io"}, "snnjax": {"snnjax.snn"}}) == []
    assert upward({"snnjax": {"snnjax.experiments.grid"}}) == ["snnjax -> snnjax.experiments.grid"]
    assert cycles({"snnjax.rl.dqn": {"snnjax.rl.pqn"}, "snnjax.rl.pqn": {"snnjax.rl.dqn"}}) == [
        "snnjax.rl.dqn -> snnjax.rl.pqn -> snnjax.rl.dqn"]
    assert cycles({"snnjax.snn": {"snnjax.snn.network"}, "snnjax.snn.network": set()}) == []
    known = modules()
    assert resolve("snnjax.rl", ["envs"], known) == ["snnjax.rl.envs"]
    assert resolve("snnjax.snn", ["simulate"], known) == ["snnjax.snn.simulate"]  # the submodule, not the name
    assert resolve("snnjax.snn", ["SpikingNetwork"], known) == ["snnjax.snn"]


def source_files() -> list[Path]:
    files = [*PKG.rglob("*.py")]
    for folder in ("tests", "bench", "evaluate", "train"):
        files += (ROOT / folder).rglob("*.py")
    return sorted(files)


def test_no_private_name_is_imported_across_modules():
    bad = []
    for path in source_files():
        for target, names, line in imports(path):
            if target.startswith("snnjax"):
                bad += [f"{path.relative_to(ROOT)}:{line} imports {target}.{n}" for n in names if n.startswith("_")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lib", sorted(ONLY))
def test_one_module_imports_each_heavy_dependency(lib):
    users = sorted({module_name(p) for p in PKG.rglob("*.py")
                    for target, _, _ in imports(p) if target == lib or target.startswith(lib + ".")})
    assert users == [ONLY[lib]]


def test_import_snnjax_without_envpool_orbax_matplotlib():
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('envpool', 'orbax', 'matplotlib'):\n"
        "            raise ImportError(f'{name} is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, snnjax\n"
        "from snnjax.nets.models import NatureDQN, init_params\n"
        "import snnjax.conversion.methods, snnjax.experiments.report, snnjax.rl.config\n"
        "import jax\n"
        "params = init_params(NatureDQN(num_actions=4), (4, 84, 84), jax.random.PRNGKey(0))\n"
        "ann = snnjax.from_qnetwork(params, {'network': 'nature', 'num_actions': 4, 'obs_shape': [4, 84, 84],"
        " 'env_id': 'Breakout-v5'})\n"
        "frames = np.random.default_rng(0).integers(0, 255, (8, 4, 84, 84), dtype=np.uint8)\n"
        "res = snnjax.simulate(snnjax.convert(ann, frames, 99.9), frames[:2], 5)\n"
        "assert res.robust.shape == (2, 4), res.robust.shape\n"
        "assert not any(m.split('.')[0] in ('envpool', 'orbax', 'matplotlib') for m in sys.modules)\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
