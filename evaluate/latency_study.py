"""The latency study on every shipped Atari model, written into RESULTS.md.

    python evaluate/latency_study.py [--percentile 99.9] [--frames 256] [--models models]

For each models/<game>.npz of an Atari game it runs `snnjax latency` (conversion rate against
T = 1..1000 for the paper's method and each low-latency option, on the same held-out frames),
unless results/latency_<game>.json already holds that study with the same settings (a rerun
resumes where a crash stopped). Then it writes RESULTS.md: the headline table (smallest T at
which each method reaches the paper's T=500 conversion rate), one table per game, and the plots
(copied to docs/latency_<game>.png beside RESULTS.md, so it shows them from a clean checkout).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from snnjax.experiments import latency, report
from snnjax.nets.checkpoint import load_qnetwork

ROOT = Path(__file__).resolve().parents[1]
LATENCY_BEGIN, LATENCY_END = "<!-- latency:begin -->", "<!-- latency:end -->"

INTRO = """# Results: low-latency conversion (latency study)

Written by `python evaluate/latency_study.py` ({settings}). For each shipped Atari DQN
(`models/`), the SNN is simulated once for T = {t_max} steps on the same {frames} held-out frames
(the DQN's own eps-greedy play on calibration seeds, every 8th frame, disjoint from the
{calib:,} frames that set the percentiles) and read out at every T of the grid (any-time
readout). The conversion rate (eq. 18) is the fraction of frames on which the SNN picks the
DQN's greedy action. Methods, none of which retrains:

- `paper`: layer-wise p-th percentile normalization (eq. 16), V(0) = 0, robust readout (eq. 17)
- `paper-normal`: the same with the spike-count ("normal firing rate") readout
- `v0-half`: initial membrane potential V_thr / 2 (Bu et al. 2022)
- `channelwise`: one normalization factor per channel (Kim et al. 2020, Spiking-YOLO)
- `auto-p`: the percentile with the best conversion rate at T = 50 on calibration frames
- `all`: channel-wise + V(0) = V_thr / 2 + its own automatic percentile

A non-spiking integrating output layer ranks actions exactly like the robust readout
(`snnjax/snn/readout.py`), so its curve is the `paper` curve. With {frames} frames the standard
error of a conversion rate near 0.9 is about {se:.1f} percentage points.

## Headline: smallest T reaching the paper's T = 500 conversion rate (p = {p})

On the grid of T below; the target is the paper's own figure for that game (Table 2, robust
readout), reached by our SNN against our DQN.

{headline}
"""


def study(model: Path, results_dir: Path, p: float, frames: int, calib: int, t_max: int) -> dict:
    out = results_dir / f"latency_{model.stem}.json"
    print(f"{model.stem}: latency study ({frames} frames, T up to {t_max}) -> {out}", flush=True)
    # The same study already in `out` is reused; one with other settings is recomputed.
    return latency.run(model, None, p, out, frames=frames, calibration_frames=calib, t_max=t_max,
                       overwrite=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--percentile", "-p", type=float, default=99.9, help="the paper's p (99.9 or 99.99)")
    ap.add_argument("--frames", type=int, default=256, help="held-out frames per game")
    ap.add_argument("--calibration-frames", type=int, default=15000)
    ap.add_argument("--t-max", type=int, default=1000)
    ap.add_argument("--models", default=str(ROOT / "models"), help="folder of <game>.npz")
    ap.add_argument("--results-dir", default=str(ROOT / "results"), help="where the per-game JSON/MD/PNG go")
    ap.add_argument("--out", default=str(ROOT / "RESULTS.md"), help="the report; its plots go to docs/ beside it")
    args = ap.parse_args(argv)

    models = [m for m in sorted(Path(args.models).glob("*.npz")) if load_qnetwork(m)[1]["network"] == "nature"]
    if not models:
        print(f"no shipped Atari models in {args.models}", file=sys.stderr)
        return 1
    results_dir = Path(args.results_dir)
    results = {m.stem: study(m, results_dir, args.percentile, args.frames, args.calibration_frames, args.t_max) for m in models}

    docs = Path(args.out).parent / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    sections = []
    for game, res in results.items():
        png = results_dir / f"latency_{game}.png"
        shutil.copy(png, docs / png.name)
        sections.append(latency.markdown(game, res, args.percentile) + f"\n![{game}](docs/{png.name})\n")
    text = INTRO.format(settings=f"p = {args.percentile}, {args.frames} frames, T up to {args.t_max}",
                        t_max=args.t_max, frames=args.frames, calib=args.calibration_frames,
                        se=100 * (0.9 * 0.1 / args.frames) ** 0.5, p=args.percentile,
                        headline=latency.headline(results, args.percentile))
    text += "\n## Conversion rate (%) against T, per game\n\n" + "\n".join(sections)
    # Only this study's section is rewritten; the benchmark and QCFS sections and the
    # hand-written notes below the notes marker survive.
    report.write_section(Path(args.out), text, LATENCY_BEGIN, LATENCY_END)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
