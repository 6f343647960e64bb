"""snnjax.core.io: the one resume mechanism of every long run."""

import json

import pytest

from snnjax.core.io import SettingsMismatch, resume_results, write_json


def test_resume_results_keeps_refuses_replaces(tmp_path):
    path = tmp_path / "r.json"
    assert resume_results(path, {"T": 500}) is None  # nothing stored
    write_json(path, {"settings": {"T": 500, "p": 99.9}, "games": {"Pong-v5": 1}})
    got = resume_results(path, {"T": 500, "p": 99.9})
    assert got["games"] == {"Pong-v5": 1}
    with pytest.raises(SettingsMismatch, match=r"other settings \(T: stored 500, asked 100\).*--overwrite"):
        resume_results(path, {"T": 100, "p": 99.9})
    assert json.loads(path.read_text())["games"] == {"Pong-v5": 1}  # refused: untouched
    assert resume_results(path, {"T": 100, "p": 99.9}, overwrite=True) is None
    # only what `stored` returns is compared
    assert resume_results(path, {"T": 500}, stored=lambda r: {"T": r["settings"]["T"]}) is not None


def test_resume_results_moves_a_corrupt_file_aside(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    warned = []
    assert resume_results(path, {"T": 500}, warn=warned.append) is None
    assert not path.exists() and len(list(tmp_path.glob("r.json.corrupt-*"))) == 1
    assert "not valid JSON" in warned[0]


def test_a_write_the_system_refuses_is_one_clear_error():
    """Even as root: /sys is a read-only file system here (EROFS) or refuses new files (EACCES)."""
    from snnjax.core.io import OutputError, write_text

    with pytest.raises(OutputError, match="cannot be written"):
        write_text("/sys/snnjax_probe.txt", "x")
