"""1 device, 4 forced host devices and 2 jax.distributed processes give identical evaluations."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

SCRIPT = str(ROOT / "tests" / "scripts" / "eval_parallel.py")


def _env(**extra):
    env = dict(os.environ, JAX_PLATFORMS="cpu", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("XLA_FLAGS", None) if "XLA_FLAGS" not in extra else None
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("parallel") / "one.json"
    r = subprocess.run([sys.executable, SCRIPT, str(out)], env=_env(), cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(out.read_text())


def _same(a: dict, b: dict):
    for key in ("times", "agents", "dqn", "calibration_sum"):
        assert a[key] == b[key], key
    assert len(a["dqn"]["scores"]) == 5


def test_four_host_devices_equal_one_device(one_device, tmp_path):
    out = tmp_path / "four.json"
    r = subprocess.run([sys.executable, SCRIPT, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"))
    assert r.returncode == 0, r.stderr[-3000:]
    four = json.loads(out.read_text())
    assert four["timing"] == {"processes": 1, "devices": 4}
    _same(one_device, four)


@pytest.mark.slow  # two jax.distributed processes, ~15 s; four host devices run by default
def test_two_processes_equal_one_process(one_device, tmp_path):
    """Each process plays 2 or 3 of the 5 episodes per agent; the gathered table equals one process."""
    out = tmp_path / "two.json"
    addr = f"localhost:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, SCRIPT, str(out), addr, "2", str(i)], cwd=ROOT, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    two = json.loads(out.read_text())
    assert two["timing"] == {"processes": 2, "devices": 1}
    _same(one_device, two)


def test_process_share_covers_every_episode_once():
    from snnjax.core.parallel import ParallelError, process_share

    for n in (2, 5, 8):
        for count in (1, 2, 3):
            if n < count:
                continue
            shares = [process_share(n, i, count) for i in range(count)]
            assert [lo for lo, _ in shares] == [0] + [hi for _, hi in shares[:-1]] and shares[-1][1] == n
            assert max(hi - lo for lo, hi in shares) - min(hi - lo for lo, hi in shares) <= 1
    with pytest.raises(ParallelError, match="3 episodes cannot be shared by 4 processes"):
        process_share(3, 0, 4)


def test_shard_pads_to_the_device_count_and_keeps_values():
    from snnjax.core.parallel import shard

    x = np.arange(12).reshape(3, 4)
    y, n = shard(x, axis=1)
    assert n == 4
    np.testing.assert_array_equal(np.asarray(y)[:, :n], x)
