"""RESULTS.md as one report, regenerated whole from `results/` and `models/` (`snnjax report`).

Order, headline first:
1. what the numbers are about: the shipped DQNs and how strong they are (from `models/`);
2. the paper's benchmark at the paper's protocol (`results/paper_protocol/`, `protocol.section`);
3. how this setup differs from the paper's (`DEVIATIONS`, with figures from `models/`);
4. the low-latency study on 17 games (`results/benchmark/`, `benchmark.section`);
5. the latency study of `evaluate/latency_study.py` and the QCFS study of `evaluate/qcfs_study.py`
   where the file has them: those scripts write their sections from `results/latency_*.json` and
   `results/qcfs/`; this command carries them over as they stand, and says so;
6. the hand-written findings below the notes marker, kept; `tests/test_results_report.py`
   checks that every number they quote appears in the section they name.

Each section keeps its comment markers, so the command that makes one section (e.g. `snnjax
benchmark --protocol paper` after every game) rewrites it in place between full regenerations.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from snnjax.core.io import read_json
from snnjax.experiments import benchmark, protocol, report

TITLE = "# Results"
DEV_BEGIN, DEV_END = "<!-- deviations:begin -->", "<!-- deviations:end -->"
# sections written by the study scripts, carried over: (begin, end, the script that writes it)
CARRIED = (("<!-- latency:begin -->", "<!-- latency:end -->", "python evaluate/latency_study.py"),
           ("<!-- qcfs:begin -->", "<!-- qcfs:end -->", "python evaluate/qcfs_study.py"))

# (what, the paper, ours, why): every way the setup differs; figures in {braces} come from models/
DEVIATIONS = (
    ("DQN training", "Mnih et al. (2015)'s hyperparameters (50M frames)",
     "{frames} frames per game, {hours} h each on 2 CPU cores (`models/README.md`); median {median:.2f} of "
     "the way from a random agent to the paper's DQN",
     "compute: no weights can be downloaded here; a recipe study found no recipe that beats the shipped "
     "networks at one CPU-hour per game (`BENCHMARKS.md`)"),
    ("Weights", "float32", "int8 with one float32 scale per output channel; spikes propagate as int8 x int8 "
     "-> int32, exact (on CPUs without int8 dot-product units the same integers are summed in float32: "
     "bit-identical)", "4x smaller files; the simulation runs 2.7-5.4x faster than the same program on float32 "
     "on a CPU with int8 units (AMX); 1.1x on an AVX2-only one, where int8 products would run at half the "
     "speed (`BENCHMARKS.md`)"),
    ("Emulator", "ALE (version and sticky actions not stated)", "envpool `-v5`: no sticky actions "
     "(repeat_action_probability 0), minimal action set, FIRE at reset",
     "envpool runs hundreds of environments in C++; the settings follow Mnih et al. (2015)"),
    ("Choosing the percentile", "\"the best percentile in [99.9, 99.99]\" (on which episodes is not stated)",
     "chosen on {validation} separate validation episodes per percentile, then scored on {episodes} test episodes",
     "a percentile chosen on the episodes it is scored on would bias the score upwards"),
    ("Normalization frames", "at most 15,000 frames", "{calibration:,} frames of the DQN's own eps-greedy play "
     "(calibration seeds, disjoint from the evaluation seeds)", "-"),
    ("Agents per game", "not stated", "both SNNs (p = 99.9 and 99.99) and the DQN as one population: same "
     "environment seeds and exploration draws", "a paired comparison: differences come from the policies"),
    ("Neuron and readout", "the paper's equations (1)-(3), (16)-(18)", "the same equations; the paper's own "
     "code differs (a one-step delay per layer; spiking output read as count + V(T)), not reproduced",
     "reproduce the paper as written"),
    ("Statistics", "Welch's t-test", "Welch's t-test; an equivalence test (TOST) with a margin fixed before the "
     "run ({margin} x our DQN's advantage over a random agent); bootstrap CIs that resample both agents' episodes",
     "absence of a significant difference is not equivalence"),
)


def model_facts(models_dir: Path) -> dict:
    """Training size and strength of the shipped DQNs: frames and hours (ranges), and the
    median of (DQN - random) / (paper's DQN - random) over the paper's games."""
    t1 = report.paper_table(1)
    frames, hours, norm, below = [], [], [], 0
    for g in t1:
        prov = models_dir / f"{g}.json"
        if not prov.is_file():
            continue
        m = read_json(prov, "model provenance file", key="evaluation")
        frames.append(m["frames"])
        hours.append(m["train_wall_s"] / 3600)
        rnd, ours, ref = m["random_agent"]["mean"], m["evaluation"]["mean"], float(t1[g]["dqn_mean"])
        norm.append((ours - rnd) / (ref - rnd))
        below += not m["beats_random"]
    if not frames:
        return {"games": 0, "frames": "-", "hours": "-", "median": float("nan")}
    return {"games": len(frames), "frames": f"{min(frames) / 1e6:.1f}-{max(frames) / 1e6:.1f}M",
            "hours": f"{min(hours):.2f}-{max(hours):.2f}", "median": statistics.median(norm),
            "below_random": below}


def deviations_markdown(proto: protocol.PaperProtocol, facts: dict) -> str:
    fill = dict(facts, validation=proto.validation_episodes, episodes=proto.episodes,
                calibration=proto.calibration_frames, margin=proto.equivalence_margin)
    lines = ["## How this setup differs from the paper's", "",
             "| what | the paper | ours | why |", "|---|---|---|---|"]
    lines += [f"| {what} | {paper} | {ours.format(**fill)} | {why} |" for what, paper, ours, why in DEVIATIONS]
    return "\n".join(lines) + "\n"


def intro(facts: dict) -> str:
    return "\n".join([
        TITLE, "",
        "Written whole by `snnjax report` from `results/` and `models/`; each section names the command that "
        f"measures it. Every number is for the {facts['games']} shipped int8 DQNs (`models/`) and their SNNs, "
        "simulated and played on this project's 2-core CPU.", "",
        f"Read them with the DQNs' strength in mind: trained for {facts['frames']} frames (the paper: 50M), they "
        f"sit at a median {facts['median']:.2f} of the way from a random agent to the paper's DQN, and "
        f"{facts.get('below_random', 0)} of {facts['games']} do not beat the random agent (Welch p < 0.05 over 20 "
        "episodes). \"The SNN scores like its DQN\" is "
        "easier to reach when the policy is weak; the conversion rates (does the SNN choose the DQN's action?) "
        "do not depend on it.", ""])


def block(begin: str, body: str, end: str) -> str:
    return f"{begin}\n{body.strip(chr(10))}\n{end}\n"


def carried(old: str, begin: str, end: str) -> str | None:
    """The section between `begin` and `end` of the current file, if it has one."""
    if begin in old and end in old.split(begin, 1)[1]:
        return old.split(begin, 1)[1].split(end, 1)[0]
    return None


def build(root: Path, old: str = "", log=print) -> str:
    """The whole of RESULTS.md from root/results and root/models; `old`: the current file (its
    notes, and sections whose results are not stored, are kept)."""
    models = root / "models"
    facts = model_facts(models)
    results, figs, proto = protocol.load(root / "results" / "paper_protocol")
    parts = [intro(facts)]
    pending = protocol.figure1_pending(root / "results" / "paper_protocol", proto)
    parts.append(block(protocol.BEGIN, protocol.section(results, proto, models, protocol.COMMAND,
                                                        figs, pending), protocol.END))
    parts.append(block(DEV_BEGIN, deviations_markdown(proto, facts), DEV_END))
    bench = {}
    for f in sorted((root / "results" / "benchmark").glob("*.json")):
        bench[f.stem] = read_json(f, "benchmark results file")
    if bench:
        games = [g for g in report.paper_table(1) if g in bench] + [g for g in bench if g not in report.paper_table(1)]
        fig = "docs/normalized_scores.png" if (root / "docs" / "normalized_scores.png").is_file() else None
        parts.append(block(benchmark.BEGIN, benchmark.section(bench, games, fig, "snnjax benchmark --games paper"),
                           benchmark.END))
    for begin, end, script in CARRIED:
        body = carried(old, begin, end)
        if body is not None:
            log(f"RESULTS.md: the section {begin} is carried over as it stands ({script} rewrites it)")
            parts.append(block(begin, body, end))
    notes = old.split(report.NOTES, 1)[1] if report.NOTES in old else "\n"
    return "\n".join(parts) + "\n" + report.NOTES + notes


def write(root: Path, out: Path | None = None, benchmarks: Path | None = None, log=print) -> Path:
    """RESULTS.md (`build`) and, when the paper-protocol run has results, BENCHMARKS.md's section
    on its wall time and decisions/s."""
    out = out or root / "RESULTS.md"
    old = out.read_text() if out.exists() else ""
    report.write_text(out, build(root, old, log))
    results = protocol.load(root / "results" / "paper_protocol")[0]
    if results:
        figures = protocol.figure1_stored(root / "results" / "paper_protocol")
        report.write_section(benchmarks or root / "BENCHMARKS.md", protocol.throughput_markdown(results, figures),
                             *report.bench_markers("paper-protocol"), empty="# Benchmarks\n")
    return out
