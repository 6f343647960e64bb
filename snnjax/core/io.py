"""Results files that are never lost: atomic writes, one output stem, corrupt files kept aside.

Every results file snnjax writes (JSON, CSV, Markdown, plots, benchmark tables, converted
networks, Q-networks) goes through `atomic_write`: the bytes go to a temporary file in the same
folder, are fsync'ed, and the temporary file is renamed over the target, so a crash leaves
either the old file or the new one, never half of either.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

from snnjax.core.validate import ValidationError

RESULT_SUFFIXES = (".json", ".csv", ".md", ".png")


class OutputError(ValueError):
    """An output path that cannot be written."""


def refuse_special_file(path: Path, what: str = "output") -> Path:
    """OutputError if `path` exists and is not a regular file (a device, FIFO, socket or folder:
    writing would replace it by a regular file)."""
    if path.exists() and not path.is_file():
        raise OutputError(f"{what} path {str(path)!r} is not a regular file (a device, FIFO or socket); "
                          "give a file name")
    return path


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call write(f) on a temporary file beside `path`, fsync it, rename it onto `path`.
    Only regular files are written: a device node, FIFO or socket at `path` is refused (the
    rename would replace it by a regular file)."""
    path = refuse_special_file(Path(path))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open(mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as exc:  # a read-only or full file system, no permission: one clear line
        raise OutputError(f"{str(path)!r} cannot be written: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), "w")


def _finite(obj):
    """NaN and inf as null: strict JSON (json.dumps would write bare NaN tokens)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and hasattr(obj, "ndim") and obj.ndim == 0:  # numpy / jax scalars
        return _finite(obj.item())
    if hasattr(obj, "tolist"):
        return _finite(obj.tolist())
    return obj


def write_json(path: str | Path, obj, indent: int = 1) -> Path:
    """Strict JSON (NaN/inf written as null), atomically."""
    return write_text(path, json.dumps(_finite(obj), indent=indent, allow_nan=False) + "\n")


def savefig(fig, path: str | Path, **kwargs) -> Path:
    path = Path(path)
    return atomic_write(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".") or "png", **kwargs))


def output_stem(out: str | Path) -> Path:
    """The one stem every output kind is derived from: `r.json`, `r.md`, `r.csv` and `r` all give
    `r`, so `--out r.md` never writes JSON into `r.md`."""
    out = Path(out)
    return out.with_suffix("") if out.suffix.lower() in RESULT_SUFFIXES else out


def outputs(out: str | Path, kinds=("json", "csv", "md")) -> dict[str, Path]:
    """{kind: path} for the results of one `--out` (JSON, CSV and Markdown unless `kinds` says)."""
    stem = output_stem(out)
    return {kind: stem.with_name(stem.name + "." + kind) for kind in kinds}


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Fail early, creating nothing, if `path` cannot be written: it is a folder, or its folder
    cannot be created (an existing ancestor is a file or not writable)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} path {str(path)!r} is a folder; give a file name")
    refuse_special_file(path, what)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{what} path {str(path)!r} is not writable")
    parent = path.parent if str(path.parent) else Path(".")
    anc = parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"{what} folder {str(parent)!r} cannot be created: {str(anc)!r} is a file")
    if not os.access(anc, os.W_OK):
        raise OutputError(f"{what} folder {str(parent)!r} cannot be created or written ({str(anc)!r} is read-only)")
    return path


def make_parent(path: str | Path, what: str = "output") -> Path:
    """Create the folder of `path` (after validation); OutputError when the system refuses."""
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} folder {str(parent)!r} cannot be created: {exc.strerror}") from None
    return Path(path)


class ResultsFileError(ValidationError):
    """A stored results or provenance file that a read-only report cannot read."""


def read_json(path: str | Path, what: str = "results file", key: str | None = "settings") -> dict:
    """The JSON object in `path`, read only: a report that reads stored results never moves or
    rewrites them (unlike `load_results`, which a run uses before it writes). A file that is not
    valid JSON, or not an object holding `key`, is a ResultsFileError naming the file and why."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{what} {str(path)!r} is not valid JSON ({exc}); restore it from git or "
                               "delete it and rerun the command that writes it") from None
    if not isinstance(obj, dict) or (key is not None and key not in obj):
        raise ResultsFileError(f"{what} {str(path)!r} is not a snnjax {what} (no {key!r} in it)")
    return obj


def load_results(path: str | Path, warn=None, schema: Callable[[dict], str | None] | None = None) -> dict | None:
    """A results JSON written by snnjax (a dict with "settings"), or None when there is none.

    schema(obj) -> None, or why the file's content has the wrong types (e.g. null entries, a
    list for a map, a non-integer T key). A corrupt, foreign or mistyped file is never silently
    replaced: it is renamed to `<name>.corrupt-<timestamp>` with a warning, and None is returned."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
        if isinstance(obj, dict) and isinstance(obj.get("settings"), dict):
            why = schema(obj) if schema else None
            if why is None:
                return obj
            why = f"a snnjax results file with wrong content ({why})"
        else:
            why = "not a snnjax results file (no settings)"
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        why = f"not valid JSON ({type(exc).__name__})"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.replace(backup)
    (warn or (lambda m: print(m, file=sys.stderr)))(
        f"snnjax: warning: {str(path)!r} is {why}; moved aside to {str(backup)!r}, starting afresh")
    return None


def settings_diff(stored: dict, wanted: dict) -> list[str]:
    """Human-readable differences between two settings dicts (JSON round-tripped)."""
    a, b = json.loads(json.dumps(_finite(stored))), json.loads(json.dumps(_finite(wanted)))
    return [f"{k}: stored {a.get(k)!r}, asked {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


class SettingsMismatch(ValidationError):
    """Stored results were made with other settings, and replacing them was not asked for."""


def resume_results(path: str | Path, settings: dict, overwrite: bool = False, what: str = "results",
                   warn=None, schema: Callable[[dict], str | None] | None = None,
                   stored: Callable[[dict], dict] = lambda r: r["settings"]) -> dict | None:
    """The one resume mechanism of every long run (evaluate, sweep, latency, benchmark).

    Returns the results stored at `path` when they were made with `settings` (`stored(results)`
    is what is compared; the caller keeps their finished entries and runs the rest), or None
    when there is nothing to resume: no file; a corrupt, foreign or mistyped one (moved aside by
    `load_results`); or one with other settings and `overwrite`. Other settings without
    `overwrite`: SettingsMismatch naming every difference; nothing is touched."""
    old = load_results(path, warn=warn, schema=schema)
    if old is None:
        return None
    diff = settings_diff(stored(old), settings)
    if not diff:
        return old
    if overwrite:
        return None
    raise SettingsMismatch(f"{str(path)!r} holds {what} made with other settings (" + "; ".join(diff)
                           + "): pass another --out, or --overwrite to replace them")


def file_sha256(path: str | Path) -> str:
    """Content hash of a file: the identity of a network in stored results."""
    import hashlib

    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
