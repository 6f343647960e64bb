"""Results files: JSON per run, CSV rows per (game, T, percentile), Markdown tables in the shape
of the paper's Table 1 / Table 2 with the paper's own figures beside ours, Figure-1 plots.

The paper's figures (Tan et al. 2021, Tables 1 and 2) ship as `snnjax/data/paper_table*.csv`.
"""

from __future__ import annotations

import csv
import importlib.metadata
import platform
from pathlib import Path

from snnjax.core import stats
from snnjax.core.io import atomic_write, write_text

NOTES = "<!-- notes: kept when this file is regenerated -->"  # hand-written notes below it survive
DATA = Path(__file__).resolve().parents[1] / "data"  # snnjax/data: the paper's tables
CSV_FIELDS = ("game", "time_steps", "percentile", "readout", "episodes", "dqn_mean", "dqn_std",
              "snn_mean", "snn_std", "snn_pct_of_dqn", "p_value", "cr_normal", "cr_normal_std",
              "cr_robust", "cr_robust_std", "cr_membrane", "cr_membrane_std", "decisions_per_s")


def paper_table(n: int) -> dict[str, dict]:
    """The paper's Table n (1 or 2) keyed by envpool id."""
    with (DATA / f"paper_table{n}.csv").open() as f:
        rows = list(csv.DictReader(f))
    with (DATA / "paper_table1.csv").open() as f:
        t1 = {r["game"]: r["envpool_id"] for r in csv.DictReader(f)}
    return {t1.get(r["game"], r["game"]): r for r in rows}


def versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for pkg in ("snnjax", "jax", "jaxlib", "flax", "envpool", "numpy", "scipy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def summarize(agent: dict, dqn: dict) -> dict:
    """Paper metrics of one SNN agent against the DQN agent."""
    dm, ds = stats.mean_std(dqn["scores"])
    sm, ss = stats.mean_std(agent["scores"])
    out = {"dqn_mean": dm, "dqn_std": ds, "snn_mean": sm, "snn_std": ss,
           "snn_pct_of_dqn": stats.pct_of(sm, dm), "p_value": stats.welch_p(agent["scores"], dqn["scores"])}
    for r, v in agent["conversion_rate"].items():
        m, s = stats.mean_std(v)
        out[f"cr_{r}"], out[f"cr_{r}_std"] = m, s
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    """The CSV of a results file, regenerated from its rows (never appended), atomically."""
    def write(f):
        w = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    atomic_write(path, write, "w")


def _pct(x) -> str:
    return "n/a" if stats.missing(x) else f"{100 * x:.1f}"


def markdown_table(rows: list[dict]) -> str:
    """Table-1/Table-2-shaped Markdown: ours beside the paper's (T=500, p in {99.9, 99.99})."""
    t1, t2 = paper_table(1), paper_table(2)
    lines = ["| game | T | p | DQN (ours) | SNN (ours) | % DQN | p-value | CR normal % | CR robust % "
             "| paper DQN | paper SNN | paper % DQN | paper CR normal % | paper CR robust % |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p1, p2 = t1.get(r["game"]), t2.get(r["game"])
        key = {99.9: "p999", 99.99: "p9999"}.get(round(float(r["percentile"]), 3))
        paper_cr = (f"{p2[key + '_cr_normal']} ± {p2[key + '_cr_normal_std']}",
                    f"{p2[key + '_cr_robust']} ± {p2[key + '_cr_robust_std']}") if p2 and key else ("-", "-")
        paper_snn = f"{p2[key + '_snn_mean']} ± {p2[key + '_snn_std']}" if p2 and key else (
            f"{p1['snn_mean']} ± {p1['snn_std']}" if p1 else "-")
        lines.append(
            f"| {r['game']} | {r['time_steps']} | {r['percentile']} | {stats.fmt_pm(r['dqn_mean'], r['dqn_std'])} "
            f"| {stats.fmt_pm(r['snn_mean'], r['snn_std'])} | {stats.fmt(r['snn_pct_of_dqn'], '.1f')} | {stats.fmt(r['p_value'], '.3g')} "
            f"| {_pct(r['cr_normal'])} ± {_pct(r['cr_normal_std'])} | {_pct(r['cr_robust'])} ± {_pct(r['cr_robust_std'])} "
            f"| {(p1['dqn_mean'] + ' ± ' + p1['dqn_std']) if p1 else '-'} | {paper_snn} "
            f"| {p1['snn_pct_of_dqn'] if p1 else '-'} | {paper_cr[0]} | {paper_cr[1]} |")
    return "\n".join(lines) + "\n"


def console_table(rows: list[dict]) -> str:
    head = f"{'game':<14}{'T':>6}{'p':>8}{'DQN':>18}{'SNN':>18}{'% DQN':>8}{'p-val':>8}{'CR norm':>9}{'CR rob':>8}"
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['game']:<14}{r['time_steps']:>6}{r['percentile']:>8}"
                   f"{stats.fmt_pm(r['dqn_mean'], r['dqn_std']):>18}{stats.fmt_pm(r['snn_mean'], r['snn_std']):>18}"
                   f"{stats.fmt(r['snn_pct_of_dqn'], '.1f'):>8}{stats.fmt(r['p_value'], '.3f'):>8}{_pct(r['cr_normal']):>9}"
                   f"{_pct(r['cr_robust']):>8}")
    return "\n".join(out)


def write_section(path: str | Path, body: str, begin: str, end: str, before: str | None = NOTES,
                  empty: str = "") -> Path:
    """The one Markdown section writer: `body` between the comment lines `begin` and `end` of
    `path`, in place of the old section; a new section goes before the `before` marker where the
    file has one, else at the end (a missing file starts as `empty`). Everything outside the
    section is untouched."""
    path = Path(path)
    old = path.read_text() if path.exists() else empty
    block = f"{begin}\n{body.strip(chr(10))}\n{end}"
    if begin in old and end in old.split(begin, 1)[1]:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1]
    elif before and before in old:
        head, tail = old.split(before, 1)
        new = head.rstrip("\n") + "\n\n" + block + "\n\n" + before + tail
    else:
        new = old.rstrip("\n") + ("\n\n" if old.strip() else "") + block + "\n"
    return write_text(path, new)


def bench_markers(name: str) -> tuple[str, str]:
    """The comment lines around BENCHMARKS.md's section NAME."""
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
