"""The `snnjax` command: `snnjax train|convert|evaluate|sweep|bench ...`.

Bad input (unknown game, unknown config key, bad numbers, missing or corrupt checkpoints)
ends in a one-line `snnjax: error: ...` message and exit status 2, never a traceback wall.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

DEFAULT_CHECKPOINT = "models/Breakout-v5.npz"  # the main job's model


class UsageError(ValueError):
    """A bad argument value detected by the CLI itself."""


def _known_errors():
    """Every error class that means bad input: all subclass ValidationError (snnjax.core.validate)."""
    from snnjax.core.io import OutputError
    from snnjax.core.validate import ValidationError

    return (UsageError, ValidationError, OutputError)


def cmd_train(args) -> int:
    from snnjax.rl import config as config_mod
    from snnjax.rl.training import train

    cfg = config_mod.load(args.config, args.set)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{cfg.env_id}-seed{cfg.seed}"
    summary = train(cfg, run_dir, resume=args.resume, overwrite=args.overwrite,
                    progress=not args.no_progress)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)}, indent=2))
    print(f"run folder: {run_dir}  (Q-network: {run_dir / 'qnetwork.npz'})")
    return 0


def _parser_train(sub) -> None:
    t = sub.add_parser("train", help="train a DQN on an envpool environment")
    t.add_argument("--config", required=True, help="TOML config file (see configs/)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set env_id=Pong-v5")
    t.add_argument("--run-dir", help="output folder (default runs/<env_id>-seed<seed>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its latest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    _progress_flag(t)
    t.set_defaults(func=cmd_train)


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"expected comma-separated integers, got {text!r}") from None


def _games(args) -> list[str]:
    """The games asked for (envpool ids; "Pong" means "Pong-v5"). Sets args.checkpoint when it was
    not given: models/<game>.npz for one --game, models/ for --games, else the main job's model."""
    from snnjax.rl.envs import check_env_id

    if args.games:
        games = [check_env_id(g.strip()) for g in args.games.split(",") if g.strip()]
        if not games:
            raise UsageError(f"--games {args.games!r} names no game")
        args.checkpoint = args.checkpoint or "models"
        return games
    if args.game:
        game = check_env_id(args.game)
        args.checkpoint = args.checkpoint or f"models/{game}.npz"
        return [game]
    args.checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    from snnjax.nets.checkpoint import load_qnetwork

    ckpt = Path(args.checkpoint)
    if ckpt.is_dir():
        raise UsageError(f"--checkpoint {str(ckpt)!r} is a folder: name the game with --game or --games")
    return [load_qnetwork(ckpt)[1]["env_id"]]


def _eval_defaults():
    from snnjax.rl.config import EvalConfig

    return EvalConfig()


# Flags of `evaluate` / `sweep` that set an EvalConfig field (a flag given wins over --config and --set).
EVAL_FLAGS = ("episodes", "readout", "eps", "max_episode_steps", "seed", "calibration_frames", "channelwise",
              "v_thr", "initial_potential", "input_encoding")
SWEEP_DEFAULTS = {"time_steps": (50, 100, 200, 500, 1000), "percentiles": (99, 99.9, 99.99, 99.999, 100)}


def _eval_config(args, time_steps, percentiles, defaults=None):
    """defaults <- --config TOML <- --set <- flags given (None: not given)."""
    from snnjax.rl.config import load_eval

    given = {k: v for k in EVAL_FLAGS if (v := getattr(args, k)) is not None and v is not False}
    if time_steps is not None:
        given["time_steps"] = time_steps
    if percentiles is not None:
        given["percentiles"] = percentiles
    return load_eval(args.config, args.set, dict(defaults or {}, **given))


def _run(args, time_steps, percentiles, defaults=None) -> int:
    from snnjax.core import io, parallel
    from snnjax.experiments import report
    from snnjax.experiments.grid import run_grid

    if args.distributed or args.coordinator or args.num_processes is not None:
        parallel.initialize(args.coordinator, args.num_processes, args.process_id)
    cfg = _eval_config(args, time_steps, percentiles, defaults)
    games = _games(args)
    res = run_grid(args.checkpoint, games, cfg, args.out, progress=not args.no_progress,
                   overwrite=args.overwrite, qcfs=args.qcfs, log=lambda m: print(m, file=sys.stderr), memo=args.memo)
    import jax

    if jax.process_index() == 0:
        print(report.console_table(res["rows_asked"]))
        print("results: " + "  ".join(str(p) for p in io.outputs(args.out).values()))
    return 0


def cmd_evaluate(args) -> int:
    return _run(args, args.time_steps, args.percentile)


def _parser_evaluate(sub) -> None:
    ev = _eval_defaults()
    e = sub.add_parser("evaluate", help="play a DQN and its SNN side by side (scores, conversion rates)")
    e.add_argument("--time-steps", "-T", type=int, help=f"SNN steps per frame (default {ev.time_steps[0]}; paper: 500)")
    e.add_argument("--percentile", "-p", type=float,
                   help=f"normalization percentile in (0, 100] (default {ev.percentiles[0]})")
    _eval_options(e, "results/evaluate.json")
    e.set_defaults(func=cmd_evaluate)


def cmd_sweep(args) -> int:
    from snnjax.core import io
    from snnjax.experiments.plots import figure1

    code = _run(args, None if args.time_steps is None else _ints(args.time_steps),
                None if args.percentiles is None else _floats(args.percentiles), SWEEP_DEFAULTS)
    import jax

    if jax.process_index() == 0:
        for path in figure1(io.outputs(args.out)["json"]):
            print(f"figure: {path}")
    return code


def _parser_sweep(sub) -> None:
    w = sub.add_parser("sweep", help="grid over T and percentile, one population run per T; Figure-1 plots")
    w.add_argument("--time-steps", "-T", help="comma-separated T values (default "
                   + ",".join(map(str, SWEEP_DEFAULTS["time_steps"])) + ")")
    w.add_argument("--percentiles", "-p", help="comma-separated percentiles (default "
                   + ",".join(f"{p:g}" for p in SWEEP_DEFAULTS["percentiles"]) + ")")
    _eval_options(w, "results/sweep.json")
    w.set_defaults(func=cmd_sweep)


def cmd_convert(args) -> int:
    from snnjax.conversion.normalize import convert, from_qnetwork, save_snn
    from snnjax.core import io, validate
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.envs import check_env_id, check_fits
    from snnjax.rl.play import collect_observations

    params, meta = load_qnetwork(args.checkpoint)
    game = check_env_id(args.game) if args.game else meta["env_id"]
    check_fits(game, meta["num_actions"], meta["obs_shape"], f"checkpoint {args.checkpoint!r}")
    if args.percentile != "auto":
        ps = _floats(args.percentile)
        if len(ps) != 1:
            raise UsageError(f"convert takes one --percentile (or 'auto'), got {args.percentile!r}; "
                             "use `snnjax sweep -p ...` for several")
        validate.percentile(ps[0])
    validate.time_steps(args.auto_time_steps, "--auto-time-steps")
    validate.count(args.calibration_frames, "--calibration-frames")
    validate.positive(args.v_thr, "--v-thr")
    io.make_parent(io.check_writable(args.out, "--out"), "--out")  # validation passed
    ann = from_qnetwork(params, meta)
    cal = collect_observations(ann, game, args.calibration_frames, args.seed, progress=not args.no_progress)
    if args.percentile == "auto":
        from snnjax.conversion.normalize import auto_percentile

        percentile, rates = auto_percentile(ann, cal, args.auto_time_steps, channelwise=args.channelwise,
                                            v_thr=args.v_thr)
        print(f"conversion rate on calibration frames at T={args.auto_time_steps}: "
              + ", ".join(f"p={p}: {r:.3f}" for p, r in rates.items()) + f" -> p={percentile}")
    else:
        percentile = ps[0]
    snn = convert(ann, cal, percentile, v_thr=args.v_thr, channelwise=args.channelwise)
    save_snn(args.out, snn, {"checkpoint": str(args.checkpoint), "game": game,
                             "calibration_frames": int(len(cal)), "channelwise": args.channelwise})
    lams = ", ".join(f"{n}={float(np.mean(np.asarray(l))):.4g}" for n, l in zip(snn.names, snn.lambdas))
    print(f"converted {args.checkpoint} at p={percentile} on {len(cal)} frames of {game}: lambda {lams}")
    print(f"wrote {args.out}")
    return 0


def _parser_convert(sub) -> None:
    from snnjax.conversion.normalize import auto_percentile

    ev = _eval_defaults()
    c = sub.add_parser("convert", help="convert a Q-network to an SNN .npz (documented keys)")
    c.add_argument("--checkpoint", required=True, help="Q-network .npz or run folder")
    c.add_argument("--percentile", "-p", default=str(ev.percentiles[0]),
                   help="normalization percentile in (0, 100], or 'auto': the candidate (99 ... 100) with the "
                        "highest conversion rate at --auto-time-steps on calibration frames")
    c.add_argument("--auto-time-steps", type=int, default=_default(auto_percentile, "time_steps"),
                   help="T at which 'auto' compares percentiles")
    c.add_argument("--game", help="game for calibration frames (default: the checkpoint's)")
    c.add_argument("--calibration-frames", type=int, default=ev.calibration_frames, help="frames for the percentiles")
    c.add_argument("--channelwise", action="store_true", help="one lambda per channel")
    c.add_argument("--v-thr", type=float, default=ev.v_thr, help="threshold V_thr")
    c.add_argument("--seed", type=int, default=ev.seed, help="calibration seed range")
    c.add_argument("--out", required=True, help="output .npz")
    _progress_flag(c)
    c.set_defaults(func=cmd_convert)


def cmd_export_nir(args) -> int:
    import importlib.util

    from snnjax.conversion.nir import export_nir
    from snnjax.conversion.normalize import load_snn

    if importlib.util.find_spec("nir") is None:
        raise UsageError("export-nir needs the optional nir package: pip install 'snnjax[nir]'") from None
    snn = load_snn(args.snn)
    path = export_nir(snn, args.out, args.time_steps, args.readout)
    print(f"wrote {path} ({len(snn.names)} layers, V_thr={float(snn.v_thr)}, T={args.time_steps})")
    return 0


def _parser_export_nir(sub) -> None:
    x = sub.add_parser("export-nir", help="export a converted SNN (.npz from `convert`) to NIR")
    x.add_argument("--snn", required=True, help="converted network written by `snnjax convert`")
    x.add_argument("--time-steps", "-T", type=int, default=500, help="T recorded in the metadata")
    x.add_argument("--readout", default="robust", choices=("normal", "robust", "membrane"))
    x.add_argument("--out", required=True, help="output .nir file")
    x.set_defaults(func=cmd_export_nir)


def cmd_latency(args) -> int:
    from snnjax.experiments.latency import output_paths, run

    run(args.checkpoint, args.game, args.percentile, args.out, frames=args.frames,
        calibration_frames=args.calibration_frames, t_max=args.t_max, seed=args.seed,
        progress=not args.no_progress, overwrite=args.overwrite, qcfs=args.qcfs)
    paths = output_paths(args.out)
    print(paths["md"].read_text())
    print("results: " + "  ".join(str(p) for p in paths.values()))
    return 0


def _parser_latency(sub) -> None:
    from snnjax.experiments.latency import run

    lt = sub.add_parser("latency", help="conversion rate against T (1..1000) for the paper's method and "
                                        "low-latency options, on the same held-out frames")
    lt.add_argument("--checkpoint", required=True, help="Q-network .npz")
    lt.add_argument("--game", help="envpool id (default: the checkpoint's game)")
    lt.add_argument("--percentile", "-p", type=float, default=99.9, help="the paper's percentile (99.9 or 99.99)")
    lt.add_argument("--frames", type=int, default=_default(run, "frames"), help="held-out frames to compare on")
    lt.add_argument("--calibration-frames", type=int, default=_default(run, "calibration_frames"),
                    help="frames for the percentiles")
    lt.add_argument("--t-max", type=int, default=_default(run, "t_max"), help="largest T")
    lt.add_argument("--seed", type=int, default=_default(run, "seed"), help="calibration seed range")
    lt.add_argument("--out", default="results/latency.json", help="results stem: STEM.json, STEM.md, STEM.png")
    lt.add_argument("--overwrite", action="store_true", help="replace a stored study made with other settings")
    lt.add_argument("--qcfs", help="QCFS network of the game (`snnjax finetune`), added as the method 'qcfs'")
    _progress_flag(lt)
    lt.set_defaults(func=cmd_latency)


def cmd_finetune(args) -> int:
    from snnjax.conversion import qcfs
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.core import io, validate
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.envs import check_env_id, check_fits
    from snnjax.rl.play import collect_observations

    params, meta = load_qnetwork(args.checkpoint)
    game = check_env_id(args.game) if args.game else meta["env_id"]
    check_fits(game, meta["num_actions"], meta["obs_shape"], f"checkpoint {args.checkpoint!r}")
    validate.count(args.levels, "--levels", 1, 1024)
    validate.count(args.steps, "--steps")
    validate.count(args.frames, "--frames", args.batch_size)
    validate.positive(args.lr, "--lr")
    io.make_parent(io.check_writable(args.out, "--out"), "--out")
    ann = from_qnetwork(params, meta)
    frames = collect_observations(ann, game, args.frames, args.seed, progress=not args.no_progress)
    tuned, clips, hist = qcfs.finetune(ann, frames, args.levels, args.steps, args.batch_size, args.lr,
                                       channelwise=args.channelwise, seed=args.seed, progress=not args.no_progress)
    qcfs.save(args.out, tuned, clips, dict(meta, env_id=game, teacher=str(args.checkpoint)), args.levels,
              dict(hist, frames=int(len(frames)), steps=args.steps, batch_size=args.batch_size, lr=args.lr))
    print(f"wrote {args.out}: QCFS L={args.levels}, clip values "
          + ", ".join(f"{float(np.mean(np.asarray(c))):.3g}" for c in clips))
    return 0


def _parser_finetune(sub) -> None:
    from snnjax.conversion.qcfs import finetune

    ev = _eval_defaults()
    ft = sub.add_parser("finetune", help="conversion-aware fine-tuning: distil the DQN into QCFS activations "
                                         "(L levels, trainable clip values) for SNNs at T = L")
    ft.add_argument("--checkpoint", required=True, help="the DQN (Q-network .npz)")
    ft.add_argument("--game", help="envpool id (default: the checkpoint's game)")
    ft.add_argument("--levels", type=int, default=_default(finetune, "levels"),
                    help="quantization levels L = the SNN's T (default %(default)s)")
    ft.add_argument("--steps", type=int, default=_default(finetune, "steps"), help="Adam steps (default %(default)s)")
    ft.add_argument("--batch-size", type=int, default=_default(finetune, "batch_size"))
    ft.add_argument("--lr", type=float, default=_default(finetune, "learning_rate"),
                    help=f"weight learning rate (clip values: {_default(finetune, 'clip_learning_rate')})")
    ft.add_argument("--frames", type=int, default=ev.calibration_frames,
                    help="frames of the DQN's own play (calibration seeds)")
    ft.add_argument("--channelwise", action="store_true", help="one clip value per channel")
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--out", required=True, help="output Q-network .npz with its clip values")
    _progress_flag(ft)
    ft.set_defaults(func=cmd_finetune)


def cmd_import(args) -> int:
    from snnjax.core import io
    from snnjax.nets import importers
    from snnjax.rl.envs import check_env_id, check_fits

    game = check_env_id(args.game)
    params = importers.read(args.file, args.format)  # a bad file fails before anything is written
    check_fits(game, int(params["q"]["kernel"].shape[1]), [4, 84, 84], f"{args.format} model {args.file!r}")
    io.make_parent(io.check_writable(args.out, "--out"), "--out")
    meta = importers.write(params, args.file, args.format, game, args.out)
    print(f"wrote {args.out}: {args.format} Nature-DQN for {game} ({meta['num_actions']} actions); "
          f"layout: {meta['imported']['layout']}")
    return 0


def _parser_import(sub) -> None:
    from snnjax.nets.importers import FORMATS

    im = sub.add_parser("import", help="a Nature-DQN trained with CleanRL or Stable-Baselines3 as a snnjax "
                                       "Q-network file (evaluate, sweep, benchmark and finetune take it)")
    im.add_argument("file", help="the library's saved model (.cleanrl_model, torch state dict, SB3 .zip)")
    im.add_argument("--from", dest="format", required=True, choices=FORMATS, help="the library and format")
    im.add_argument("--game", required=True, help="envpool id the network plays (its action count must match)")
    im.add_argument("--out", required=True, help="output Q-network .npz")
    im.set_defaults(func=cmd_import)


def cmd_ship(args) -> int:
    from snnjax.experiments.ship import ship

    if args.episodes < 2:
        raise UsageError(f"--episodes must be >= 2 (Welch's test needs two scores), got {args.episodes}")
    ship(args.run_dir, args.models, args.episodes, args.qnetwork)
    return 0


def _parser_ship(sub) -> None:
    from snnjax.experiments.ship import ship

    sh = sub.add_parser("ship", help="ship a finished training run into models/ (int8 Q-network, provenance, "
                                     "scores beside a random agent, regression band)")
    sh.add_argument("run_dir", help="finished run folder (config.json, eval.json, log.csv, qnetwork.npz)")
    sh.add_argument("--qnetwork", help="Q-network file to ship instead of RUN_DIR/qnetwork.npz")
    sh.add_argument("--models", default="models", help="models folder (default %(default)s)")
    sh.add_argument("--episodes", type=int, default=_default(ship, "episodes"),
                    help="evaluation episodes (default %(default)s)")
    sh.set_defaults(func=cmd_ship)


def cmd_rescore(args) -> int:
    from snnjax.experiments.ship import rescore
    from snnjax.nets.checkpoint import load_qnetwork

    if args.qnetwork and len(args.models) != 1:
        raise UsageError("--qnetwork belongs to one model; name one model")
    for m in args.models:
        load_qnetwork(m)  # missing or corrupt: fail before any work
    for m in args.models:
        rescore(m, qnetwork=args.qnetwork)
    return 0


def _parser_rescore(sub) -> None:
    rs = sub.add_parser("rescore", help="score shipped models again with this version's play loop "
                                        "(DQN, random agent, regression band; provenance and models/README.md)")
    rs.add_argument("models", nargs="+", help="shipped Q-network files (models/<game>.npz)")
    rs.add_argument("--qnetwork", help="the full-precision network of the (one) model, scored as float32")
    rs.set_defaults(func=cmd_rescore)


def cmd_campaign(args) -> int:
    from snnjax.experiments import campaign

    if args.episodes < 2:
        raise UsageError(f"--episodes must be >= 2 (Welch's test needs two scores), got {args.episodes}")
    games = campaign.resolve_games(args.games)
    if not games:
        raise UsageError(f"--games {args.games!r} names no game; use 'paper' or envpool ids")
    if args.list:
        for g in games:
            print(f"{g:<20} {campaign.state_of(g, Path(args.models), Path(args.runs_dir))}")
        return 0
    outcome = campaign.run(games, args.config, args.models, args.runs_dir, args.episodes, args.commit,
                           tuple(args.set))
    failed = [g for g, o in outcome.items() if "failed" in o]
    return 1 if failed else 0


def _parser_campaign(sub) -> None:
    from snnjax.experiments import campaign

    cp = sub.add_parser("campaign", help="train and ship the next games without a shipped model "
                                         "(resumable; kill and rerun at any time)")
    cp.add_argument("--games", default="paper", help="'paper' (the 17 games of Table 1) or comma-separated ids")
    cp.add_argument("--config", default="configs/campaign.toml", help="the one recipe (default %(default)s)")
    cp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    cp.add_argument("--models", default="models", help="models folder (default %(default)s)")
    cp.add_argument("--runs-dir", default="runs/campaign", help="run folders (default %(default)s)")
    cp.add_argument("--episodes", type=int, default=_default(campaign.run, "episodes"),
                    help="evaluation episodes when shipping")
    cp.add_argument("--commit", action="store_true", help="git-commit each model as it ships")
    cp.add_argument("--list", action="store_true", help="only list each game's state")
    cp.set_defaults(func=cmd_campaign)


def _benchmarks_md(args) -> Path:
    """BENCHMARKS.md beside the report unless named: a run into another folder stays there."""
    return Path(args.benchmarks) if args.benchmarks else Path(args.out).parent / "BENCHMARKS.md"


DEFERRED = 3  # exit status of a run that left work undone because of --deadline


def parse_deadline(text: str | None) -> float | None:
    """--deadline as a time.time(): an ISO date and time (local time unless it names a zone), or
    HH:MM (the next such time, today or tomorrow)."""
    import datetime

    if text is None:
        return None
    now = datetime.datetime.now().astimezone()
    try:
        if len(text) <= 5 and ":" in text:
            h, m = (int(x) for x in text.split(":"))
            when = now.replace(hour=h, minute=m, second=0, microsecond=0)
            when += datetime.timedelta(days=1) if when <= now else datetime.timedelta()
        else:
            when = datetime.datetime.fromisoformat(text)
            when = when if when.tzinfo else when.astimezone()
    except ValueError:
        raise UsageError(f"--deadline must be HH:MM or an ISO date and time (2026-12-02T04:00), got {text!r}") from None
    return when.timestamp()


PAPER_ONLY = ("time_steps", "validation_episodes", "block", "figure1", "deadline", "status", "calibration_frames",
              "max_episode_steps", "side_by_side")  # `snnjax benchmark` options of --protocol paper alone


def cmd_benchmark(args) -> int:
    from snnjax.experiments import benchmark, campaign, protocol

    games = campaign.resolve_games(args.games)
    paper_only = [f"--{k.replace('_', '-')}" for k in PAPER_ONLY if getattr(args, k) not in (None, False)]
    if args.protocol != "paper" and paper_only:
        raise UsageError(f"{', '.join(paper_only)} only with --protocol paper (this run: --protocol {args.protocol})")
    if args.protocol == "paper":
        over = {k: v for k in ("episodes", "time_steps", "validation_episodes", "block", "calibration_frames",
                               "max_episode_steps")
                if (v := getattr(args, k)) is not None}
        proto = protocol.PaperProtocol(**over)
        results_dir = Path(args.results_dir or "results/paper_protocol")
        side = 1 if args.side_by_side is None else args.side_by_side
        if side < 1:
            raise UsageError(f"--side-by-side must be >= 1 (plays sharing the machine, this one included), got {side}")
        if args.status:
            left = protocol.remaining(results_dir, Path(args.models), proto, games, side_by_side=side)
            print(protocol.status_markdown(left, workers=side), end="")
            return 0
        write = functools.partial(protocol.write_report, Path(args.out), proto=proto, models_dir=Path(args.models),
                                   command=protocol.COMMAND, benchmarks=_benchmarks_md(args))

        def write_now():  # the report from everything stored, Figure 1 and its games in progress with it
            results, figs, _ = protocol.load(results_dir, proto)
            write(results, figs=figs, pending=protocol.figure1_pending(results_dir, proto),
                  figures=protocol.figure1_stored(results_dir))

        deadline = parse_deadline(args.deadline)
        deferred = []
        for g in games if args.figure1 != "only" else []:  # the report after every game: a kill leaves it current
            played = protocol.run([g], Path(args.models), results_dir, proto, overwrite=args.overwrite,
                                  progress=not args.no_progress, deadline=deadline, side_by_side=side)
            deferred += [g for g, r in played.items() if "deferred" in r]
            if played:
                write_now()
        if args.figure1:
            figs = protocol.figure1([g for g in protocol.FIGURE1_GAMES if g in games], Path(args.models), results_dir,
                                    Path(args.out).parent / "docs", proto, overwrite=args.overwrite,
                                    progress=not args.no_progress, deadline=deadline, side_by_side=side)
            deferred += [f"Figure 1 {g}" for g, f in figs.items() if "deferred" in f]
        write_now()
        print(f"wrote the paper-protocol section of {args.out}; per-game results in {results_dir}")
        if deferred:
            print(f"deferred (would not end before --deadline {args.deadline}): {', '.join(deferred)}; "
                  "run the command again to continue", file=sys.stderr)
            return DEFERRED
        return 0
    episodes = _default(benchmark.run, "episodes") if args.episodes is None else args.episodes
    if episodes < 2:
        raise UsageError(f"--episodes must be >= 2 (Welch's test needs two scores), got {episodes}")
    if not args.play_budget_s > 0:
        raise UsageError(f"--play-budget-s must be > 0, got {args.play_budget_s}")
    results_dir = args.results_dir or "results/benchmark"
    benchmark.run(games, Path(args.models), Path(results_dir), Path(args.out), episodes,
                  args.play_budget_s, progress=not args.no_progress, overwrite=args.overwrite,
                  benchmarks_md=_benchmarks_md(args))
    print(f"wrote the benchmark section of {args.out}; per-game results in {results_dir}")
    return 0


def cmd_report(args) -> int:
    from snnjax.experiments import results_report

    root = Path(args.root)
    if not (root / "results").is_dir() or not (root / "models").is_dir():
        raise UsageError(f"--root {str(root)!r} must hold results/ and models/ (the project folder)")
    out = results_report.write(root, Path(args.out) if args.out else None,
                               Path(args.benchmarks) if args.benchmarks else None)
    print(f"wrote {out} from {root / 'results'} and {root / 'models'}")
    return 0


def _parser_report(sub) -> None:
    rp = sub.add_parser("report", help="RESULTS.md regenerated whole from results/ and models/ (no play): the "
                                       "paper-protocol tables first, the deviations, the low-latency study, QCFS")
    rp.add_argument("--root", default=".", help="the project folder holding results/, models/, docs/ (default %(default)s)")
    rp.add_argument("--out", help="the report (default ROOT/RESULTS.md)")
    rp.add_argument("--benchmarks", help="file for the paper-protocol run's throughput (default ROOT/BENCHMARKS.md)")
    rp.set_defaults(func=cmd_report)


def _parser_benchmark(sub) -> None:
    from snnjax.experiments import benchmark
    from snnjax.experiments.protocol import PaperProtocol

    paper = PaperProtocol()
    bm = sub.add_parser("benchmark", help="the paper's Tables 1-2 and Figure 1 on every shipped game into "
                                          "RESULTS.md (resumable per game and stage)")
    bm.add_argument("--protocol", choices=("budget", "paper"), default="budget",
                    help="budget: T chosen per game by --play-budget-s, p = 99.9 (the low-latency study); paper: "
                         f"T = {paper.time_steps}, p in {list(paper.percentiles)} chosen on validation episodes, "
                         f"{paper.episodes} episodes, conversion rate over the SNN's own play")
    bm.add_argument("--games", default="paper", help="'paper' (the 17 games of Table 1) or comma-separated ids")
    bm.add_argument("--episodes", type=int, help=f"episodes per agent (default {_default(benchmark.run, 'episodes')}; "
                    f"--protocol paper: {paper.episodes})")
    bm.add_argument("--time-steps", "-T", type=int,
                    help=f"--protocol paper only: T (default {paper.time_steps}; another T is not the paper's protocol)")
    bm.add_argument("--validation-episodes", type=int,
                    help=f"--protocol paper only: episodes that choose the percentile (default {paper.validation_episodes})")
    bm.add_argument("--block", type=int, help=f"--protocol paper only: episodes stored together (default {paper.block})")
    bm.add_argument("--figure1", nargs="?", const="also", choices=("also", "only"),
                    help="--protocol paper only: also the paper's Figure 1 (Breakout, Jamesbond, StarGunner, "
                         "VideoPinball; T in 50..1000 at the game's p, p in 99..100 at T = 500; 10 episodes per point); "
                         "'--figure1 only': Figure 1 without the tables (a game's validation is played first if missing)")
    bm.add_argument("--deadline", help="--protocol paper only: HH:MM or an ISO date and time by which every play "
                                       "started must be over: a play (a validation, a block, a Figure 1 run) whose "
                                       "estimate from the plays stored so far would run past it is left for a later "
                                       f"run (exit status {DEFERRED}); the machine's sessions end on a clock")
    bm.add_argument("--status", action="store_true",
                    help="--protocol paper only: print what the stored run has left to play per game and its "
                         "estimated hours (from the plays stored so far), and play nothing")
    bm.add_argument("--side-by-side", type=int,
                    help="--protocol paper only: plays sharing this machine while this one runs, itself included "
                         "(default 1; evaluate/paper_protocol.sh passes its worker count): --deadline's and "
                         "--status's estimates scale the stored paces to it, and each play's timing records it")
    bm.add_argument("--calibration-frames", type=int,
                    help=f"--protocol paper only: normalization frames (default {paper.calibration_frames})")
    bm.add_argument("--max-episode-steps", type=int,
                    help=f"--protocol paper only: episode cap in agent steps (default {paper.max_episode_steps})")
    bm.add_argument("--play-budget-s", type=float, default=_default(benchmark.run, "play_budget_s"),
                    help="predicted play time per game and agent that picks T (default %(default)s s)")
    bm.add_argument("--models", default="models", help="folder of <game>.npz (default %(default)s)")
    bm.add_argument("--results-dir", help="per-game JSON (default results/benchmark; --protocol paper: "
                    "results/paper_protocol)")
    bm.add_argument("--out", default="RESULTS.md", help="report whose benchmark section is rewritten")
    bm.add_argument("--benchmarks", help="file that gets the run's training and evaluation throughput "
                                         "(default BENCHMARKS.md beside --out)")
    bm.add_argument("--overwrite", action="store_true", help="replace stored results made with other settings")
    _progress_flag(bm)
    bm.set_defaults(func=cmd_benchmark)


def cmd_bench(args) -> int:
    from snnjax.core import io, validate
    from snnjax.experiments.speed import run

    validate.time_steps(_ints(args.time_steps), "--time-steps")
    for name, text in (("--agents", args.agents), ("--episodes", args.episodes)):
        vals = _ints(text)
        if not vals:
            raise UsageError(f"{name} names no value")
        for v in vals:
            validate.count(v, name, 1, 4096)
    io.make_parent(io.check_writable(args.out, "--out"), "--out")
    md = run(args.out, _ints(args.time_steps), _ints(args.agents), _ints(args.episodes),
             update=not args.no_update, evaluation=not args.no_eval, note=args.note, dtype=args.dtype,
             section=args.section, peak_n=validate.count(args.peak_n, "--peak-n", 16, 8192))
    print(md)
    print(f"written to {args.out}")
    return 0


def _parser_bench(sub) -> None:
    from snnjax.experiments.speed import run

    b = sub.add_parser("bench", help="simulation speed vs matmul peak, update cost, evaluation throughput")
    csv = lambda name: ",".join(map(str, _default(run, name)))  # noqa: E731
    b.add_argument("--time-steps", "-T", default=csv("Ts"), help="T values")
    b.add_argument("--agents", default=csv("Bs"), help="batch sizes (agents) for the simulator")
    b.add_argument("--episodes", default=csv("Es"), help="parallel episodes for evaluation throughput")
    b.add_argument("--no-update", action="store_true", help="skip the training-update benchmark")
    b.add_argument("--no-eval", action="store_true", help="skip the evaluation-throughput benchmark")
    b.add_argument("--note", default="", help="free text for the table header (e.g. load on the machine)")
    b.add_argument("--dtype", default="default", choices=("default", "float32", "bfloat16"),
                   help="network arithmetic: default (int8 spike propagation, the weights factor), "
                        "float32 (the float32 path only), bfloat16 (bf16 matmuls, for accelerators)")
    b.add_argument("--peak-n", type=int, default=_default(run, "peak_n"),
                   help="matmul size n of the n x n x n peaks the fractions are measured against (default %(default)s)")
    b.add_argument("--section", default=_default(run, "section"), help="name of the BENCHMARKS.md section to (re)write")
    b.add_argument("--out", default="BENCHMARKS.md", help="Markdown file to write the tables into")
    b.set_defaults(func=cmd_bench)


def _eval_options(p: argparse.ArgumentParser, default_out: str) -> None:
    ev = _eval_defaults()
    p.add_argument("--checkpoint", help="Q-network .npz, a run folder, or a folder of <game>.npz (default: "
                   f"models/<game>.npz with --game, models/ with --games, else {DEFAULT_CHECKPOINT})")
    p.add_argument("--game", help="envpool id (default: the checkpoint's game)")
    p.add_argument("--games", help="several games, comma-separated; --checkpoint is then a folder of <game>.npz")
    p.add_argument("--config", help="TOML file of EvalConfig fields (e.g. configs/eval_paper.toml); flags win")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override an EvalConfig field (repeatable); flags win")
    p.add_argument("--episodes", type=int, help=f"episodes per agent, one per env (default {ev.episodes}; paper: 50)")
    p.add_argument("--readout", choices=("normal", "robust", "membrane"),
                   help=f"readout the SNN acts on (default {ev.readout}, eq. 17)")
    p.add_argument("--eps", type=float, help=f"evaluation epsilon (default {ev.eps})")
    p.add_argument("--max-episode-steps", type=int,
                   help=f"episode cap in agent steps (default {ev.max_episode_steps} = {4 * ev.max_episode_steps:,} "
                        "frames; the paper's code used 18000)")
    p.add_argument("--seed", type=int, help=f"evaluation seed range (default {ev.seed}; disjoint from training)")
    p.add_argument("--calibration-frames", type=int,
                   help=f"frames for the percentile normalization (default {ev.calibration_frames:,}; "
                        "paper: up to 15,000)")
    p.add_argument("--channelwise", action="store_true", help="one lambda per channel (Kim et al. 2020)")
    p.add_argument("--v-thr", type=float, help=f"threshold V_thr (default {ev.v_thr:g})")
    p.add_argument("--initial-potential", type=float,
                   help=f"V(0) in units of V_thr (default {ev.initial_potential:g}; 0.5 = V_thr/2, Bu et al. 2022)")
    p.add_argument("--input-encoding", choices=("constant", "if"),
                   help=f"constant current (paper) or IF-encoded input spikes (eq. 9-11); default {ev.input_encoding}")
    p.add_argument("--memo", action="store_true",
                   help="simulate an observation an agent meets again only once (the same episodes and numbers; "
                        "pays where screens repeat: 4.1x on Tennis at T = 500; a short run compiles more shapes)")
    p.add_argument("--out", default=default_out, help="results stem: STEM.json, STEM.csv and STEM.md are written "
                   "(a .json/.csv/.md suffix is dropped first)")
    p.add_argument("--overwrite", action="store_true", help="replace stored results made with other settings")
    p.add_argument("--qcfs", help="QCFS network of the game (`snnjax finetune`): play its conversion (threshold = "
                   "clip value, V(0) = V_thr/2) against the DQN of --checkpoint")
    d = p.add_argument_group("several processes (jax.distributed; see README)")
    d.add_argument("--distributed", action="store_true",
                   help="start jax.distributed; alone: JAX detects the cluster (TPU slice, SLURM)")
    d.add_argument("--coordinator", help="host:port of process 0 (omit on TPU/SLURM: detected)")
    d.add_argument("--num-processes", type=int, help="number of processes")
    d.add_argument("--process-id", type=int, help="this process's index in [0, num-processes)")
    _progress_flag(p)


def _progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", "--quiet", dest="no_progress", action="store_true",
                   help="no progress bars (also off when output is not a terminal)")


def _default(fn, name: str):
    """The default of parameter `name` of `fn`: each command's defaults are its function's (or
    config dataclass's), written once."""
    import inspect

    return inspect.signature(fn).parameters[name].default


COMMANDS = (_parser_train, _parser_evaluate, _parser_sweep, _parser_convert, _parser_export_nir, _parser_latency,
            _parser_finetune, _parser_import, _parser_ship, _parser_rescore, _parser_campaign, _parser_benchmark, _parser_report,
            _parser_bench)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnjax", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _known_errors() as exc:
        print(f"snnjax: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snnjax: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
