"""The paper's benchmark at the paper's protocol (Tan et al. 2021, Tables 1 and 2).

Per game, the shipped DQN and its SNNs at T = 500 for p = 99.9 AND p = 99.99, one population
beside the DQN (same env seeds, same exploration draws), the robust readout acting, 50 episodes
each; the conversion rate (eq. 18) of every readout counted per episode over the SNN's OWN play.
"The best percentile in [99.9, 99.99]" (Table 1) is chosen on separate validation episodes
(their own seed range), never on the episodes it is then scored on.

Resumable: `results/paper_protocol/<game>.json` gains the validation and then one block of
episodes at a time (each block its own run seed, so its env seeds and exploration keys are
disjoint from every other block's); a kill loses at most the block in flight, and everything
finished reruns in seconds. Settings (and the checkpoint's SHA-256) are part of the file: a
rerun with others is refused unless `overwrite`.

Statistics beside the paper's Welch t-test: an equivalence test (two one-sided Welch tests,
`stats.welch_tost`) whose margin is fixed before the run, as a fraction of the shipped DQN's
advantage over a random agent (both from the model's provenance, not from the run's episodes):
"the SNN keeps the DQN's advantage within that fraction". (A fraction of the paper's DQN-random
gap would exceed the whole advantage of our weaker DQNs, a test no converter could fail.) And a
95% bootstrap CI of SNN - DQN that resamples both agents' episodes. The margin is a reporting
choice, not part of a run's settings: the stored episodes do not depend on it.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from snnjax.conversion import methods
from snnjax.core import stats, validate
from snnjax.core.compile import machine_kind
from snnjax.core.io import check_writable, file_sha256, make_parent, read_json, resume_results, write_json
from snnjax.experiments import report
from snnjax.snn import readout as ro


@dataclasses.dataclass(frozen=True)
class PaperProtocol:
    """What the paper's tables are made with; `deviations` names any field changed from this."""

    time_steps: int = 500
    percentiles: tuple[float, ...] = (99.9, 99.99)
    episodes: int = 50  # per agent, scored
    block: int = 25  # episodes played (and stored) together: 2 SNNs x 25 fill the simulator's batch
    validation_episodes: int = 10  # per agent, only to choose the percentile
    readout: str = "robust"
    eps: float = 0.05
    max_episode_steps: int = 4500  # 18,000 frames
    calibration_frames: int = 15000
    seed: int = 0  # run seeds: test blocks seed .. seed + blocks - 1; validation VALIDATION_SEED + seed
    equivalence_margin: float = 0.25  # TOST margin, in units of (shipped DQN - random agent), provenance means

    def __post_init__(self):
        validate.time_steps(self.time_steps)
        validate.percentiles(self.percentiles)
        validate.count(self.episodes, "episodes", 2, validate.MAX_EPISODES)
        validate.count(self.block, "block", 1, validate.MAX_EPISODES)
        validate.count(self.validation_episodes, "validation episodes", 1, validate.MAX_EPISODES)
        validate.count(self.calibration_frames, "calibration frames", 1, validate.MAX_CALIBRATION_FRAMES)
        validate.count(self.max_episode_steps, "max episode steps", 1, validate.MAX_EPISODE_STEPS)
        if self.readout not in ro.READOUTS:
            raise validate.ValidationError(f"unknown readout {self.readout!r}; allowed: {', '.join(ro.READOUTS)}")
        validate.probability(self.eps, "eps")
        validate.positive(self.equivalence_margin, "equivalence margin")

    @property
    def blocks(self) -> list[int]:
        """Episodes of each block: full blocks, the remainder last."""
        n, rest = divmod(self.episodes, self.block)
        return [self.block] * n + ([rest] if rest else [])

    def deviations(self) -> dict:
        """Every setting that differs from the paper's protocol: {name: (ours, the paper's)}."""
        paper = PaperProtocol()
        keys = ("time_steps", "percentiles", "episodes", "readout", "eps", "max_episode_steps", "calibration_frames")
        return {k: (getattr(self, k), getattr(paper, k)) for k in keys if getattr(self, k) != getattr(paper, k)}


BEGIN, END = "<!-- paper-protocol:begin -->", "<!-- paper-protocol:end -->"
COMMAND = "snnjax benchmark --protocol paper"  # what plays the tables; with --figure1, Figure 1 too
FIGURE1_COMMAND = COMMAND + " --figure1"
VALIDATION_SEED = 1000  # validation episodes' run seed offset: disjoint from every test block's


def _eval_cfg(proto: PaperProtocol, episodes: int, seed: int):
    from snnjax.rl.config import EvalConfig

    return EvalConfig(time_steps=(proto.time_steps,), percentiles=tuple(proto.percentiles), episodes=episodes,
                      readout=proto.readout, eps=proto.eps, max_episode_steps=proto.max_episode_steps, seed=seed,
                      calibration_frames=proto.calibration_frames)


def _play(ann, snns, game: str, proto: PaperProtocol, episodes: int, seed: int, progress: bool,
          lengths: Sequence[float] = (), log=None, deadline: float | None = None, side_by_side: int = 1,
          env_range: tuple[int, int] | None = None) -> dict:
    """One population run: every SNN and the DQN on the same `episodes` envs of run seed `seed`.
    lengths: the DQN's episode lengths known so far (the progress bar's prior); log: where a play
    without a progress bar reports its progress (`play.progress_line`). Each observation an
    agent meets again is simulated once (`play.Memo`: the same episodes as without it).
    deadline: raises `play.PastDeadline` once the play's pace shows it would end later.
    side_by_side: plays sharing the machine with this one, itself included (stored in its timing).
    env_range: (lo, hi), only envs lo .. hi - 1 of the `episodes` (a part of a block, stored
    with "envs": [lo, hi]; `join_parts`)."""
    from snnjax.experiments.evaluation import evaluate

    res = evaluate(ann, snns, _eval_cfg(proto, episodes, seed), game, proto.time_steps, progress=progress,
                   expected_lengths=lengths, heartbeat=log, memo=True, deadline=deadline, env_range=env_range)
    part = {} if env_range is None else {"envs": [int(x) for x in env_range]}
    return {"seed": seed, **part,
            "snn": {str(p): {"scores": a["scores"], "lengths": a["lengths"], "decisions": a["decisions"],
                             "conversion_rate": {r: a["conversion_rate"][r] for r in ro.READOUTS}}
                    for p, a in zip(proto.percentiles, res["agents"])},
            "dqn": res["dqn"], "timing": dict(res["timing"], side_by_side=side_by_side)}


def _snn_decisions(run: dict) -> int:
    """Decisions of every SNN of one stored play (validation or block)."""
    return sum(sum(a["decisions"]) for a in run["snn"].values())


def _pace(run: dict) -> str:
    """How long a stored play took: wall minutes and SNN decisions/s (both SNNs; 1 / `pace_s`)."""
    per = pace_s([run])
    return f"{run['timing']['wall_s'] / 60:.1f} min, {1 / per if per else 0.0:.1f} SNN decisions/s"


def choose_percentile(validation: dict) -> float:
    """The percentile whose SNN scored highest on the validation episodes (ties: the first)."""
    means = {float(p): float(np.mean(v["scores"])) for p, v in validation["snn"].items()}
    return max(means, key=means.get)  # max keeps the first of equal means


def _calibrate(params, meta: dict, proto: PaperProtocol, percentiles: Sequence[float], progress: bool):
    """(the analog network, its layer statistics for every p of `percentiles`): the paper's
    normalization frames, the DQN's own play on the calibration seeds (`methods.Percentile`)."""
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.rl.play import collect_observations

    ann = from_qnetwork(params, meta)
    cal = collect_observations(ann, meta["env_id"], proto.calibration_frames, proto.seed, proto.eps,
                               max_episode_steps=proto.max_episode_steps, progress=progress)
    return ann, methods.Percentile().calibrate(ann, cal, percentiles)


REPORT_ONLY = ("equivalence_margin",)  # PaperProtocol fields that do not change what is played


def _played(settings: dict) -> dict:
    """`settings` without the reporting fields: what decides the episodes."""
    return {k: v for k, v in settings.items() if k not in REPORT_ONLY}


def run_settings(proto: PaperProtocol) -> dict:
    """What a stored run is made with: every field but the reporting ones (JSON types)."""
    return _played(dict(dataclasses.asdict(proto), percentiles=list(proto.percentiles)))


DEFAULT_PACE_S = 1 / 25  # seconds per SNN decision before any play is stored (T = 500, a CPU with int8 units, two processes)
ESTIMATE_SLACK = 1.1  # a play's estimate is scaled up by this before it is weighed against a deadline


def pace_s(plays: Sequence[dict], side_by_side: int | None = None) -> float | None:
    """Seconds per SNN decision over stored plays (validation or blocks, `_play`'s records); with
    `side_by_side`, what they predict for a play sharing this machine with that many plays (itself
    included): each play's wall time x `share_ratio` of its own count to `side_by_side`."""
    def wall_s(r: dict) -> float:
        if side_by_side is None:
            return r["timing"]["wall_s"]
        return r["timing"]["wall_s"] * share_ratio(played_side_by_side(r), side_by_side, play_machine(r))

    dec = sum(_snn_decisions(r) for r in plays)
    return sum(map(wall_s, plays)) / dec if dec else None


def stored_plays(res: dict) -> list[dict]:
    """Every play stored in one game's results: the validation, then the blocks (`block_plays`)."""
    return ([res["validation"]] if "validation" in res else []) + block_plays(res)


def block_plays(res: dict) -> list[dict]:
    """One game's test plays stored, each with its own timing (`timed`): its finished blocks (a
    block played in parts as its parts), then the parts of an unfinished one."""
    return timed(list(res.get("blocks", {}).values())) + [q for ps in res.get("parts", {}).values() for q in ps]


def timed(plays: Sequence[dict]) -> list[dict]:
    """The plays whose timing is their own: a block played in parts counts as its parts (each
    with its wall time, kind of machine and plays sharing it; `join_parts`)."""
    return [q for p in plays for q in p.get("parts", [p])]


MIN_PART_EPISODES = 5  # a block too long for the time left is played in parts of at least this many episodes per agent
PART_SLACK = 1.2  # a margin on a part's estimate (fewer envs: fewer simulator rows, fewer repeated screens); not measured


def parts_of(res: dict, k: int) -> list[dict]:
    """The parts of block k stored so far (consecutive env ranges from env 0; none once it is whole)."""
    return res.get("parts", {}).get(str(k), [])


def episodes_played(res: dict, k: int) -> int:
    """Episodes per agent of block k stored so far in parts (0 for a whole block or none)."""
    parts = parts_of(res, k)
    return parts[-1]["envs"][1] if parts else 0


def part_size(per_episode_s: float, episodes: int, deadline: float) -> int:
    """Episodes per agent of a part to play now: the most whose estimate (`per_episode_s` each,
    x ESTIMATE_SLACK x PART_SLACK) ends before `deadline`, fewer than `episodes` (all of them would
    not fit); 0 when that is under MIN_PART_EPISODES."""
    n = int((deadline - time.time()) // (ESTIMATE_SLACK * PART_SLACK * per_episode_s)) if per_episode_s > 0 else 0
    n = min(n, episodes - 1)
    return n if n >= MIN_PART_EPISODES else 0


def join_parts(parts: Sequence[dict]) -> dict:
    """One block from the `_play` records of its parts (env ranges lo .. hi - 1 from env 0 on, each
    starting where the one before ended): every per-episode list concatenated in env order, which
    is the block one play of all its envs stores (an env's game depends only on model, seed and env
    index, `play.play`); the parts kept in "parts" for their timings (`timed`), "timing" their sum."""
    ends = [0] + [p["envs"][1] for p in parts]
    if [p["envs"][0] for p in parts] != ends[:-1] or any(p["seed"] != parts[0]["seed"] for p in parts):
        raise validate.ValidationError(f"parts {[p['envs'] for p in parts]} are not consecutive env ranges of one "
                                       "block from env 0")

    def cat(get) -> list:
        return [x for p in parts for x in get(p)]

    first = parts[0]
    snn = {q: {key: cat(lambda p, q=q, key=key: p["snn"][q][key]) for key in ("scores", "lengths", "decisions")}
           for q in first["snn"]}
    for q in snn:
        snn[q]["conversion_rate"] = {r: cat(lambda p, q=q, r=r: p["snn"][q]["conversion_rate"][r])
                                     for r in first["snn"][q]["conversion_rate"]}
    return {"seed": first["seed"], "snn": snn, "dqn": {key: cat(lambda p, key=key: p["dqn"][key]) for key in first["dqn"]},
            "timing": {"wall_s": sum(p["timing"]["wall_s"] for p in parts)}, "parts": list(parts)}


UNTAGGED_MACHINE = "cpu:int8"  # plays stored before timings named their machine: all on CPUs with int8 units
# Seconds per SNN decision at T = 500 on a machine kind no stored play was made on yet, measured:
# "cpu:float32" (AVX2 only; int8 kernels summed in float32), two processes sharing 2 cores
# (evaluate/paper_protocol.sh), 2 SNNs x 25 envs: bench/arithmetic.py's 8.9 decisions/s for one
# process alone, about 5 each for two (Figure 1's runs there, 10 episodes: 1.9-2.0 SNN decisions/s at T = 1000).
MEASURED_PACE_S = {"cpu:float32": 1 / 5}


# Cores one play of the paper's protocol uses when it has a 2-core CPU to itself, measured: on the
# AVX2-only kind StarGunner's block alone ran at 173% CPU and 11.4 agent decisions/s (5.5-6.4 beside
# another play); on the kind with int8 units about 1.2 cores (`evaluate/paper_protocol.sh`).
SOLO_CORES = {"cpu:float32": 1.7, "cpu:int8": 1.2}
UNTAGGED_SIDE_BY_SIDE = 2  # plays stored before timings said so: evaluate/paper_protocol.sh's two workers


def machine_share(side_by_side: int, machine: str) -> float:
    """The part of the machine one play gets while `side_by_side` plays (itself included) share
    it: on a CPU kind of SOLO_CORES, min(SOLO_CORES, cores / side_by_side) cores (this machine's
    core count), elsewhere 1 / side_by_side of it. Paces measured at one count are scaled to
    another by the ratio of their shares (`share_ratio`)."""
    if machine in SOLO_CORES:
        return min(SOLO_CORES[machine], (os.cpu_count() or 1) / side_by_side)
    return 1 / side_by_side


def share_ratio(measured: int, now: int, machine: str) -> float:
    """What a pace measured with `measured` plays sharing the machine is multiplied by for a play
    sharing it with `now` (both counts include the play): the ratio of their `machine_share`s."""
    return machine_share(measured, machine) / machine_share(now, machine)


def played_side_by_side(run: dict) -> int:
    """How many plays shared the machine with a stored play, itself included (UNTAGGED_SIDE_BY_SIDE
    if its timing does not say)."""
    return int(run["timing"].get("side_by_side", UNTAGGED_SIDE_BY_SIDE))


def play_machine(run: dict) -> str:
    """The kind of machine a stored play ran on (`compile.machine_kind`; UNTAGGED_MACHINE if its
    timing does not say)."""
    return run["timing"].get("machine", UNTAGGED_MACHINE)


def paces(results: dict[str, dict], machine: str | None = None, side_by_side: int = 1) -> dict[str, float | None]:
    """Seconds per SNN decision of every stored validation and of every stored block, apart (a
    validation's 10 episodes fill fewer simulator rows than a block's 25, at a slower pace), over
    the plays made on `machine` (default: this one's kind, `compile.machine_kind`); where none
    was, MEASURED_PACE_S of the machine kind (measured two plays at a time), else every play's: a
    machine without int8 units runs a decision several times as long as one with them. Each for a
    play sharing the machine with `side_by_side` plays, itself included (`pace_s`)."""
    machine = machine or machine_kind()
    plays = {"validation": [r["validation"] for r in results.values() if "validation" in r],
             "block": [b for r in results.values() for b in block_plays(r)]}
    measured = MEASURED_PACE_S.get(machine)
    if measured:
        measured *= share_ratio(UNTAGGED_SIDE_BY_SIDE, side_by_side, machine)
    return {k: pace_s([p for p in ps if play_machine(p) == machine], side_by_side) or measured
            or pace_s(ps, side_by_side) for k, ps in plays.items()}


def game_pace(res: dict, kind: str, run_pace: dict | None, machine: str | None = None,
              side_by_side: int = 1) -> float | None:
    """Seconds per SNN decision that one game's next play of `kind` ("validation" or "block") is
    estimated with: the pace of the game's own blocks on `machine` (a block only; default this
    machine's kind), else of its own validation there, else the run's pace of that kind (`paces`:
    this machine's kind first; None without one), else the game's own plays on other machines.
    A game's own plays come first: the run's block pace mixes games whose episodes all run to the
    cap (full batches) or whose screens repeat (`play.Memo`) with games that have neither
    (0.013-0.044 s per SNN decision across the games' blocks measured on one machine); a
    validation (10 episodes, fewer rows) runs at the slower end. The deadline (`run_game`) and
    `remaining` both use it. For a play sharing the machine with `side_by_side` plays, itself
    included (`pace_s`; `run_pace` must be `paces` for the same count)."""
    machine = machine or machine_kind()
    own = [block_plays(res)] if kind == "block" else []
    own += [[res["validation"]]] if "validation" in res else []
    here = [[p for p in ps if play_machine(p) == machine] for ps in own]
    shared = functools.partial(pace_s, side_by_side=side_by_side)
    return (next((p for p in map(shared, here) if p), None) or (run_pace or {}).get(kind)
            or next((p for p in map(shared, own) if p), None))


def estimate_s(lengths: Sequence[float], episodes: int, agents: int, max_episode_steps: int, pace: float | None,
               t_ratio: float = 1.0) -> float:
    """Predicted wall seconds of one play of `episodes` episodes by `agents` SNNs beside the DQN:
    their decisions (episodes x the mean of `lengths`, episode lengths seen so far, capped at
    `max_episode_steps`; the cap without any) x `pace` seconds per decision (DEFAULT_PACE_S
    without one) x t_ratio (T over the T the pace was measured at)."""
    mean_len = min(float(np.mean(lengths)), max_episode_steps) if len(lengths) else max_episode_steps
    return agents * episodes * mean_len * (pace or DEFAULT_PACE_S) * t_ratio


def episode_lengths(plays: Sequence[dict], model: Path) -> list[float]:
    """The DQN's episode lengths in a game's stored `plays`, else in the shipped model's evaluation
    (`models/<game>.json`; none without it): what a play's estimate is made from."""
    seen = [n for r in plays for n in r["dqn"]["lengths"]]
    prov = model.with_suffix(".json")
    if seen or not prov.is_file():
        return seen
    return read_json(prov, "model provenance file", key="evaluation")["evaluation"]["lengths"]


def over_deadline(estimate: float, deadline: float | None) -> str | None:
    """Why a play of `estimate` seconds (x ESTIMATE_SLACK) is not started before `deadline`
    (a `time.time()`), or None when it fits or there is no deadline."""
    if deadline is None:
        return None
    est, left = ESTIMATE_SLACK * estimate, deadline - time.time()
    return None if est <= left else f"about {est / 60:.0f} min, {max(left, 0) / 60:.0f} min left before the deadline"


def run_game(model: Path, out: Path, proto: PaperProtocol, overwrite: bool = False, progress: bool = True,
             log=print, validation_only: bool = False, deadline: float | None = None, pace: dict | None = None,
             side_by_side: int = 1) -> dict:
    """The protocol for one Q-network file; results (and progress) in `out` (JSON).
    validation_only: stop once the percentile is chosen (what Figure 1 needs first).
    deadline: a `time.time()` by which every play started must be over: a play whose estimate
    (`estimate_s` x ESTIMATE_SLACK; episode lengths of this game's plays, else of its shipped
    DQN's evaluation; `game_pace`, with `pace` (`paces` of the other games) as its fallback) would
    run past it is not started, and the game is left unfinished (`res["deferred"]` says which play
    and why; not stored): a block cut off by the deadline would be lost whole. A block (or what is
    left of it) too long for the time left is played in a part that fits (`part_size`: its next
    envs, at least MIN_PART_EPISODES per agent), stored in `res["parts"]`; a later run plays the
    rest, and the last part makes it a block (`join_parts`: the same episodes as one play). A play that was
    started but whose pace shows it would end after the deadline (a slower machine than the
    stored plays') stops early (`play.PastDeadline`), deferred the same way.
    side_by_side: plays sharing the machine with this run's, its own included (the estimates'
    `game_pace` and `pace` are for that count; each play's timing records it)."""
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import PastDeadline

    params, meta = load_qnetwork(model)
    game = meta["env_id"]
    settings = dict(run_settings(proto), game=game, checkpoint_sha256=file_sha256(model))
    res = resume_results(out, settings, overwrite, "a paper-protocol run", warn=log,
                         stored=lambda r: _played(r["settings"])) \
        or {"settings": settings}
    make_parent(check_writable(out, "results"), "results")
    res.setdefault("blocks", {})
    if finished(res, proto) or (validation_only and "validation" in res):
        return res
    def fitting(what: str, episodes: int, say: bool = True) -> int:  # episodes per agent now (0: deferred)
        kind = "validation" if what == "validation" else "block"
        lengths = episode_lengths(stored_plays(res), model)
        paced = game_pace(res, kind, pace, side_by_side=side_by_side)
        one = functools.partial(estimate_s, lengths, agents=len(proto.percentiles),
                                max_episode_steps=proto.max_episode_steps, pace=paced)
        why = over_deadline(one(episodes), deadline)
        if why is None:
            return episodes
        n = part_size(one(1), episodes, deadline) if kind == "block" else 0
        if n:
            if say:
                log(f"{game}: {what}: {why}: {n} of its {episodes} episodes per agent now (a later run plays the rest)")
            return n
        res["deferred"] = f"{what}: {why}"
        log(f"{game}: {res['deferred']}; not started (a later run plays it)")
        return 0

    def block_name(k: int) -> str:
        lo = episodes_played(res, k)
        return f"block {k + 1}" + (f", episodes {lo + 1}-{proto.blocks[k]}" if lo else "")

    todo = [("validation", proto.validation_episodes)] if "validation" not in res else []
    todo += [] if validation_only else [(block_name(k), n - episodes_played(res, k))
                                        for k, n in enumerate(proto.blocks) if str(k) not in res["blocks"]]
    if not fitting(*todo[0], say=False):  # before calibrating: nothing of this game fits (the loop says which part)
        return res
    t0 = time.perf_counter()
    ann, cal_stats = _calibrate(params, meta, proto, proto.percentiles, progress)  # one pass serves both p
    snns = [methods.Percentile().build(ann, cal_stats, p) for p in proto.percentiles]
    log(f"{game}: calibrated on {proto.calibration_frames} frames ({time.perf_counter() - t0:.0f} s)")
    def stopped(what: str, exc: PastDeadline) -> dict:
        res["deferred"] = f"{what}: {exc}"
        log(f"{game}: {res['deferred']} (a later run plays it)")
        return res

    if "validation" not in res:
        log(f"{game}: validation, {proto.validation_episodes} episodes per percentile at T = {proto.time_steps}")
        try:
            res["validation"] = _play(ann, snns, game, proto, proto.validation_episodes, VALIDATION_SEED + proto.seed,
                                      progress, episode_lengths([], model), log, deadline, side_by_side)
        except PastDeadline as exc:
            return stopped("validation", exc)
        res["validation"]["best_percentile"] = choose_percentile(res["validation"])
        write_json(out, res)
        log(f"{game}: p = {res['validation']['best_percentile']} chosen; {_pace(res['validation'])}")
    for k, n in enumerate([] if validation_only else proto.blocks):
        while str(k) not in res["blocks"]:
            lo = episodes_played(res, k)
            take = fitting(block_name(k), n - lo)
            if not take:
                return res
            whole = (lo, lo + take) == (0, n)
            envs = "" if whole else f", episodes {lo + 1}-{lo + take} now"
            log(f"{game}: block {k + 1}/{len(proto.blocks)} ({n} episodes per agent{envs}, T = {proto.time_steps})")
            try:
                run = _play(ann, snns, game, proto, n, proto.seed + k, progress, episode_lengths(stored_plays(res), model),
                            log, deadline, side_by_side, env_range=None if whole else (lo, lo + take))
            except PastDeadline as exc:
                return stopped(block_name(k), exc)
            if whole:
                res["blocks"][str(k)] = run
            elif lo + take < n:
                res.setdefault("parts", {})[str(k)] = parts_of(res, k) + [run]
            else:
                res["blocks"][str(k)] = join_parts(parts_of(res, k) + [run])
                del res["parts"][str(k)]
                if not res["parts"]:
                    del res["parts"]
            write_json(out, res)
            part = "" if whole else f", episodes {lo + 1}-{lo + take} of {n}"  # this play's, with its pace
            done = ", the block complete" if part and str(k) in res["blocks"] else ""
            log(f"{game}: block {k + 1}{part} stored{done}; {_pace(run)}")
    return res


def finished(res: dict, proto: PaperProtocol) -> bool:
    return "validation" in res and all(str(k) in res.get("blocks", {}) for k in range(len(proto.blocks)))


def pooled(res: dict) -> dict:
    """Every finished block's episodes concatenated: {"dqn": scores, "snn": {p: {"scores", "cr_<r>"}}}."""
    blocks = [res["blocks"][k] for k in sorted(res.get("blocks", {}), key=int)]
    out = {"dqn": [s for b in blocks for s in b["dqn"]["scores"]], "snn": {}}
    for p in res["settings"]["percentiles"]:
        agent = {"scores": [s for b in blocks for s in b["snn"][str(p)]["scores"]]}
        for r in ro.READOUTS:
            agent[f"cr_{r}"] = [c for b in blocks for c in b["snn"][str(p)]["conversion_rate"][r]]
        out["snn"][str(p)] = agent
    return out


def summary(res: dict, random_mean: float | None, paper_dqn: float | None, dqn_before: float | None = None,
            margin: float = PaperProtocol.equivalence_margin) -> dict:
    """Table 1 (the validation-chosen percentile) and Table 2 (every percentile) for one game;
    both empty until a test block is stored."""
    best = res.get("validation", {}).get("best_percentile")
    if not res.get("blocks"):
        return {"best_percentile": best, "table2": {}, "table1": None}
    pool = pooled(res)
    dqn = pool["dqn"]
    # the TOST margin: `margin` x the shipped DQN's advantage over random (known before the run)
    scale = (dqn_before - random_mean) if dqn_before is not None and random_mean is not None else float("nan")
    rows = {}
    dm, ds = stats.mean_std(dqn)
    for p, a in pool["snn"].items():
        sm, ss = stats.mean_std(a["scores"])
        diff, lo, hi = stats.mean_diff_ci(a["scores"], dqn)
        rows[p] = {"episodes": len(a["scores"]), "dqn_mean": dm, "dqn_std": ds, "snn_mean": sm, "snn_std": ss,
                   "snn_pct_of_dqn": stats.pct_of(sm, dm),
                   "normalized_difference": (stats.normalized_difference(sm, dm, random_mean, paper_dqn)
                                             if random_mean is not None and paper_dqn is not None else float("nan")),
                   "p_value": stats.welch_p(a["scores"], dqn),
                   "tost_margin": margin * scale if scale > 0 else float("nan"),
                   "tost_p": stats.welch_tost(a["scores"], dqn, margin * scale) if scale > 0 else float("nan"),
                   "diff": diff, "diff_low": lo, "diff_high": hi}
        for r in ro.READOUTS:
            rows[p][f"cr_{r}"], rows[p][f"cr_{r}_std"] = stats.mean_std(a[f"cr_{r}"])
    return {"best_percentile": best, "table2": rows, "table1": rows.get(str(best)) if best is not None else None}


def run(games: Sequence[str], models_dir: Path, results_dir: Path, proto: PaperProtocol, overwrite: bool = False,
        progress: bool = True, log=functools.partial(print, flush=True), deadline: float | None = None,
        side_by_side: int = 1) -> dict[str, dict]:
    """The protocol on every game with a shipped model, in order; returns each game's results.
    deadline, side_by_side: see `run_game` (a game whose next play would not end by then is skipped)."""
    results = {}
    for g in games:
        model = models_dir / f"{g}.npz"
        if model.is_file():
            pace = paces(load(results_dir, proto)[0], side_by_side=side_by_side) if deadline is not None else None
            results[g] = run_game(model, results_dir / f"{g}.json", proto, overwrite, progress, log,
                                  deadline=deadline, pace=pace, side_by_side=side_by_side)
    return results


def markdown(results: dict[str, dict], proto: PaperProtocol, random: dict[str, float],
             dqn_before: dict[str, float] | None = None) -> str:
    """Tables 1 and 2 with the paper's figures beside ours, and the protocol's deviations."""
    t1, t2 = report.paper_table(1), report.paper_table(2)
    order = {g: i for i, g in enumerate(t1)}  # rows in the paper's order, whatever order the games ran in
    results = dict(sorted(results.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    pf = lambda x: stats.fmt(x, ".1f")  # noqa: E731
    lines = ["### Table 1: DQN and SNN scores (T = %d, robust readout, best percentile chosen on %d validation "
             "episodes)" % (proto.time_steps, proto.validation_episodes), "",
             "| Game | DQN (ours) | SNN (ours) | p | % DQN | (SNN - DQN) / (paper DQN - random) | 95% CI of SNN - DQN "
             "| Welch p | TOST p | paper DQN | paper SNN |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    dqn_before = dqn_before or {}
    sums = {g: summary(res, random.get(g), float(t1[g]["dqn_mean"]) if g in t1 else None, dqn_before.get(g),
                       proto.equivalence_margin)
            for g, res in results.items()}  # each bootstraps its CIs: once per game
    done = [g for g in sums if finished(results[g], proto)]
    name = {g: g if g in done else f"{g} ({sums[g]['table2'][next(iter(sums[g]['table2']))]['episodes']} of "
            f"{proto.episodes} episodes so far)" for g in sums if sums[g]["table2"]}
    for g in [*t1, *(g for g in sums if g not in t1)]:
        r = sums[g]["table1"] if g in sums else None
        if r is None:
            best = sums[g]["best_percentile"] if g in sums else None
            state = "not yet" if best is None else f"in progress (validation chose p = {best})"
            lines.append(f"| {g} | {state} | | | | | | | | | |")
            continue
        lines.append(f"| {name[g]} | {stats.fmt_pm(r['dqn_mean'], r['dqn_std'])} | {stats.fmt_pm(r['snn_mean'], r['snn_std'])} "
                     f"| {sums[g]['best_percentile']} | {pf(r['snn_pct_of_dqn'])} | {stats.fmt(r['normalized_difference'], '+.3f')} "
                     f"| {pf(r['diff_low'])} .. {pf(r['diff_high'])} | {stats.fmt(r['p_value'], '.3f')} "
                     f"| {stats.fmt(r['tost_p'], '.3f')} | {t1[g]['dqn_mean'] if g in t1 else 'n/a'} "
                     f"| {t1[g]['snn_mean'] if g in t1 else 'n/a'} |")
    lines += ["", *across_games({g: sums[g] for g in done}, {g: pooled(results[g]) for g in done}, random,
                                proto.equivalence_margin)]
    in_parts = [f"{g} block {int(k) + 1} ({len(b['parts'])} parts)" for g, r in results.items()
                for k, b in sorted(r.get("blocks", {}).items()) if "parts" in b]
    parts = (f"; played in parts before a deadline, the same episodes as one play: {', '.join(in_parts)}"
             if in_parts else "")
    lines += ["", f"Episodes per agent: {proto.episodes} (in blocks of {proto.block}{parts}); TOST margin: "
              f"{proto.equivalence_margin} x (our DQN - our random agent), both means from the shipped model's "
              "provenance (20 episodes each, `models/`), so fixed before the run; TOST p < 0.05: the SNN is within "
              "that margin of its DQN. n/a where the DQN does not beat the random agent.", "",
              "### Table 2: SNN score and conversion rate (%) per percentile, over the SNN's own episodes", "",
              "| Game | p | SNN (ours) | CR normal | CR robust | paper SNN | paper CR normal | paper CR robust |",
              "|---|---|---|---|---|---|---|---|"]
    for g, s in sums.items():
        for p, r in s["table2"].items():
            key = {"99.9": "p999", "99.99": "p9999"}.get(p)
            paper = t2.get(g, {}) if key else {}
            lines.append(f"| {name[g]} | {p} | {stats.fmt_pm(r['snn_mean'], r['snn_std'])} "
                         f"| {stats.fmt_pm(100 * r['cr_normal'], 100 * r['cr_normal_std'])} "
                         f"| {stats.fmt_pm(100 * r['cr_robust'], 100 * r['cr_robust_std'])} "
                         f"| {paper.get(f'{key}_snn_mean', 'n/a')} | {paper.get(f'{key}_cr_normal', 'n/a')} "
                         f"| {paper.get(f'{key}_cr_robust', 'n/a')} |")
    dev = proto.deviations()
    if dev:
        lines += ["", "**Not the paper's protocol**: " + "; ".join(f"{k} {ours} (paper: {paper})"
                                                                  for k, (ours, paper) in dev.items()) + "."]
    return "\n".join(lines) + "\n"


def across_games(sums: dict[str, dict], pools: dict[str, dict], random: dict[str, float], margin: float) -> list[str]:
    """RESULTS.md's lines on the finished games together: how many are equivalent (TOST) or differ
    (Welch) at 5%, and the IQM of the normalized SNN score with its 95% CI and its 90% CI, the
    interval of a TOST at 5%: the SNNs match their DQNs across games within the margin when the
    90% CI lies inside 1 -/+ margin (the margin in the same units: the DQN's advantage over random)."""
    rows = [s["table1"] for s in sums.values()]
    tested = [r for r in rows if not stats.missing(r["tost_p"])]
    chosen = {g: str(s["best_percentile"]) for g, s in sums.items() if g in random}
    snn = {g: pools[g]["snn"][p]["scores"] for g, p in chosen.items()}
    dqn = {g: pools[g]["dqn"] for g in chosen}
    iqm, lo, hi = stats.paired_iqm_ci(snn, dqn, random)
    _, lo90, hi90 = stats.paired_iqm_ci(snn, dqn, random, alpha=0.10)
    inside = not stats.missing(lo90) and 1 - margin < lo90 and hi90 < 1 + margin
    return [f"Finished games: {len(rows)}. Welch p < 0.05 (the SNN scores differently from its DQN) on "
            f"{sum(r['p_value'] < 0.05 for r in rows)} of {len(rows)}; TOST p < 0.05 (equivalent within the "
            f"margin) on {sum(r['tost_p'] < 0.05 for r in tested)} of the {len(tested)} whose DQN beats the random "
            f"agent (the margin needs it).", "",
            f"IQM across the finished games of the SNN score normalized by its DQN, (SNN - random) / (DQN - "
            f"random) per episode, games whose DQN beats random: {stats.fmt(iqm, '.3f')} (95% CI "
            f"{stats.fmt(lo, '.3f')} .. {stats.fmt(hi, '.3f')}; 90% CI {stats.fmt(lo90, '.3f')} .. "
            f"{stats.fmt(hi90, '.3f')}, resampling both agents' episodes); 1.0 is the DQN's level. Across games "
            f"the SNNs are {'' if inside else 'not shown to be '}equivalent to their DQNs within 1 -/+ {margin} "
            f"(the 90% CI, a TOST at 5%, {'lies' if inside else 'does not lie'} inside it)."]


FIGURE1_GAMES = ("Breakout-v5", "Jamesbond-v5", "StarGunner-v5", "VideoPinball-v5")
FIGURE1_T = (50, 100, 200, 500, 1000)
FIGURE1_P = (99.0, 99.9, 99.99, 99.999, 100.0)
FIGURE1_EPISODES = 10


def figure1_game(model: Path, out: Path, proto: PaperProtocol, percentile: float, episodes: int = FIGURE1_EPISODES,
                 time_steps: Sequence[int] = FIGURE1_T, percentiles: Sequence[float] = FIGURE1_P,
                 overwrite: bool = False, progress: bool = True, log=print, deadline: float | None = None,
                 plays: Sequence[dict] = (), pace: float | None = None, side_by_side: int = 1) -> dict:
    """The paper's Figure 1 for one game: score and conversion rate against T at the game's
    `percentile` (one run per T: that SNN beside the DQN), and against p at T = proto.time_steps
    (one run: every percentile's SNN beside the DQN), `episodes` each, test seeds of `proto`.

    Stored in the sweep's results format ({"games": {game: {"runs": {T: {"agents": {p: ...},
    "dqn": ...}}}}}), so `plots.figure1` draws it; resumable per run. deadline: as in `run_game`,
    per run, from the episode lengths of the game's protocol `plays` and `pace` seconds per
    decision (a validation's: 10 episodes per agent, as here, for `side_by_side` plays sharing the
    machine, this one included; each run's timing records the count); a run whose pace shows it
    would end later stops early (`play.PastDeadline`)."""
    from snnjax.experiments.evaluation import evaluate
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import PastDeadline

    params, meta = load_qnetwork(model)
    game = meta["env_id"]
    percentiles = [float(p) for p in validate.percentiles(percentiles)]
    time_steps = validate.time_steps(time_steps)
    settings = {"game": game, "checkpoint_sha256": file_sha256(model), "percentile": float(percentile),
                "episodes": episodes, "time_steps": time_steps, "percentiles": percentiles,
                "readout": proto.readout, "eps": proto.eps, "max_episode_steps": proto.max_episode_steps,
                "calibration_frames": proto.calibration_frames, "seed": proto.seed, "p_sweep_t": proto.time_steps}
    res = resume_results(out, settings, overwrite, "a Figure 1 run", warn=log) or {"settings": settings}
    make_parent(check_writable(out, "results"), "results")
    runs = res.setdefault("games", {}).setdefault(game, {"runs": {}})["runs"]
    todo = [(t, [float(percentile)]) for t in time_steps if t != proto.time_steps]
    todo.append((proto.time_steps, sorted(set(percentiles) | {float(percentile)})))
    todo = [(t, ps) for t, ps in todo if str(t) not in runs]
    lengths = episode_lengths(plays, model)

    def too_long(t: int, ps: list[float]) -> bool:
        why = over_deadline(estimate_s(lengths, episodes, len(ps), proto.max_episode_steps, pace,
                                       t / proto.time_steps), deadline)
        if why:
            res["deferred"] = f"Figure 1, T = {t}: {why}"
            log(f"{game}: {res['deferred']}; not started (a later run plays it)")
        return why is not None

    method, cfg, calibrated = methods.Percentile(), _eval_cfg(proto, episodes, proto.seed), None
    for t, ps in todo:
        if too_long(t, ps):
            return res
        if calibrated is None:  # once, and only for a run that is started
            calibrated = _calibrate(params, meta, proto, percentiles + [float(percentile)], progress)
        ann, cal_stats = calibrated
        log(f"{game}: Figure 1, T = {t}, p = {', '.join(map(str, ps))} ({episodes} episodes)")
        try:
            r = evaluate(ann, [method.build(ann, cal_stats, p) for p in ps], cfg, game, t, progress=progress,
                         expected_lengths=lengths, heartbeat=log, memo=True, deadline=deadline)
        except PastDeadline as exc:
            res["deferred"] = f"Figure 1, T = {t}: {exc}"
            log(f"{game}: {res['deferred']} (a later run plays it)")
            return res
        runs[str(t)] = {"agents": {str(p): {"scores": a["scores"], "lengths": a["lengths"],
                                            "conversion_rate": a["conversion_rate"]} for p, a in zip(ps, r["agents"])},
                        "dqn": r["dqn"], "timing": dict(r["timing"], side_by_side=side_by_side)}
        write_json(out, res)
    return res


def figure1(games: Sequence[str], models_dir: Path, results_dir: Path, docs: Path, proto: PaperProtocol,
            episodes: int = FIGURE1_EPISODES, overwrite: bool = False, progress: bool = True,
            log=functools.partial(print, flush=True), deadline: float | None = None,
            side_by_side: int = 1) -> dict[str, dict]:
    """Figure 1 for every game of `games` with a shipped model: the percentile chosen on the
    protocol's validation episodes (played first if missing), then `figure1_game`; PNGs into
    `docs` (`plots.figure1`) once a game's runs are complete. deadline, side_by_side: see `run_game`.
    Returns {game: {"json", "png", "percentile", "pearson_t", "pearson_p"}} of the complete ones,
    and {game: {"deferred": why}} of the others."""
    from snnjax.experiments import plots

    out = {}
    for g in games:
        model = models_dir / f"{g}.npz"
        if not model.is_file():
            continue
        pace = paces(load(results_dir, proto)[0], side_by_side=side_by_side)
        val = run_game(model, results_dir / f"{g}.json", proto, overwrite, progress, log, validation_only=True,
                       deadline=deadline, pace=pace, side_by_side=side_by_side)
        if "validation" not in val:
            out[g] = {"deferred": val["deferred"]}
            continue
        p = val["validation"]["best_percentile"]
        path = results_dir / f"figure1_{g}.json"
        res = figure1_game(model, path, proto, p, episodes, overwrite=overwrite, progress=progress, log=log,
                           deadline=deadline, plays=stored_plays(val), pace=pace["validation"],
                           side_by_side=side_by_side)
        if "deferred" in res:
            out[g] = {"deferred": res["deferred"]}
            continue
        docs.mkdir(parents=True, exist_ok=True)
        plots.figure1(path, out=docs / "paper_figure1")  # docs/paper_figure1_<game>.png
        out[g] = dict(figure1_summary(res, g), json=str(path))
    return out


def figure1_complete(res: dict, game: str) -> bool:
    """Whether a stored Figure 1 run holds every T of its settings and the p sweep."""
    st, runs = res["settings"], res.get("games", {}).get(game, {}).get("runs", {})
    return {str(t) for t in [*st["time_steps"], st["p_sweep_t"]]} <= set(runs)


def figure1_summary(res: dict, game: str) -> dict:
    """What RESULTS.md says of one stored Figure 1 run (`figure1_game`'s JSON): the game's
    percentile, the PNG, the mean conversion rate at each T (ascending, at the game's percentile)
    and at each p of the sweep (ascending, at T = p_sweep_t), and Pearson r of mean score against
    mean conversion rate per panel."""
    st = res["settings"]
    runs, r, p = res["games"][game]["runs"], st["readout"], st["percentile"]
    p_run = runs.get(str(st["p_sweep_t"]), {}).get("agents", {})
    ts, ps = sorted(runs, key=int), sorted(p_run, key=float)
    point = lambda a: (np.mean(a["scores"]), np.mean(a["conversion_rate"][r]))  # noqa: E731
    t_pts = [point(runs[t]["agents"][str(float(p))]) for t in ts]
    p_pts = [point(p_run[k]) for k in ps]
    pearson = lambda pts: stats.pearson_r(*zip(*pts)) if len(pts) >= 2 else float("nan")  # noqa: E731
    return {"png": f"docs/paper_figure1_{game}.png", "percentile": p, "p_sweep_t": st["p_sweep_t"],
            "episodes": st["episodes"], "readout": r, "pearson_t": pearson(t_pts), "pearson_p": pearson(p_pts),
            "time_steps": [int(t) for t in ts], "cr_t": [float(c) for _, c in t_pts],
            "percentiles": [float(k) for k in ps], "cr_p": [float(c) for _, c in p_pts]}


def figure1_markdown(figs: dict[str, dict], pending: dict[str, str] | None = None) -> str:
    """RESULTS.md's Figure 1: the drawn games' Pearson r and PNGs (`figs`, as `load`), and the
    games whose runs are not all played yet ({game: "k of n runs"}, as `figure1_pending`)."""
    lines = ["### Figure 1: score and conversion rate against T and against p", ""]
    if figs:
        first = next(iter(figs.values()))
        lines += [f"Played by `{FIGURE1_COMMAND}`, {first['episodes']} episodes per point; left panel at the game's "
                  f"percentile (chosen on validation episodes), right panel at T = {first['p_sweep_t']}. Pearson r of "
                  "the mean SNN score against the mean conversion rate, and the mean conversion rate "
                  f"({first['readout']} readout, %) at T = {', '.join(map(str, first['time_steps']))} and at p = "
                  f"{', '.join(f'{q:g}' for q in first['percentiles'])}:", "",
                  "| Game | p | r (against T) | r (against p) | CR against T (%) | CR against p (%) |",
                  "|---|---|---|---|---|---|"]
        pcts = lambda crs: ", ".join(f"{100 * c:.1f}" for c in crs)  # noqa: E731
        lines += [f"| {g} | {f['percentile']} | {stats.fmt(f['pearson_t'], '.2f')} | "
                  f"{stats.fmt(f['pearson_p'], '.2f')} | {pcts(f['cr_t'])} | {pcts(f['cr_p'])} |" for g, f in figs.items()]
        lines.append("")
    if pending:
        lines += [f"Not drawn until all of a game's runs are played (`{FIGURE1_COMMAND}`): "
                  + "; ".join(f"{g}, {state}" for g, state in pending.items()) + ".", ""]
    lines += [f"![Figure 1, {g}]({f['png']})" for g, f in figs.items()]
    return "\n".join(lines).rstrip("\n") + "\n"


def figure1_progress(res: dict | None, game: str, proto: PaperProtocol) -> str:
    """How much of one game's Figure 1 is played: "finished" or "k of n runs" (`figure1_left`)."""
    left = figure1_left(res, game, proto)
    total = len(figure1_left({"settings": res["settings"]} if res else None, game, proto))
    return "finished" if not left else f"{total - len(left)} of {total} runs"


def figure1_stored(results_dir: Path, games: Sequence[str] = FIGURE1_GAMES) -> dict[str, dict]:
    """{game: its Figure 1 file (`figure1_game`'s JSON)} for every game of `games` with one stored,
    finished or not."""
    paths = {g: results_dir / f"figure1_{g}.json" for g in games}
    return {g: read_json(f, "Figure 1 results file") for g, f in paths.items() if f.is_file()}


def figure1_pending(results_dir: Path, proto: PaperProtocol, games: Sequence[str] = FIGURE1_GAMES) -> dict[str, str]:
    """{game: "k of n runs"} for each game of `games` whose Figure 1 in `results_dir` is not
    complete (`figure1_progress`; "0 of n runs" where nothing is stored); {} where no Figure 1 run
    is stored at all (a run without Figure 1)."""
    stored = figure1_stored(results_dir, games)
    if not stored:
        return {}
    out = {}
    for g in games:
        res = stored.get(g)
        if res is None or not figure1_complete(res, g):
            out[g] = figure1_progress(res, g, proto)
    return out


def provenance_means(models_dir: Path, games: Sequence[str], key: str) -> dict[str, float]:
    """Each shipped model's mean score of `key` ("random_agent" or "evaluation", the DQN) in its
    provenance (`snnjax ship`): known before any protocol run."""
    out = {}
    for g in games:
        prov = models_dir / f"{g}.json"
        if prov.is_file():
            out[g] = float(read_json(prov, "model provenance file", key=key)[key]["mean"])
    return out


def load(results_dir: Path, proto: PaperProtocol | None = None) -> tuple[dict[str, dict], dict[str, dict], PaperProtocol]:
    """The stored run in `results_dir`: ({game: results}, {game: figure1_summary}, its protocol).
    proto: keep only the games run with it; None: the protocol the files share (files run with
    different settings are an error). A folder without results: the paper's protocol, nothing played."""
    fields = [f.name for f in dataclasses.fields(PaperProtocol)]
    results, figs, protos = {}, {}, {}
    for f in sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []:
        res = read_json(f, "paper-protocol results file")
        if f.stem.startswith("figure1_"):
            game = f.stem.removeprefix("figure1_")
            if figure1_complete(res, game):  # a run in progress has no figure yet
                figs[game] = figure1_summary(res, game)
            continue
        st = {k: v for k, v in _played(res["settings"]).items() if k in fields}
        protos[f.stem] = PaperProtocol(**dict(st, percentiles=tuple(st["percentiles"])))
        results[f.stem] = res
    if proto is None:
        if len(set(protos.values())) > 1:
            raise validate.ValidationError(f"{results_dir} holds runs made with different settings; rerun them "
                                           "with one (snnjax benchmark --protocol paper --overwrite)")
        proto = next(iter(protos.values()), PaperProtocol())
    results = {g: r for g, r in results.items()
               if run_settings(protos[g]) == run_settings(proto)}  # the margin is the caller's
    return results, {g: figs[g] for g in FIGURE1_GAMES if g in figs and g in results}, proto


def section(results: dict[str, dict], proto: PaperProtocol, models_dir: Path, command: str,
            figs: dict[str, dict] | None = None, pending: dict[str, str] | None = None) -> str:
    """RESULTS.md's paper-protocol section, from the stored results; Figure 1 as `figure1_markdown`."""
    done = sum(1 for r in results.values() if finished(r, proto))
    title = "## The paper's benchmark at the paper's protocol" if not proto.deviations() else \
        "## The paper's benchmark, run small (not the paper's protocol)"
    head = [title, "", f"Written by `{command}` from `results/paper_protocol/<game>.json` ({done} of "
            f"{len(report.paper_table(1))} games finished; a game in progress shows the blocks played so far). "
            "Every number is for the shipped int8 network; the conversion rate is counted over the SNN's own "
            "episodes.", "", ""]
    body = "\n".join(head) + markdown(results, proto, provenance_means(models_dir, results, "random_agent"),
                                       provenance_means(models_dir, results, "evaluation"))
    if figs or pending:
        body += "\n" + figure1_markdown(figs or {}, pending)
    return body


def plays_left(res: dict | None, proto: PaperProtocol) -> list[tuple[str, int, int, float]]:
    """The tables' plays one game still needs: (kind, episodes per agent, SNN agents, T / proto's T)
    per play; kind "validation" or "block" (the pace each is estimated with); a block stored in
    part counts its episodes still to play."""
    res = res or {}
    n = len(proto.percentiles)
    todo = [] if "validation" in res else [("validation", proto.validation_episodes, n, 1.0)]
    return todo + [("block", e - episodes_played(res, k), n, 1.0) for k, e in enumerate(proto.blocks)
                   if str(k) not in res.get("blocks", {})]


def figure1_left(res: dict | None, game: str, proto: PaperProtocol, episodes: int = FIGURE1_EPISODES
                 ) -> list[tuple[str, int, int, float]]:
    """Figure 1's runs one game still needs (as `plays_left`; kind "validation": 10 episodes per
    agent, the pace `figure1` estimates them with): one SNN per T of the run's T but the p sweep's,
    and the p sweep (every p of the run's sweep and the game's); FIGURE1_T and FIGURE1_P at
    proto's T before anything is stored."""
    st = (res or {}).get("settings", {})
    runs = (res or {}).get("games", {}).get(game, {}).get("runs", {})
    sweep_t = st.get("p_sweep_t", proto.time_steps)
    n_p = len(set(st["percentiles"]) | {st["percentile"]}) if st else len(FIGURE1_P)
    todo = [("validation", st.get("episodes", episodes), 1, t / proto.time_steps)
            for t in st.get("time_steps", FIGURE1_T) if t != sweep_t and str(t) not in runs]
    sweep = [] if str(sweep_t) in runs else [("validation", st.get("episodes", episodes), n_p, sweep_t / proto.time_steps)]
    return todo + sweep


def remaining(results_dir: Path, models_dir: Path, proto: PaperProtocol, games: Sequence[str],
              side_by_side: int = 1) -> dict[str, dict]:
    """What the run in `results_dir` still has to play, per game with a shipped model: {game:
    {"tables": state, "figure1": state or None, "decisions": SNN decisions left, "seconds": their
    estimate for one of `side_by_side` processes sharing the machine}}. Estimates as the deadline's,
    without the slack (`estimate_s`: the game's episode lengths so far, else its shipped DQN's; the
    tables' plays at `game_pace`, Figure 1's runs at the run's validation pace as `figure1` paces
    them, T-scaled)."""
    results = load(results_dir, proto)[0]
    pace = paces(results, side_by_side=side_by_side)
    out = {}
    for g in games:
        model = models_dir / f"{g}.npz"
        if not model.is_file():
            continue
        res = results.get(g)
        left = [(game_pace(res or {}, kind, pace, side_by_side=side_by_side), e, a, r)
                for kind, e, a, r in plays_left(res, proto)]
        fig = None
        if g in FIGURE1_GAMES:
            path = results_dir / f"figure1_{g}.json"
            fres = read_json(path, "Figure 1 results file") if path.is_file() else None
            left += [(pace["validation"], e, a, r) for _, e, a, r in figure1_left(fres, g, proto)]
            fig = figure1_progress(fres, g, proto)
        lengths = episode_lengths(stored_plays(res or {}), model)
        blocks = len((res or {}).get("blocks", {}))
        state = ("finished" if res and finished(res, proto) else "not started" if not res or "validation" not in res
                 else f"p = {res['validation']['best_percentile']} chosen, {blocks} of {len(proto.blocks)} blocks")
        state += "".join(f" (block {k + 1}: {episodes_played(res, k)} of {e} episodes)"
                         for k, e in enumerate(proto.blocks) if res and episodes_played(res, k))
        out[g] = {"tables": state, "figure1": fig,
                  "decisions": sum(estimate_s(lengths, e, a, proto.max_episode_steps, 1.0) for _, e, a, _ in left),
                  "seconds": sum(estimate_s(lengths, e, a, proto.max_episode_steps, paced, r)
                                 for paced, e, a, r in left)}
    return out


def status_markdown(left: dict[str, dict], workers: int = 1) -> str:
    """`remaining` (made for `workers` processes sharing the machine) as a table, with its totals."""
    each = "one process" if workers == 1 else f"one of {workers} processes"
    lines = [f"| game | tables | Figure 1 | SNN decisions left | hours left ({each}) |", "|---|---|---|---|---|"]
    for g, r in left.items():
        lines.append(f"| {g} | {r['tables']} | {r['figure1'] or ''} | {r['decisions']:,.0f} | {r['seconds'] / 3600:.2f} |")
    dec, sec = sum(r["decisions"] for r in left.values()), sum(r["seconds"] for r in left.values())
    wall = "" if workers == 1 else f", about {sec / 3600 / workers:.1f} h of wall time if the plays pack evenly"
    lines += ["", f"Left: about {dec:,.0f} SNN decisions, {sec / 3600:.1f} h of {each}{wall}, on this kind of "
              f"machine ({machine_kind()}: each game at the pace of its own plays here, else the run's here, else "
              "the pace measured for the kind, else of every stored play, scaled to the processes sharing the "
              "machine; `protocol.game_pace`, `protocol.machine_share`)."]
    return "\n".join(lines) + "\n"


def _simulated(run: dict) -> int:
    """SNN decisions of one stored play that were simulated: the memo's new observations of the
    SNNs (`play.Memo`, the first len(run["snn"]) agents), or every decision of a play without it."""
    computed = run["timing"].get("memo_computed")
    return int(sum(computed[: len(run["snn"])])) if computed is not None else _snn_decisions(run)


MACHINE_NAMES = {"cpu:int8": "CPU with int8 units (AMX / AVX-512 VNNI): int8 products",
                 "cpu:float32": "CPU with AVX2 only: the int8 kernels summed in float32 (bit-identical)"}


def figure1_throughput_rows(figures: dict[str, dict]) -> tuple[list[str], dict[str, list[float]]]:
    """Rows of the throughput table for the Figure 1 runs stored (`figure1_stored`): one per run
    (a T at the game's percentile, or the p sweep: every percentile's SNN at once), its SNN
    decisions (the SNNs' episode lengths) and wall time; and {(kind, plays at a time): [decisions,
    wall s]}."""
    rows, totals = [], {}
    for g, res in figures.items():
        st = res["settings"]
        for t, run in sorted(res.get("games", {}).get(g, {}).get("runs", {}).items(), key=lambda kv: int(kv[0])):
            agents = run["agents"]
            what = (f"Figure 1, T = {t}, p sweep ({len(agents)} SNNs)" if int(t) == st["p_sweep_t"] and len(agents) > 1
                    else f"Figure 1, T = {t}")
            dec = sum(sum(a["lengths"]) for a in agents.values())
            wall, kind, n = run["timing"]["wall_s"], play_machine(run), played_side_by_side(run)
            eps = len(run["dqn"]["scores"])
            tot = totals.setdefault((kind, n), [0.0, 0.0])
            tot[0], tot[1] = tot[0] + dec, tot[1] + wall
            rows.append(f"| {g}, {what} | {kind} | {n} | {t} | {eps} | {dec:,} | | {wall / 3600:.2f} | {dec / wall:.1f} |")
    return rows, totals


def throughput_markdown(results: dict[str, dict], figures: dict[str, dict] | None = None) -> str:
    """BENCHMARKS.md's section on the protocol run: wall time and SNN decisions/s per game, kind of
    machine (`play_machine`) and number of plays that shared it (`played_side_by_side`; both SNNs'
    decisions; validation and every block played so far), then every Figure 1 run stored
    (`figures`, `figure1_stored`), a total per kind and count, and the share of decisions simulated
    (the rest met an observation again: `play.Memo`). Kinds and counts are never summed together:
    their paces differ several-fold; the run's elapsed time per kind counts each play's wall time
    once per the plays sharing the machine."""
    lines = ["## The paper-protocol run: wall time and decisions/s", "",
             "From the timing stored with every block of `snnjax benchmark --protocol paper` (the two SNNs and "
             "the DQN played side by side; decisions = both SNNs' decisions; wall time of the play, without "
             "the calibration), per game, kind of machine the plays ran on ("
             + "; ".join(f"`{k}`: {v}" for k, v in MACHINE_NAMES.items())
             + ") and number of plays that shared the machine (at a time: `evaluate/paper_protocol.sh`'s "
             f"workers, one play each; plays stored before this was recorded: {UNTAGGED_SIDE_BY_SIDE}). With two at a "
             "time the machine's throughput is about twice a row's decisions/s; blocks played while other work "
             "shared the machine are slower. Simulated: the share of the decisions whose observation the SNN had "
             "not met before in the same play; the others reuse that simulation's result (`play.Memo`, the same "
             "episodes; plays stored before it simulated every decision).", "",
             "| game | machine | at a time | T | episodes per agent (validation + test) | SNN decisions | simulated "
             "| wall h | SNN decisions/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    totals: dict[tuple[str, int], list[float]] = {}
    elapsed: dict[str, float] = {}  # per machine kind: wall time over the plays sharing the machine
    decided: dict[str, float] = {}  # per machine kind: SNN decisions
    for g, res in results.items():
        groups: dict[tuple[str, int], list[dict]] = {}
        for r in stored_plays(res):
            groups.setdefault((play_machine(r), played_side_by_side(r)), []).append(r)
        for (kind, n), runs in sorted(groups.items()):
            dec = sum(_snn_decisions(r) for r in runs)
            sim = sum(_simulated(r) for r in runs)
            wall = sum(r["timing"]["wall_s"] for r in runs)
            eps = sum(len(r["dqn"]["scores"]) for r in runs)
            t = totals.setdefault((kind, n), [0.0, 0.0, 0.0])
            t[0], t[1], t[2] = t[0] + dec, t[1] + sim, t[2] + wall
            elapsed[kind] = elapsed.get(kind, 0.0) + wall / n
            decided[kind] = decided.get(kind, 0.0) + dec
            lines.append(f"| {g} | {kind} | {n} | {res['settings']['time_steps']} | {eps} | {dec:,} | {sim / dec:.0%} "
                         f"| {wall / 3600:.2f} | {dec / wall:.1f} |")
    for (kind, n), (dec, sim, wall) in sorted(totals.items()):
        if wall:
            lines.append(f"| Tables 1-2, all | {kind} | {n} | | | {int(dec):,} | {sim / dec:.0%} | {wall / 3600:.2f} "
                         f"| {dec / wall:.1f} |")
    fig_rows, fig_totals = figure1_throughput_rows(figures or {})
    lines += fig_rows
    for (kind, n), (dec, wall) in sorted(fig_totals.items()):
        elapsed[kind] = elapsed.get(kind, 0.0) + wall / n
        decided[kind] = decided.get(kind, 0.0) + dec
        lines.append(f"| Figure 1, all | {kind} | {n} | | | {int(dec):,} | | {wall / 3600:.2f} | {dec / wall:.1f} |")
    if elapsed:
        total = sum(decided.values())
        lines += ["", "Elapsed time of the plays stored (tables and Figure 1; each play's wall time over the number of "
                  "plays that shared the machine): " + "; ".join(f"{k}: {h / 3600:.1f} h" for k, h in sorted(elapsed.items()))
                  + f"; {sum(elapsed.values()) / 3600:.1f} h in all, for {int(total):,} SNN decisions. All of them at "
                  "one kind's pace (its SNN decisions per elapsed hour): "
                  + "; ".join(f"{k}: {total / (decided[k] / h) / 3600:.1f} h" for k, h in sorted(elapsed.items()) if h)
                  + "."]
    return "\n".join(lines) + "\n"


def write_report(path: Path, results: dict[str, dict], proto: PaperProtocol, models_dir: Path, command: str,
                 figs: dict[str, dict] | None = None, benchmarks: Path | None = None,
                 pending: dict[str, str] | None = None, figures: dict[str, dict] | None = None) -> None:
    """RESULTS.md's paper-protocol section and BENCHMARKS.md's throughput section
    (`report.write_section`), from the stored results (`figures`: the Figure 1 files stored,
    `figure1_stored`, for the throughput)."""
    report.write_section(path, section(results, proto, models_dir, command, figs, pending), BEGIN, END)
    if benchmarks is not None:
        report.write_section(benchmarks, throughput_markdown(results, figures), *report.bench_markers("paper-protocol"),
                             empty="# Benchmarks\n")
