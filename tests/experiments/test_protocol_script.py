"""`evaluate/paper_protocol.sh`, the resumable job queue of the paper-protocol run, with a fake
`snnjax` on PATH that records its calls: every job is played once, a stale claim is taken over,
a failed or deferred job is retried by the next start, Figure 1 follows its game's
tables, the deadline and the workers' count are passed on, `status` names the jobs running, and without `snnjax` on PATH
it says so."""

import os
import subprocess

import pytest
from conftest import ROOT

SCRIPT = ROOT / "evaluate" / "paper_protocol.sh"
FAKE = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"--games Pong-v5 "*) [ -e "$FAKE_LOG.pong" ] || { touch "$FAKE_LOG.pong"; exit 1; } ;;  # fails once
  *"--games Kangaroo-v5 "*) [ -e "$FAKE_LOG.kangaroo" ] || { touch "$FAKE_LOG.kangaroo"; exit 3; } ;;  # deferred once
esac
"""


@pytest.fixture
def fake(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "snnjax").write_text(FAKE)
    (bin_dir / "snnjax").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", FAKE_LOG=str(tmp_path / "calls"), DEADLINE="07:00")
    return env, tmp_path / "calls", tmp_path / "logs"


def calls(path):
    return path.read_text().splitlines() if path.exists() else []


def test_queue_plays_every_job_once_and_resumes(fake):
    env, log, logs = fake
    (logs / "paper_protocol_claims" / "tables:Tennis-v5").mkdir(parents=True)
    (logs / "paper_protocol_claims" / "tables:Tennis-v5" / "pid").write_text("999999999\n")  # its worker is gone
    subprocess.run(["bash", str(SCRIPT), str(logs), "1"], env=env, check=True, timeout=300)
    first = calls(log)
    tables = [c for c in first if c.startswith("benchmark") and "--figure1" not in c]
    figure1 = [c for c in first if "--figure1 only" in c]
    assert len(tables) == 17 and len(set(tables)) == 17 and tables[0].startswith("benchmark --protocol paper --games Tennis-v5")
    assert all("--side-by-side 1 --deadline 07:00 --no-progress" in c for c in tables + figure1)
    assert [c.split()[4] for c in figure1] == ["VideoPinball-v5", "Jamesbond-v5", "Breakout-v5", "StarGunner-v5"]
    for c in figure1:  # after the game's tables
        assert first.index(c) > next(i for i, t in enumerate(first) if f"--games {c.split()[4]} " in t)
    assert first[-1] == "report"
    worker_logs = "".join(p.read_text() for p in logs.glob("paper_protocol_*.log"))
    assert "tables:Pong-v5 failed, exit status 1 (a later start retries it)" in worker_logs
    assert "tables:Kangaroo-v5 deferred by the deadline" in worker_logs
    claims = logs / "paper_protocol_claims"
    assert not (claims / "tables:Pong-v5" / "done").exists() and (claims / "tables:Tennis-v5" / "done").exists()
    # the next start (two workers) plays only what is not done, each job once
    subprocess.run(["bash", str(SCRIPT), str(logs), "2"], env=env, check=True, timeout=300)
    again = calls(log)[len(first):]
    assert sorted(c.split()[4] for c in again if c.startswith("benchmark")) == ["Kangaroo-v5", "Pong-v5"]
    assert all("--side-by-side 2 " in c for c in again if c.startswith("benchmark"))  # the workers' count
    assert again[-1] == "report"


def test_status_names_the_running_jobs(fake):
    env, log, logs = fake
    claim = logs / "paper_protocol_claims" / "tables:Boxing-v5"
    claim.mkdir(parents=True)
    (logs / "paper_protocol_claims" / "tables:Kangaroo-v5").mkdir()
    (logs / "paper_protocol_claims" / "tables:Kangaroo-v5" / "pid").write_text("999999999\n")  # gone: not running
    worker = subprocess.Popen(["bash", "-c", "exec -a paper_protocol_worker sleep 60"])
    try:
        (claim / "pid").write_text(f"{worker.pid}\n")
        deferred = logs / "paper_protocol_claims" / "tables:Pong-v5"  # deferred; its worker went on to Boxing
        deferred.mkdir()
        (deferred / "pid").write_text(f"{worker.pid}\n")
        (deferred / "ended").touch()
        (logs / f"paper_protocol_{worker.pid}.log").write_text(
            "worker 1: tables:Boxing-v5\nBoxing-v5: block 1/2\neval Boxing-v5 T=500: step 10 of about 20 (50%)\n")
        r = subprocess.run(["bash", str(SCRIPT), "status", str(logs)], env=env, capture_output=True, text=True,
                           timeout=60, check=True)
    finally:
        worker.kill()
    assert r.stdout.splitlines() == [f"running: tables:Boxing-v5, worker {worker.pid}: "
                                     "eval Boxing-v5 T=500: step 10 of about 20 (50%)"]
    assert calls(log) == ["benchmark --protocol paper --status --side-by-side 1"]
    subprocess.run(["bash", str(SCRIPT), "status", str(logs), "2"], env=env, capture_output=True, timeout=60, check=True)
    assert calls(log)[-1] == "benchmark --protocol paper --status --side-by-side 2"


def test_without_snnjax_on_path_it_says_so(tmp_path):
    """Run outside the project's environment, the script stops at once and says what to do."""
    r = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "logs")], env={"PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no snnjax command on PATH" in r.stderr and ".venv/bin/activate" in r.stderr
    assert not (tmp_path / "logs").exists()
