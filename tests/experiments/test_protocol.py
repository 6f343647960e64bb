"""The paper's protocol (experiments.protocol): settings, the validation choice, the tables, and a
small end-to-end run that resumes block by block."""

import functools
import json

import numpy as np
import pytest
from conftest import ROOT

from snnjax.core.validate import ValidationError
from snnjax.experiments import evaluation, protocol
from snnjax.experiments.protocol import PaperProtocol


def test_protocol_settings():
    p = PaperProtocol()
    assert p.blocks == [25] * 2 and p.deviations() == {}
    assert PaperProtocol(episodes=23, block=10).blocks == [10, 10, 3]
    assert PaperProtocol(time_steps=50).deviations() == {"time_steps": (50, 500)}
    for bad, match in (({"time_steps": 0}, "time steps"), ({"percentiles": (99.9, 101)}, "percentile"),
                       ({"episodes": 1}, "episodes"), ({"readout": "max"}, "readout"),
                       ({"equivalence_margin": 0}, "margin")):
        with pytest.raises(ValidationError, match=match):
            PaperProtocol(**bad)


def _block(snn_scores: dict, dqn_scores, cr: dict):
    return {"snn": {p: {"scores": s, "conversion_rate": {"normal": cr[p], "robust": cr[p], "membrane": cr[p]}}
                    for p, s in snn_scores.items()}, "dqn": {"scores": dqn_scores}}


def test_choose_percentile_and_summary_by_hand():
    val = _block({"99.9": [1, 3], "99.99": [2, 4]}, [0, 0], {"99.9": [1, 1], "99.99": [1, 1]})
    assert protocol.choose_percentile(val) == 99.99
    assert protocol.choose_percentile(_block({"99.9": [2], "99.99": [2]}, [0], {"99.9": [1], "99.99": [1]})) == 99.9
    res = {"settings": {"percentiles": [99.9, 99.99], "equivalence_margin": 0.1},
           "validation": dict(val, best_percentile=99.99),
           "blocks": {"1": _block({"99.9": [10, 12], "99.99": [20, 22]}, [20, 24], {"99.9": [0.5, 0.7], "99.99": [0.9, 1.0]}),
                      "0": _block({"99.9": [8, 10], "99.99": [18, 20]}, [16, 20], {"99.9": [0.6, 0.6], "99.99": [0.8, 0.9]})}}
    pool = protocol.pooled(res)
    assert pool["dqn"] == [16, 20, 20, 24]  # blocks in numeric order
    s = protocol.summary(res, random_mean=0.0, paper_dqn=100.0, dqn_before=100.0, margin=0.1)
    t1 = s["table1"]
    assert s["best_percentile"] == 99.99 and t1 is s["table2"]["99.99"]
    assert t1["snn_mean"] == 20.0 and t1["dqn_mean"] == 20.0 and t1["diff"] == 0.0
    assert t1["normalized_difference"] == 0.0 and t1["tost_margin"] == 10.0
    assert t1["tost_p"] < 0.05 and t1["p_value"] == pytest.approx(1.0)
    assert s["table2"]["99.9"]["cr_robust"] == pytest.approx(0.6) and s["table2"]["99.9"]["snn_mean"] == 10.0
    assert s["table2"]["99.9"]["normalized_difference"] == pytest.approx(-0.1)
    # the margin scales with OUR DQN's advantage over random (provenance), not the paper's DQN
    weak = protocol.summary(res, random_mean=0.0, paper_dqn=100.0, dqn_before=20.0, margin=0.25)
    assert weak["table1"]["tost_margin"] == 5.0 and weak["table1"]["normalized_difference"] == 0.0
    assert np.isnan(protocol.summary(res, 0.0, 100.0, dqn_before=-1.0)["table1"]["tost_p"])  # DQN below random
    # validation stored, no test block yet: no scores to report, the row says where the game is
    started = dict(res, blocks={}, settings=dict(res["settings"], time_steps=500))
    assert protocol.summary(started, 0.0, 100.0) == {"best_percentile": 99.99, "table2": {}, "table1": None}
    text = protocol.markdown({"Pong-v5": started}, PaperProtocol(), {"Pong-v5": -20.7})
    assert "| Pong-v5 | in progress (validation chose p = 99.99) |" in text and "| Pong-v5 | 99.9 |" not in text
    # one test block of two stored: the rows say so, and only finished games enter the across-games lines
    partial = dict(res, blocks={"0": res["blocks"]["0"]})
    text = protocol.markdown({"Pong-v5": partial, "Boxing-v5": res}, PaperProtocol(equivalence_margin=0.1),
                             {"Pong-v5": 0.0, "Boxing-v5": 0.0}, {"Pong-v5": 100.0, "Boxing-v5": 100.0})
    assert "| Pong-v5 (2 of 50 episodes so far) | 18.0 ± 2.8 | 19.0 ± 1.4 | 99.99 |" in text
    assert "| Pong-v5 (2 of 50 episodes so far) | 99.9 | 9.0 ± 1.4 |" in text and "| Boxing-v5 | 99.9 | 10.0 ± 1.6 |" in text
    assert "Finished games: 1. Welch p < 0.05 (the SNN scores differently from its DQN) on 0 of 1; TOST p < 0.05 " \
           "(equivalent within the margin) on 1 of the 1 whose DQN beats the random agent (the margin needs it)." in text


def test_across_games_by_hand():
    """Counts of Welch and TOST results, and the IQM's 90% CI against 1 -/+ margin."""
    row = lambda p, tost: {"table1": {"p_value": p, "tost_p": tost}, "best_percentile": 99.9}  # noqa: E731
    same = {"snn": {"99.9": {"scores": [30.0, 30.0, 30.0]}}, "dqn": [30.0, 30.0, 30.0]}  # normalized: exactly 1
    lines = protocol.across_games({"a": row(0.9, 0.01), "b": row(0.01, float("nan"))}, {"a": same, "b": same},
                                  {"a": 10.0, "b": 10.0}, 0.25)
    assert lines[0] == ("Finished games: 2. Welch p < 0.05 (the SNN scores differently from its DQN) on 1 of 2; "
                        "TOST p < 0.05 (equivalent within the margin) on 1 of the 1 whose DQN beats the random "
                        "agent (the margin needs it).")
    assert "1.000 (95% CI 1.000 .. 1.000; 90% CI 1.000 .. 1.000" in lines[2]
    assert "the SNNs are equivalent to their DQNs within 1 -/+ 0.25 (the 90% CI, a TOST at 5%, lies inside it)" in lines[2]
    worse = {"snn": {"99.9": {"scores": [10.0, 12.0, 14.0]}}, "dqn": [30.0, 30.0, 30.0]}  # normalized 0, 0.1, 0.2
    lines = protocol.across_games({"a": row(0.001, 0.9)}, {"a": worse}, {"a": 10.0}, 0.25)
    assert "the SNNs are not shown to be equivalent" in lines[2] and "does not lie inside it" in lines[2]


def test_paper_protocol_small_end_to_end_resumes_by_block(tmp_path, monkeypatch):
    proto = PaperProtocol(time_steps=3, episodes=3, block=2, validation_episodes=2, calibration_frames=64,
                          max_episode_steps=25)
    out = tmp_path / "Breakout-v5.json"
    model = ROOT / "models" / "Breakout-v5.npz"
    res = protocol.run_game(model, out, proto, progress=False, log=lambda m: None)
    assert sorted(res["blocks"]) == ["0", "1"] and protocol.finished(res, proto)
    b0, b1 = res["blocks"]["0"], res["blocks"]["1"]
    assert len(b0["dqn"]["scores"]) == 2 and len(b1["dqn"]["scores"]) == 1 and b0["seed"] != b1["seed"]
    assert res["validation"]["seed"] not in (b0["seed"], b1["seed"])
    for p in ("99.9", "99.99"):
        crs = b0["snn"][p]["conversion_rate"]["robust"]
        assert len(crs) == 2 and all(0 <= c <= 1 for c in crs)
        assert sum(b0["snn"][p]["decisions"]) > 0
    # finished: a rerun plays nothing
    calls = []
    real = protocol._play
    monkeypatch.setattr(protocol, "_play", lambda *a, **k: calls.append(a[5]) or real(*a, **k))
    protocol.run_game(model, out, proto, progress=False, log=lambda m: None)
    assert calls == []
    # a kill after block 0: only block 1 is played again, with the same seed and the same episodes
    stored = json.loads(out.read_text())
    del stored["blocks"]["1"]
    out.write_text(json.dumps(stored))
    again = protocol.run_game(model, out, proto, progress=False, log=lambda m: None)
    assert calls == [1] and again["blocks"]["1"]["dqn"]["scores"] == b1["dqn"]["scores"]
    # other settings are refused, naming them
    with pytest.raises(ValidationError, match="time_steps"):
        protocol.run_game(model, out, PaperProtocol(**dict(vars(proto), time_steps=4)), progress=False)
    # the report: both tables, the deviations named, never called the paper's protocol
    md = tmp_path / "R.md"
    protocol.write_report(md, {"Breakout-v5": again}, proto, ROOT / "models", "test")
    text = md.read_text()
    assert "not the paper's protocol" in text and "Not the paper's protocol" in text
    assert "IQM across the finished games" in text
    assert text.count("| Breakout-v5 | 99.9 |") == 1 and text.count("| Breakout-v5 | 99.99 |") == 1
    assert "time_steps 3 (paper: 500)" in text and np.isfinite(protocol.summary(again, 1.0, 2.0)["table1"]["snn_mean"])


def test_paper_figure1_small_resumes(tmp_path, monkeypatch):
    from snnjax.experiments import plots

    proto = PaperProtocol(time_steps=3, episodes=2, block=2, validation_episodes=1, calibration_frames=64,
                          max_episode_steps=20)
    path = tmp_path / "figure1_Breakout-v5.json"
    model = ROOT / "models" / "Breakout-v5.npz"
    res = protocol.figure1_game(model, path, proto, 99.99, episodes=2, time_steps=(2, 3), percentiles=(99.9, 100),
                                progress=False, log=lambda m: None)
    runs = res["games"]["Breakout-v5"]["runs"]
    assert sorted(runs) == ["2", "3"]
    assert list(runs["2"]["agents"]) == ["99.99"]  # the T sweep: the game's percentile only
    assert sorted(runs["3"]["agents"], key=float) == ["99.9", "99.99", "100.0"]  # the p sweep at the protocol's T
    assert all(len(a["scores"]) == 2 for r in runs.values() for a in r["agents"].values())
    pngs = plots.figure1(path)
    assert pngs == [tmp_path / "figure1_Breakout-v5_Breakout-v5.png"] and pngs[0].stat().st_size > 10_000
    # where `protocol.figure1` draws it: straight into docs/, no copy left beside the JSON
    (tmp_path / "docs").mkdir()
    assert plots.figure1(path, out=tmp_path / "docs" / "paper_figure1") == [tmp_path / "docs" / "paper_figure1_Breakout-v5.png"]
    import snnjax.experiments.evaluation as ev

    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: pytest.fail("a finished Figure 1 run played again"))
    protocol.figure1_game(model, path, proto, 99.99, episodes=2, time_steps=(2, 3), percentiles=(99.9, 100),
                          progress=False, log=lambda m: None)


def test_benchmark_protocol_paper_cli_smoke(tmp_path):
    """The entry point, run small: writes the per-game JSON and RESULTS.md's section, labelled
    as not the paper's protocol."""
    import subprocess
    import sys

    out = tmp_path / "R.md"
    repo_benchmarks = (ROOT / "BENCHMARKS.md").read_text()
    r = subprocess.run([sys.executable, "-m", "snnjax", "benchmark", "--protocol", "paper", "--games", "Breakout-v5",
                        "-T", "3", "--episodes", "2", "--block", "1", "--validation-episodes", "1",
                        "--calibration-frames", "64", "--max-episode-steps", "15", "--results-dir", str(tmp_path / "r"),
                        "--out", str(out), "--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    stored = json.loads((tmp_path / "r" / "Breakout-v5.json").read_text())
    assert sorted(stored["blocks"]) == ["0", "1"] and stored["settings"]["time_steps"] == 3
    text = out.read_text()
    assert protocol.BEGIN in text and "run small (not the paper's protocol)" in text and "| Breakout-v5 | 99.99 |" in text
    # the throughput (1 validation + 2 test episodes) goes to the BENCHMARKS.md beside --out, not the repository's
    from snnjax.core.compile import machine_kind

    assert f"| Breakout-v5 | {machine_kind()} | 1 | 3 | 3 |" in (tmp_path / "BENCHMARKS.md").read_text()
    assert (ROOT / "BENCHMARKS.md").read_text() == repo_benchmarks
    # a deadline that nothing fits before: nothing is played or stored, the exit status says so
    args = ["--games", "Breakout-v5,Pong-v5", "-T", "3", "--episodes", "2", "--block", "1", "--validation-episodes", "1",
            "--max-episode-steps", "15", "--results-dir", str(tmp_path / "r2"), "--out", str(out), "--no-progress"]
    late = subprocess.run([sys.executable, "-m", "snnjax", "benchmark", "--protocol", "paper", *args, "--figure1",
                           "--deadline", "2000-01-01T00:00"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert late.returncode == 3, late.stderr[-2000:]
    assert "Breakout-v5: validation: about" in late.stdout and "not started" in late.stdout
    assert "deferred (would not end before --deadline 2000-01-01T00:00): Breakout-v5, Pong-v5, Figure 1 Breakout-v5" \
        in late.stderr
    assert sorted(p.name for p in (tmp_path / "r2").glob("*.json")) == []


@pytest.fixture(autouse=True)
def machine(monkeypatch):
    """Every stored play of these tests is untagged (made on a CPU with int8 units): estimates as
    there, whatever machine runs the tests."""
    monkeypatch.setattr(protocol, "machine_kind", lambda: protocol.UNTAGGED_MACHINE)


def test_paces_come_from_plays_on_this_kind_of_machine():
    """A machine without int8 units runs a decision several times as long: its estimates come from
    the plays made on its kind, else its measured pace, else every play (an unknown kind)."""
    def run(wall, machine=None):
        timing = {"wall_s": wall} if machine is None else {"wall_s": wall, "machine": machine}
        return {"dqn": {"lengths": [100]}, "snn": {"99.9": {"decisions": [100]}}, "timing": timing}

    results = {"a": {"validation": run(10.0), "blocks": {"0": run(5.0), "1": run(40.0, "cpu:float32")}},
               "b": {"validation": run(20.0)}}
    two = functools.partial(protocol.paces, side_by_side=2)  # as every play here was made (untagged: two)
    assert two(results, "cpu:int8") == {"validation": 0.15, "block": 0.05}  # untagged plays: int8 units
    assert two(results, "cpu:float32") == {"validation": protocol.MEASURED_PACE_S["cpu:float32"], "block": 0.4}
    assert two(results, "gpu:int8") == {"validation": 0.15, "block": 0.225}  # no play there: all
    here = two(results, "cpu:float32")
    # a game's own plays on this kind first, then the run's pace here, then its plays elsewhere
    pace = functools.partial(protocol.game_pace, side_by_side=2)
    assert pace(results["a"], "block", here, "cpu:float32") == 0.4
    assert pace(results["a"], "validation", here, "cpu:float32") == here["validation"]
    assert pace(results["a"], "block", {}, "gpu:int8") == 0.225
    assert pace(results["b"], "validation", None, "gpu:int8") == 0.2


def test_paces_scale_with_the_plays_sharing_the_machine(monkeypatch):
    """A pace measured with k plays sharing the machine predicts one with n by the ratio of their
    shares (`machine_share`: min(SOLO_CORES, cores / n) on a CPU kind, 1 / n elsewhere). Numbers
    by hand on 2 cores: on the AVX2-only kind one play alone gets 1.7 cores, one of two 1 core."""
    monkeypatch.setattr(protocol.os, "cpu_count", lambda: 2)
    assert protocol.machine_share(1, "cpu:float32") == 1.7 and protocol.machine_share(2, "cpu:float32") == 1.0
    assert protocol.machine_share(1, "cpu:int8") == 1.2 and protocol.machine_share(3, "cpu:int8") == pytest.approx(2 / 3)
    assert protocol.machine_share(4, "gpu:int8") == 0.25

    def run(wall, side_by_side=None):
        timing = {"wall_s": wall, "machine": "cpu:float32"}
        timing.update({} if side_by_side is None else {"side_by_side": side_by_side})
        return {"dqn": {"lengths": [100]}, "snn": {"99.9": {"decisions": [100]}}, "timing": timing}

    paired, alone = run(40.0), run(17.0, side_by_side=1)  # 0.4 s and 0.17 s per decision as measured
    assert protocol.pace_s([paired]) == 0.4 and protocol.pace_s([paired], side_by_side=2) == 0.4
    assert protocol.pace_s([paired], side_by_side=1) == pytest.approx(0.4 / 1.7)
    assert protocol.pace_s([alone], side_by_side=2) == pytest.approx(0.17 * 1.7)
    # over several plays: (40 + 17 x 1.7) s over 200 decisions, at two
    assert protocol.pace_s([paired, alone], side_by_side=2) == pytest.approx((40 + 17 * 1.7) / 200)
    # the kind's measured pace (two plays at a time) for one alone; a game's own plays the same way
    assert protocol.paces({}, "cpu:float32", side_by_side=1)["block"] == pytest.approx(
        protocol.MEASURED_PACE_S["cpu:float32"] / 1.7)
    assert protocol.game_pace({"blocks": {"0": paired}}, "block", None, "cpu:float32", side_by_side=1) == \
        pytest.approx(0.4 / 1.7)
    monkeypatch.setattr(protocol.os, "cpu_count", lambda: 8)  # 8 cores: two plays each get all they use
    assert protocol.pace_s([paired], side_by_side=1) == 0.4 and protocol.pace_s([paired], side_by_side=8) == \
        pytest.approx(0.4 * 1.7)


def test_throughput_is_split_by_kind_of_machine():
    """BENCHMARKS.md's protocol table: one row per game, machine kind and plays at a time, a total
    per kind and count, never one total over kinds or counts whose paces differ several-fold; the
    elapsed time counts each play's wall time over the plays sharing the machine. Numbers by hand."""
    def run(wall, decisions, machine=None, side_by_side=None):
        timing = {"wall_s": wall} if machine is None else {"wall_s": wall, "machine": machine}
        timing.update({} if side_by_side is None else {"side_by_side": side_by_side})
        return {"dqn": {"scores": [1.0] * 5, "lengths": [100]}, "snn": {"99.9": {"decisions": [decisions]},
                "99.99": {"decisions": [decisions]}}, "timing": timing}

    settings = {"time_steps": 500}
    results = {"a": {"settings": settings, "validation": run(100.0, 1000),
                     "blocks": {"0": run(300.0, 1500), "1": run(900.0, 1800, "cpu:float32")}},
               "b": {"settings": settings, "validation": run(360.0, 900, "cpu:float32"),
                     "blocks": {"0": run(200.0, 1000, "cpu:float32", side_by_side=1)}}}
    fig_run = lambda wall, eps_len, n, machine: {  # noqa: E731
        "agents": {str(99.0 + i): {"lengths": [eps_len] * 2} for i in range(n)}, "dqn": {"scores": [0.0] * 2},
        "timing": {"wall_s": wall, "machine": machine}}
    figures = {"g": {"settings": {"p_sweep_t": 500},
                     "games": {"g": {"runs": {"1000": fig_run(400.0, 100, 1, "cpu:float32"),
                                              "500": fig_run(100.0, 100, 5, "cpu:float32")}}}}}
    md = protocol.throughput_markdown(results, figures)
    # a, int8 (untagged: two at a time): 2000 + 3000 decisions in 400 s = 12.5/s; a, float32: 3600 in 900 s = 4.0/s
    assert "| a | cpu:int8 | 2 | 500 | 10 | 5,000 | 100% | 0.11 | 12.5 |" in md
    assert "| a | cpu:float32 | 2 | 500 | 5 | 3,600 | 100% | 0.25 | 4.0 |" in md
    assert "| b | cpu:float32 | 2 | 500 | 5 | 1,800 | 100% | 0.10 | 5.0 |" in md
    assert "| b | cpu:float32 | 1 | 500 | 5 | 2,000 | 100% | 0.06 | 10.0 |" in md  # alone: its own row
    # totals per kind and count: float32, two: 5400 decisions in 1260 s = 4.3/s; int8 as game a
    assert "| Tables 1-2, all | cpu:float32 | 1 | | | 2,000 | 100% | 0.06 | 10.0 |" in md
    assert "| Tables 1-2, all | cpu:float32 | 2 | | | 5,400 | 100% | 0.35 | 4.3 |" in md
    assert "| Tables 1-2, all | cpu:int8 | 2 | | | 5,000 | 100% | 0.11 | 12.5 |" in md
    assert md.count(", all |") == 4
    # Figure 1: 1 SNN x 2 episodes x 100 steps in 400 s; the p sweep 5 SNNs x 200 in 100 s; T ascending
    assert "| g, Figure 1, T = 500, p sweep (5 SNNs) | cpu:float32 | 2 | 500 | 2 | 1,000 | | 0.03 | 10.0 |\n" \
           "| g, Figure 1, T = 1000 | cpu:float32 | 2 | 1000 | 2 | 200 | | 0.11 | 0.5 |" in md
    assert "| Figure 1, all | cpu:float32 | 2 | | | 1,200 | | 0.14 | 2.4 |" in md
    # elapsed per kind: int8 400 s / 2; float32 (1260 + 500) s / 2 + 200 s alone = 1080 s; 1280 s in all
    # for 8,600 float32 + 5,000 int8 decisions; all 13,600 at float32's 8600 per 1080 s: 1708 s, at int8's 5000
    # per 200 s: 544 s
    assert "cpu:float32: 0.3 h; cpu:int8: 0.1 h; 0.4 h in all, for 13,600 SNN decisions. All of them at one " \
           "kind's pace (its SNN decisions per elapsed hour): cpu:float32: 0.5 h; cpu:int8: 0.2 h." in md


def test_play_time_estimate_by_hand():
    play = {"dqn": {"lengths": [100, 300]}, "snn": {"99.9": {"decisions": [150, 250]}, "99.99": {"decisions": [200, 200]}},
            "timing": {"wall_s": 40.0}}
    slow = dict(play, timing={"wall_s": 80.0})
    assert protocol.pace_s([play]) == 40.0 / 800 and protocol.pace_s([]) is None
    # validations and blocks are paced apart
    assert protocol.paces({"a": {"validation": slow, "blocks": {"0": play}}, "b": {"blocks": {"0": play, "1": play}}},
                          side_by_side=protocol.UNTAGGED_SIDE_BY_SIDE) == {"validation": 0.1, "block": 0.05}
    assert protocol.paces({}) == {"validation": None, "block": None}
    # 2 SNNs x 25 episodes x mean length 200 x 0.05 s per decision
    assert protocol.estimate_s([100, 300], 25, 2, 4500, 0.05) == pytest.approx(500.0)
    # lengths capped at the episode cap (the cap itself without any), the default pace without one
    assert protocol.estimate_s([4000, 6000], 10, 2, 4500, 0.1) == pytest.approx(2 * 10 * 4500 * 0.1)
    assert protocol.estimate_s([], 10, 1, 300, None) == pytest.approx(10 * 300 * protocol.DEFAULT_PACE_S)
    assert protocol.estimate_s([200], 10, 1, 4500, 0.05, t_ratio=2.0) == pytest.approx(10 * 200 * 0.05 * 2)
    import time

    assert protocol.over_deadline(1e9, None) is None and protocol.over_deadline(60.0, time.time() + 3600) is None
    why = protocol.over_deadline(3600.0, time.time() + 600)
    assert why.startswith("about 66 min, ") and why.endswith("min left before the deadline")  # 1.1 x 60 min


def test_deadline_option_parsing():
    import datetime

    from snnjax.cli import UsageError, parse_deadline

    assert parse_deadline(None) is None
    now = datetime.datetime.now().astimezone()
    t = parse_deadline("04:00")
    when = datetime.datetime.fromtimestamp(t).astimezone()
    assert (when.hour, when.minute) == (4, 0) and 0 < t - now.timestamp() <= 86400
    assert parse_deadline("2026-12-02T04:00:00+00:00") == datetime.datetime(2026, 12, 2, 4, tzinfo=datetime.timezone.utc).timestamp()
    for bad in ("soon", "25:99", "4"):
        with pytest.raises(UsageError, match="--deadline must be HH:MM"):
            parse_deadline(bad)


def test_figure1_summary_by_hand():
    """Mean conversion rate per T and per p in ascending order whatever the stored order, and
    Pearson r of mean score against it: T panel (1, .5), (2, .6), (3, .8) gives r = .3 / (sqrt(2) *
    sqrt(.046667)) = 0.982; the p panel's two points give 1."""
    st = {"time_steps": [50, 100], "p_sweep_t": 500, "percentile": 99.9, "percentiles": [99.9, 100.0],
          "readout": "robust", "episodes": 2}
    agent = lambda scores, crs: {"scores": scores, "conversion_rate": {"robust": crs}}  # noqa: E731
    runs = {"500": {"agents": {"100.0": agent([4, 6], [0.9, 1.0]), "99.9": agent([2, 4], [0.7, 0.9])}},
            "50": {"agents": {"99.9": agent([1, 1], [0.4, 0.6])}},
            "100": {"agents": {"99.9": agent([2, 2], [0.6, 0.6])}}}
    f = protocol.figure1_summary({"settings": st, "games": {"Breakout-v5": {"runs": runs}}}, "Breakout-v5")
    assert f["time_steps"] == [50, 100, 500] and f["percentiles"] == [99.9, 100.0]
    np.testing.assert_allclose(f["cr_t"], [0.5, 0.6, 0.8])
    np.testing.assert_allclose(f["cr_p"], [0.8, 0.95])
    np.testing.assert_allclose([f["pearson_t"], f["pearson_p"]], [0.3 / (2 ** 0.5 * 0.046667 ** 0.5), 1.0], rtol=1e-4)
    md = protocol.figure1_markdown({"Breakout-v5": f})
    assert "| Breakout-v5 | 99.9 | 0.98 | 1.00 | 50.0, 60.0, 80.0 | 80.0, 95.0 |" in md
    assert "(robust readout, %) at T = 50, 100, 500 and at p = 99.9, 100:" in md


def test_partial_figure1_runs_stay_out_of_the_report(tmp_path):
    st = {"time_steps": [50, 100], "p_sweep_t": 500, "percentile": 99.9, "percentiles": [99.9, 100.0],
          "readout": "robust", "episodes": 2}
    agent = {"scores": [1.0, 2.0], "conversion_rate": {"robust": [0.5, 0.6]}}
    runs = {"50": {"agents": {"99.9": agent}}, "500": {"agents": {"99.9": agent, "100.0": agent}}}
    res = {"settings": st, "games": {"Breakout-v5": {"runs": runs}}}
    proto, games = PaperProtocol(), ["Breakout-v5", "Jamesbond-v5"]
    assert not protocol.figure1_complete(res, "Breakout-v5")
    (tmp_path / "Breakout-v5.json").write_text(json.dumps({"settings": protocol.run_settings(proto), "blocks": {}}))
    assert protocol.figure1_pending(tmp_path, proto, games) == {}  # a run without Figure 1 does not mention it
    (tmp_path / "figure1_Breakout-v5.json").write_text(json.dumps(res))
    assert list(protocol.load(tmp_path)[0]) == ["Breakout-v5"] and protocol.load(tmp_path)[1] == {}
    # runs 50 and 500 of 50, 100, 500; Jamesbond's default Figure 1 (five T, the p sweep at T = 500) not started
    pending = protocol.figure1_pending(tmp_path, proto, games)
    assert pending == {"Breakout-v5": "2 of 3 runs", "Jamesbond-v5": "0 of 5 runs"}
    md = protocol.section(protocol.load(tmp_path)[0], proto, ROOT / "models", "cmd", {}, pending)
    assert "Breakout-v5, 2 of 3 runs; Jamesbond-v5, 0 of 5 runs." in md and "![Figure 1" not in md
    runs["100"] = {"agents": {"99.9": agent}}
    assert protocol.figure1_complete(res, "Breakout-v5")
    (tmp_path / "figure1_Breakout-v5.json").write_text(json.dumps(res))
    results, figs, _ = protocol.load(tmp_path)
    assert figs["Breakout-v5"]["percentile"] == 99.9
    assert protocol.figure1_pending(tmp_path, proto, games) == {"Jamesbond-v5": "0 of 5 runs"}
    md = protocol.section(results, proto, ROOT / "models", "cmd", figs, {"Jamesbond-v5": "0 of 5 runs"})
    assert "| Breakout-v5 | 99.9 |" in md and "![Figure 1, Breakout-v5](docs/paper_figure1_Breakout-v5.png)" in md
    assert "Played by `snnjax benchmark --protocol paper --figure1`" in md  # drawn: the subsection names its command


def validated_breakout(tmp_path, proto: PaperProtocol, length: int, wall_s: float):
    """(model, results file, its content): the shipped Breakout's protocol results with only a
    validation stored (one episode of `length` steps per agent, played in `wall_s`), p = 99.99."""
    from snnjax.core.io import file_sha256

    model = ROOT / "models" / "Breakout-v5.npz"
    val = {"dqn": {"scores": [1.0], "lengths": [length]},
           "snn": {"99.9": {"scores": [1.0], "decisions": [length]}, "99.99": {"scores": [2.0], "decisions": [length]}},
           "timing": {"wall_s": wall_s}, "best_percentile": 99.99}
    out = tmp_path / "Breakout-v5.json"
    stored = {"settings": dict(protocol.run_settings(proto), game="Breakout-v5", checkpoint_sha256=file_sha256(model)),
              "validation": val, "blocks": {}}
    out.write_text(json.dumps(stored))
    return model, out, stored


def test_a_block_that_would_pass_the_deadline_is_not_started(tmp_path, monkeypatch):
    import time

    proto = PaperProtocol(episodes=4, block=2)
    model, out, stored = validated_breakout(tmp_path, proto, 1000, 100.0)
    monkeypatch.setattr(protocol, "_calibrate", lambda *a: pytest.fail("calibrated for a play that is not started"))
    lines = []
    # block 1: 2 SNNs x 2 episodes x 1000 steps x 0.05 s per decision (the pace of other games' blocks) = 200 s
    # (two plays sharing the machine, as the stored validation: untagged, UNTAGGED_SIDE_BY_SIDE)
    res = protocol.run_game(model, out, proto, log=lines.append, deadline=time.time() + 150, pace={"block": 0.05},
                            side_by_side=2)
    assert res["deferred"].startswith("block 1: about 4 min, 2 min left") and "not started" in lines[-1]
    assert json.loads(out.read_text()) == stored  # nothing written
    # the game's own validation paces its first block, not the run's faster block pace (0.001 s)
    res = protocol.run_game(model, out, proto, log=lines.append, deadline=time.time() + 150, pace={"block": 0.001},
                            side_by_side=2)
    assert res["deferred"].startswith("block 1: about 4 min, 2 min left")
    # a play alone on 2 cores of this kind (int8 units: 1.2 cores against 1): 200 s x 1 / 1.2 x 1.1 = 3.1 min
    monkeypatch.setattr(protocol.os, "cpu_count", lambda: 2)
    res = protocol.run_game(model, out, proto, log=lines.append, deadline=time.time() + 150, pace={"block": 0.001})
    assert res["deferred"].startswith("block 1: about 3 min, 2 min left")


def test_a_figure1_run_that_would_pass_the_deadline_is_not_calibrated_for(tmp_path, monkeypatch):
    """Figure 1's first run does not fit: deferred before the normalization frames are played."""
    import time

    monkeypatch.setattr(protocol, "_calibrate", lambda *a: pytest.fail("calibrated for a run that is not started"))
    lines, proto = [], PaperProtocol()
    # T = 50 at the game's p: 1 SNN x 10 episodes x 1000 steps x 0.05 s x 50 / 500 = 50 s, 10 s left
    res = protocol.figure1_game(ROOT / "models" / "Breakout-v5.npz", tmp_path / "f.json", proto, 99.99,
                                progress=False, log=lines.append, deadline=time.time() + 10,
                                plays=[{"dqn": {"lengths": [1000]}}], pace=0.05)
    assert res["deferred"].startswith("Figure 1, T = 50: about 1 min, 0 min left") and "not started" in lines[-1]
    assert res["games"]["Breakout-v5"]["runs"] == {}


def test_a_block_stopped_by_its_pace_is_deferred_and_not_stored(tmp_path, monkeypatch):
    """A block started on an estimate that its own pace then shows to be too optimistic (a slower
    machine) stops (`play.PastDeadline`): the game is deferred, nothing of the block is stored."""
    import time

    from snnjax.rl.play import PastDeadline

    proto = PaperProtocol(episodes=4, block=2)
    model, out, stored = validated_breakout(tmp_path, proto, 10, 1.0)
    monkeypatch.setattr(protocol, "_calibrate", lambda *a: (None, None))
    monkeypatch.setattr(protocol.methods.Percentile, "build", lambda self, *a: None)
    deadlines = []

    def slow(*args, **kwargs):
        deadlines.append(args[-2])  # (..., deadline, side_by_side)
        raise PastDeadline("eval Breakout-v5 T=500: at step 40 of about 900 after 5 min it would end about 23:10, "
                           "past the deadline 20:00; stopped")

    monkeypatch.setattr(protocol, "_play", slow)
    lines, deadline = [], time.time() + 3600
    res = protocol.run_game(model, out, proto, log=lines.append, deadline=deadline, pace={"block": 1e-4})
    assert deadlines == [deadline]  # the play was started (the estimate fit) and given the deadline
    assert res["deferred"].startswith("block 1: eval Breakout-v5 T=500: at step 40") and "later run" in lines[-1]
    assert json.loads(out.read_text()) == stored  # nothing written


def test_what_is_left_to_play_by_hand(tmp_path):
    """`--status`: the plays a game still needs and their estimate from the stored plays' pace
    and episode lengths; Figure 1's runs at other T scaled by T."""
    proto = PaperProtocol(episodes=4, block=2)
    assert protocol.plays_left(None, proto) == [("validation", 10, 2, 1.0), ("block", 2, 2, 1.0), ("block", 2, 2, 1.0)]
    play = {"dqn": {"scores": [1.0], "lengths": [1000]}, "snn": {"99.9": {"scores": [1.0], "decisions": [1000]},
                                                                 "99.99": {"scores": [2.0], "decisions": [1000]}},
            "timing": {"wall_s": 100.0}}  # 2,000 SNN decisions in 100 s: 0.05 s each
    res = {"settings": protocol.run_settings(proto), "validation": dict(play, best_percentile=99.9), "blocks": {"0": play}}
    assert protocol.plays_left(res, proto) == [("block", 2, 2, 1.0)]
    # Figure 1: T = 50, 100, 200, 1000 one SNN each (T / 500), the p sweep five SNNs at T = 500
    assert protocol.figure1_left(None, "Breakout-v5", proto) == [
        ("validation", 10, 1, 0.1), ("validation", 10, 1, 0.2), ("validation", 10, 1, 0.4),
        ("validation", 10, 1, 2.0), ("validation", 10, 5, 1.0)]
    fig = {"settings": {"time_steps": [50, 100, 200, 500, 1000], "percentiles": [99.0, 99.9, 100.0], "percentile": 99.99,
                        "p_sweep_t": 500, "episodes": 10},
           "games": {"Breakout-v5": {"runs": {"50": {}, "100": {}, "200": {}}}}}
    assert protocol.figure1_left(fig, "Breakout-v5", proto) == [("validation", 10, 1, 2.0), ("validation", 10, 4, 1.0)]
    models, results = tmp_path / "models", tmp_path / "r"
    models.mkdir()
    results.mkdir()
    for g in ("Breakout-v5", "Pong-v5", "Boxing-v5"):
        (models / f"{g}.npz").write_bytes(b"")  # only its presence counts here
    (models / "Pong-v5.json").write_text(json.dumps({"evaluation": {"lengths": [3000, 5000]}}))
    (results / "Breakout-v5.json").write_text(json.dumps(res))
    (results / "figure1_Breakout-v5.json").write_text(json.dumps(fig))
    slow = dict(play, timing={"wall_s": 200.0})  # Boxing: validated only, 0.1 s per decision
    (results / "Boxing-v5.json").write_text(json.dumps({"settings": res["settings"],
                                                         "validation": dict(slow, best_percentile=99.99)}))
    # two processes sharing the machine, as every play stored here (untagged: UNTAGGED_SIDE_BY_SIDE)
    left = protocol.remaining(results, models, proto, ["Breakout-v5", "Pong-v5", "Tennis-v5", "Boxing-v5"],
                              side_by_side=2)
    assert list(left) == ["Breakout-v5", "Pong-v5", "Boxing-v5"]  # Tennis: no model, nothing to play
    b, p, x = left["Breakout-v5"], left["Pong-v5"], left["Boxing-v5"]
    # the run's paces: validations 300 s / 4,000 decisions = 0.075 s; blocks (Breakout's) 0.05 s
    assert (b["tables"], b["figure1"]) == ("p = 99.9 chosen, 1 of 2 blocks", "3 of 5 runs")
    # block: 2 x 2 x 1000 decisions at Breakout's own block pace; Figure 1: 10 x 1000 (at T = 1000) +
    # 4 x 10 x 1000 at the run's validation pace (as `figure1` paces them), T = 1000 twice as long per decision
    assert b["decisions"] == pytest.approx(4000 + 10_000 + 40_000)
    assert b["seconds"] == pytest.approx(0.05 * 4000 + 0.075 * (2 * 10_000 + 40_000))
    # Boxing's blocks at its own validation's pace (as the deadline paces them), not the run's block pace
    assert x["tables"] == "p = 99.99 chosen, 0 of 2 blocks"
    assert x["decisions"] == pytest.approx(2 * 2 * 2 * 1000) and x["seconds"] == pytest.approx(0.1 * 8000)
    # Pong: nothing stored: the shipped DQN's lengths (mean 4,000, under the 4,500 cap), the run's paces
    assert (p["tables"], p["figure1"]) == ("not started", None)
    assert p["decisions"] == pytest.approx(2 * (10 + 2 + 2) * 4000)
    assert p["seconds"] == pytest.approx(0.075 * 2 * 10 * 4000 + 0.05 * 2 * 4 * 4000)
    text = protocol.status_markdown(left, workers=2)
    assert f"| Breakout-v5 | p = 99.9 chosen, 1 of 2 blocks | 3 of 5 runs | 54,000 | {b['seconds'] / 3600:.2f} |" in text
    total = (b["seconds"] + p["seconds"] + x["seconds"]) / 3600
    assert f"Left: about 174,000 SNN decisions, {total:.1f} h of one of 2 processes" in text
    assert f"about {total / 2:.1f} h of wall time if the plays pack evenly" in text


def test_benchmark_status_cli(tmp_path, capsys):
    """`snnjax benchmark --protocol paper --status` prints what is left and plays nothing; the
    paper protocol's options are refused with the budget protocol (not silently ignored)."""
    from snnjax.cli import main

    args = ["benchmark", "--games", "Breakout-v5,Pong-v5", "--results-dir", str(tmp_path / "none"),
            "--models", str(ROOT / "models"), "--out", str(tmp_path / "R.md")]
    assert main([*args, "--protocol", "paper", "--status"]) == 0
    out = capsys.readouterr().out
    assert "| Breakout-v5 | not started | 0 of 5 runs |" in out and "| Pong-v5 | not started |  |" in out
    assert "Left: about" in out and not (tmp_path / "R.md").exists() and not (tmp_path / "none").exists()
    assert main([*args, "--status", "--deadline", "07:00"]) == 2
    assert "--deadline, --status only with --protocol paper (this run: --protocol budget)" in capsys.readouterr().err


def test_part_size_and_join_parts_by_hand(monkeypatch):
    """A part is the most episodes whose estimate (x 1.1 x 1.2) fits, at least 5, fewer than the
    block's; parts join into the block one play stores, in env order, with their timings kept."""
    monkeypatch.setattr(protocol.time, "time", lambda: 1000.0)
    # 100 s per episode -> 132 s with the margins: 800 s left fit 6 of 25 episodes
    assert protocol.part_size(100.0, 25, 1800.0) == 6
    assert protocol.part_size(100.0, 25, 1000.0 + 5 * 132.0 - 1) == 0  # 4 would fit: under MIN_PART_EPISODES
    assert protocol.part_size(100.0, 7, 1e9) == 6  # never the whole block (that would have been played whole)

    def part(lo, hi, wall, machine):
        eps = range(lo, hi)
        return {"seed": 3, "envs": [lo, hi],
                "snn": {"99.9": {"scores": [float(e) for e in eps], "lengths": [10 + e for e in eps],
                                 "decisions": [10 + e for e in eps],
                                 "conversion_rate": {"normal": [0.5] * (hi - lo), "robust": [e / 10 for e in eps]}}},
                "dqn": {"scores": [-float(e) for e in eps], "lengths": [20 + e for e in eps]},
                "timing": {"wall_s": wall, "machine": machine, "side_by_side": 1}}

    parts = [part(0, 2, 60.0, "cpu:int8"), part(2, 5, 40.0, "cpu:float32")]
    block = protocol.join_parts(parts)
    assert block["seed"] == 3 and block["dqn"] == {"scores": [0.0, -1.0, -2.0, -3.0, -4.0], "lengths": [20, 21, 22, 23, 24]}
    assert block["snn"]["99.9"]["conversion_rate"]["robust"] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert block["snn"]["99.9"]["decisions"] == [10, 11, 12, 13, 14] and block["timing"] == {"wall_s": 100.0}
    # timings stay the parts': each on its own kind of machine
    assert protocol.timed([block]) == parts and protocol.pace_s([block]) == pytest.approx(100.0 / 60)
    with pytest.raises(ValidationError, match=r"\[\[0, 2\], \[3, 5\]\] are not consecutive"):
        protocol.join_parts([parts[0], part(3, 5, 1.0, "cpu:int8")])


def test_a_block_too_long_for_the_time_left_is_played_in_parts(tmp_path, monkeypatch):
    """A block whose estimate does not fit is played in parts that do: the parts join into the
    block one play of all its envs stores, episode for episode; a run killed after a part resumes
    with the envs left, and a deadline too near for MIN_PART_EPISODES defers it."""
    import time

    proto = PaperProtocol(time_steps=3, episodes=8, block=8, validation_episodes=2, calibration_frames=64,
                          max_episode_steps=25)
    # the validation: 2 SNNs x 25 steps in 1000 s (played two at a time, as these runs): 1000 s per episode
    model, out, stored = validated_breakout(tmp_path, proto, 25, 1000.0)
    # this test's plays take milliseconds: tagged as made on another kind of machine, their paces
    # stay out of the estimates, which come from the validation's (as on any machine running it)
    monkeypatch.setattr(evaluation, "machine_kind", lambda: "cpu:float32")
    calls = []
    real = protocol._play
    monkeypatch.setattr(protocol, "_play", lambda *a, **k: calls.append(k.get("env_range")) or real(*a, **k))
    lines = []
    # 8 episodes: 8,800 s with the slack; 5.5 x 1,320 s left: a part of 5, then the 3 left (3,300 s) fit
    res = protocol.run_game(model, out, proto, progress=False, log=lines.append, deadline=time.time() + 5.5 * 1320,
                            side_by_side=2)
    assert calls == [(0, 5), (5, 8)] and protocol.finished(res, proto) and "parts" not in res
    assert sum("5 of its 8 episodes per agent now" in m for m in lines) == 1  # said once, not again before calibrating
    # each part's line names its own episodes (its pace is that play's), the last one says the block is whole
    assert any("block 1, episodes 1-5 of 8 stored; " in m for m in lines)
    assert any("block 1, episodes 6-8 of 8 stored, the block complete; " in m for m in lines)
    block = res["blocks"]["0"]
    assert [p["envs"] for p in block["parts"]] == [[0, 5], [5, 8]]
    # one play of the 8 envs: the same episodes
    whole_out = tmp_path / "whole" / "Breakout-v5.json"
    whole_out.parent.mkdir()
    whole_out.write_text(json.dumps(stored))
    whole = protocol.run_game(model, whole_out, proto, progress=False, log=lambda m: None)["blocks"]["0"]
    assert calls[-1] is None and "parts" not in whole
    assert block["dqn"] == whole["dqn"] and block["snn"] == whole["snn"] and len(whole["dqn"]["scores"]) == 8
    # killed after the first part: status counts the 3 episodes left; a near deadline defers them
    part = dict(json.loads(out.read_text()), blocks={}, parts={"0": block["parts"][:1]})
    out.write_text(json.dumps(part))
    assert protocol.plays_left(part, proto) == [("block", 3, 2, 1.0)]
    res = protocol.run_game(model, out, proto, log=lines.append, deadline=time.time() + 600, side_by_side=2)
    assert res["deferred"].startswith("block 1, episodes 6-8: about 55 min") and json.loads(out.read_text()) == part
    # resumed without a deadline: only envs 5-7 are played, and the block is the same
    res = protocol.run_game(model, out, proto, progress=False, log=lambda m: None, side_by_side=2)
    assert calls[-1] == (5, 8) and len(calls) == 4
    assert res["blocks"]["0"]["snn"] == whole["snn"] and res["blocks"]["0"]["dqn"] == whole["dqn"]
    # the report names the block played in parts
    md = protocol.markdown({"Breakout-v5": res}, proto, {"Breakout-v5": 1.0}, {"Breakout-v5": 2.0})
    assert "(in blocks of 8; played in parts before a deadline, the same episodes as one play: Breakout-v5 block 1 (2 parts))" in md
