"""Finished results are never lost: output stems, changed grids, other protocols, corrupt files,
and kill-and-rerun against an uninterrupted run (CartPole, tiny settings)."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT

CARTPOLE = str(ROOT / "models" / "CartPole-v1.npz")
SMALL = ["--checkpoint", CARTPOLE, "--episodes", "2", "--calibration-frames", "200", "--no-progress"]


def run_main(*args):
    from snnjax.cli import main

    return main([str(a) for a in args])


def _entries(path):
    """{T: (DQN scores, {p: (SNN scores, conversion rates)})} of a results JSON, timings dropped."""
    res = json.loads(path.read_text())
    out = {}
    for t, run in res["games"]["CartPole-v1"]["runs"].items():
        out[t] = (run["dqn"]["scores"], {p: (a["scores"], a["conversion_rate"]) for p, a in run["agents"].items()})
    return out


def test_memo_flag_gives_the_same_results(tmp_path):
    """`evaluate --memo` plays the same episodes with the same numbers (timing aside) and says what
    it simulated; it is not part of the protocol: a rerun with it resumes a run without it."""
    plain, memo = tmp_path / "plain.json", tmp_path / "memo.json"
    assert run_main("evaluate", "-T", "5", "--out", plain, *SMALL) == 0
    assert run_main("evaluate", "-T", "5", "--out", memo, "--memo", *SMALL) == 0
    assert _entries(memo) == _entries(plain)
    timing = json.loads(memo.read_text())["games"]["CartPole-v1"]["runs"]["5"]["timing"]
    assert sum(timing["memo_computed"]) + sum(timing["memo_reused"]) == timing["decisions"] > 0
    assert "memo_rows" not in json.loads(plain.read_text())["games"]["CartPole-v1"]["runs"]["5"]["timing"]
    assert run_main("evaluate", "-T", "5", "--out", plain, "--memo", *SMALL) == 0
    assert _entries(plain) == _entries(memo)


def test_rerun_with_another_network_is_refused_then_replaced(tmp_path, capsys):
    """The network is part of the protocol: a rerun into the same --out with another checkpoint
    must not report the first network's scores as the second's."""
    import numpy as np

    from snnjax.nets.checkpoint import load_qnetwork, save_qnetwork

    params, meta = load_qnetwork(CARTPOLE)
    other = tmp_path / "other.npz"
    save_qnetwork(other, {k: dict(v, bias=np.asarray(v["bias"]) + 0.5) for k, v in params.items()}, meta)
    small = ["--episodes", "2", "--calibration-frames", "200", "--no-progress"]
    out = tmp_path / "r.json"
    assert run_main("evaluate", "-T", "5", "--out", out, "--checkpoint", CARTPOLE, *small) == 0
    first = json.loads(out.read_text())["games"]["CartPole-v1"]
    assert len(first["checkpoint_sha256"]) == 64
    assert run_main("evaluate", "-T", "5", "--out", out, "--checkpoint", other, *small) != 0
    assert "holds results of another network for CartPole-v1" in capsys.readouterr().err
    assert json.loads(out.read_text())["games"]["CartPole-v1"] == first  # nothing touched
    assert run_main("evaluate", "-T", "5", "--out", out, "--checkpoint", other, "--overwrite", *small) == 0
    second = json.loads(out.read_text())["games"]["CartPole-v1"]
    assert second["checkpoint_sha256"] != first["checkpoint_sha256"]
    assert run_main("evaluate", "-T", "5", "--out", out, "--checkpoint", other, *small) == 0  # same network: resumes


def test_entry_missing_an_agent_is_computed_again(tmp_path, capsys):
    out = tmp_path / "r.json"
    grid = ["-T", "5", "-p", "99,99.9", "--out", out, *SMALL]
    assert run_main("sweep", *grid) == 0
    full = _entries(out)
    res = json.loads(out.read_text())
    del res["games"]["CartPole-v1"]["runs"]["5"]["agents"]["99.9"]
    out.write_text(json.dumps(res))
    assert run_main("sweep", *grid) == 0
    assert _entries(out) == full  # recomputed, not taken as finished; same seeds, same scores
    assert len((tmp_path / "r.csv").read_text().strip().splitlines()) == 3  # header + both percentiles


def test_out_naming_a_fifo_is_refused_and_left_alone(tmp_path, capsys):
    import os
    import stat

    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    assert run_main("evaluate", "-T", "5", "--out", fifo, *SMALL) != 0
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not replaced by a regular file
    from snnjax.core.io import OutputError, write_text

    with pytest.raises(OutputError, match="not a regular file"):
        write_text(fifo, "x")


@pytest.mark.parametrize("damage", ["runs_list", "t_key", "agent_null", "games_null"])
def test_results_with_wrong_types_are_moved_aside(tmp_path, capsys, damage):
    out = tmp_path / "r.json"
    assert run_main("evaluate", "-T", "5", "--out", out, *SMALL) == 0
    full = _entries(out)
    res = json.loads(out.read_text())
    entry = res["games"]["CartPole-v1"]
    if damage == "runs_list":
        entry["runs"] = [entry["runs"]["5"]]
    elif damage == "t_key":
        entry["runs"]["five"] = entry["runs"].pop("5")
    elif damage == "agent_null":
        entry["runs"]["5"]["agents"]["99.9"] = None
    else:
        res["games"] = None
    out.write_text(json.dumps(res))
    assert run_main("evaluate", "-T", "5", "--out", out, *SMALL) == 0
    assert "wrong content" in capsys.readouterr().err
    assert len(list(tmp_path.glob("r.json.corrupt-*"))) == 1  # the damaged file kept aside
    assert _entries(out) == full  # computed afresh: same seeds, same results


def test_out_with_any_suffix_gives_one_stem(tmp_path, capsys):
    assert run_main("evaluate", "-T", "5", "--out", tmp_path / "r.md", *SMALL) == 0
    assert json.loads((tmp_path / "r.json").read_text())["settings"]["episodes"] == 2
    assert (tmp_path / "r.md").read_text().startswith("| game |")
    assert (tmp_path / "r.csv").read_text().startswith("game,")


def test_changed_grid_keeps_finished_entries_and_csv_has_no_duplicates(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert run_main("sweep", "-T", "5,10", "-p", "99,100", "--out", out, *SMALL) == 0
    first = _entries(out)
    assert run_main("sweep", "-T", "5", "-p", "99,100", "--out", out, *SMALL) == 0
    assert _entries(out) == first  # T = 10 is kept, T = 5 is not recomputed
    csv = out.with_suffix(".csv").read_text().splitlines()
    assert len(csv) == 1 + 4 and len(set(csv)) == len(csv)
    assert run_main("sweep", "-T", "5,20", "-p", "99,100", "--out", out, *SMALL) == 0
    third = _entries(out)
    assert sorted(third, key=int) == ["5", "10", "20"] and third["5"] == first["5"] and third["10"] == first["10"]
    assert len(out.with_suffix(".csv").read_text().splitlines()) == 1 + 6


def test_other_protocol_is_refused_then_replaced_with_overwrite(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert run_main("sweep", "-T", "5", "-p", "99,100", "--out", out, *SMALL) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    assert run_main("sweep", "-T", "5", "-p", "99.9", "--out", out, *SMALL) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "percentiles" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert run_main("sweep", "-T", "5", "-p", "99.9", "--out", out, "--overwrite", *SMALL) == 0
    assert list(json.loads(out.read_text())["games"]["CartPole-v1"]["runs"]["5"]["agents"]) == ["99.9"]


@pytest.mark.parametrize("content", [b"{truncated", b"[]", b"null", bytes(range(256))], ids=["truncated", "list", "null", "bytes"])
def test_corrupt_results_are_moved_aside_not_replaced(tmp_path, capsys, content):
    out = tmp_path / "r.json"
    out.write_bytes(content)
    assert run_main("evaluate", "-T", "5", "--out", out, *SMALL) == 0
    err = capsys.readouterr().err
    backups = list(tmp_path.glob("r.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == content
    assert "moved aside" in err and "Traceback" not in err
    assert json.loads(out.read_text())["games"]["CartPole-v1"]["runs"]["5"]


def _kill_after_first_entry(cmd, out, timeout=600):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if out.exists() and json.loads(out.read_text())["games"].get("CartPole-v1", {}).get("runs"):
            break
        assert proc.poll() is None, "the run ended before its first entry"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow  # ~19 s; the same guarantee for evaluate runs by default
def test_sweep_killed_then_rerun_equals_uninterrupted(tmp_path):
    """SIGKILL after the first (game, T) entry is written; the rerun computes only the rest, and
    the final entries equal those of a run that was never interrupted."""
    base = [sys.executable, "-m", "snnjax", "sweep", "-T", "5,10,15", "-p", "99,100", *SMALL]
    killed, whole = tmp_path / "killed.json", tmp_path / "whole.json"
    _kill_after_first_entry(base + ["--out", str(killed)], killed)
    partial = _entries(killed)
    assert 1 <= len(partial) < 3
    r = subprocess.run(base + ["--out", str(killed)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "resuming" in r.stderr, r.stderr
    r = subprocess.run(base + ["--out", str(whole)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert _entries(killed) == _entries(whole)
    strip = lambda p: [line.rsplit(",", 1)[0] for line in p.with_suffix(".csv").read_text().splitlines()]  # noqa: E731
    assert strip(killed) == strip(whole)  # every column but the measured decisions/s


def test_evaluate_killed_midway_then_rerun_equals_uninterrupted(tmp_path):
    base = [sys.executable, "-m", "snnjax", "evaluate", "-T", "20", *SMALL]
    killed, whole = tmp_path / "killed.json", tmp_path / "whole.json"
    proc = subprocess.Popen(base + ["--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # importing, calibrating or playing: nothing is finished yet
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.kill()
    proc.wait()
    assert not killed.exists()  # the only entry was not finished, so nothing was written
    for out in (killed, whole):
        r = subprocess.run(base + ["--out", str(out)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    assert _entries(killed) == _entries(whole)
