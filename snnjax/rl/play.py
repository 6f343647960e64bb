"""The one play loop: agents act in envpool envs until every env has finished its episode.

    play(agent, params, env_id, episodes, num_agents=A) -> PlayResult

One envpool holds A x E envs, agent-major (env a * E + e is agent a's env e); env e of every
agent gets evaluation seed e of the run's range and the same exploration draws, so agents
that choose alike play alike. Each step is one jitted call of `agent.act` on all A x E
observations; the envs axis is sharded over every local device (`parallel.shard`) and, under
`jax.distributed`, each process plays its own share of the E envs (`parallel.process_share`)
and the per-env results are all-gathered. An env's game depends only on (model, seed, env
index): 1 device, 4 devices and 2 processes give the same scores (tested).

Every decision that belongs to an episode is counted; envpool's auto-reset step after a done is
not (`envs.EpisodeTracker`). `count` names entries of the agent's aux to sum over decisions.

Lockstep without the waste: once every agent has at most half of its envs still in their
episode, a step runs the agents only on those (`compact_rows`: each agent's active envs, padded
to a power of two), so a long last episode does not cost the whole batch at every step. The
exploration draws follow the env index, not the row, so the episodes are the same either way.
With `memo=True` the agents run only on observations they have not met before in the play
(`Memo`): where a game's screen repeats (a stalled agent), most decisions reuse a simulation.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.conversion.normalize import from_qnetwork
from snnjax.core import parallel
from snnjax.core.compile import FastJit
from snnjax.core.validate import ValidationError
from snnjax.rl import agents, envs
from snnjax.rl.agents import Agent
from snnjax.snn import SpikingNetwork

STEP_KEY_SALT = 0x5EED  # exploration keys: fold_in(key(seed) ^ salt, step), then env index


@dataclasses.dataclass
class PlayResult:
    """Per agent and env (episode): raw score, agent steps, decisions and counted aux sums."""

    returns: np.ndarray  # [A, E] raw scores (unclipped)
    lengths: np.ndarray  # [A, E] agent steps of the episode
    decisions: np.ndarray  # [A, E] decisions counted (== lengths when every episode finished)
    counts: dict[str, np.ndarray]  # {name: [A', E, ...]} sum of aux[name] over decisions (A' <= A rows)
    timing: dict[str, float]  # this process: wall_s, policy_s, env_s, decisions_per_s, ...


def step_keys(seed: int) -> jax.Array:
    return jax.random.key(seed ^ STEP_KEY_SALT)


def expected_steps(t: int, finished: Sequence[float], prior: Sequence[float], cap: int) -> int:
    """The progress bar's total in loop steps: every env steps in lockstep, so the play ends when
    its longest episode does. After t steps with episodes still running, the expected end is the
    longest episode length known (`finished` ones and `prior`, e.g. the shipped model's
    evaluation episodes) if that lies beyond t, else 1.25 t; never more than `cap`."""
    known = max([0.0, *map(float, finished), *map(float, prior)])
    return int(min(known if known > t else 1.25 * t, cap))


HEARTBEAT_S = 600.0  # seconds between progress lines when no progress bar is drawn
DEADLINE_CHECK_S = 600.0  # a play with a deadline first weighs its pace against it after this long
PACE_WINDOW_S = 300.0  # the pace a play projects its end with: its decisions over the last this many seconds


class PastDeadline(Exception):
    """A play stopped because at its recent pace it would end after its deadline."""


def decisions_left(t: int, running: int, finished: Sequence[float], prior: Sequence[float], cap: int) -> float:
    """Decisions still to come in a play where `running` envs are in their episode at step t:
    each one's expected remaining length E[L - t | L > t] over the known lengths (`finished`
    episodes and `prior`, capped at `cap`) that lie beyond t; where none does, 0.25 t (the
    `expected_steps` rule), never past the cap. Envs end at different steps, so a play's cost is
    its decisions, not its steps x envs: the longest episode alone keeps the last steps going."""
    known = np.minimum(np.asarray([*map(float, finished), *map(float, prior)], np.float64), cap)
    longer = known[known > t]
    per_env = float((longer - t).mean()) if longer.size else min(0.25 * t, cap - t)
    return running * max(per_env, 0.0)


def projected_end(decided: float, elapsed: float, left: float, now: float) -> float:
    """When a play that made `decided` decisions in `elapsed` seconds (`RecentPace`) ends at that
    pace with `left` decisions to come (`decisions_left`): a `time.time()` if `now` is one."""
    return now + left * elapsed / max(decided, 1.0)


class RecentPace:
    """Decisions per second over the last `window` seconds of a play (`PACE_WINDOW_S`). A play's
    first minutes are a poor guide to the rest (they hold the compilation, and the memo can reuse
    the first screens that many envs share): a StarGunner block at T = 500 (2 SNNs and the DQN x 25 envs,
    beside another play on a 2-core CPU) made 10.7 loop steps a minute in its first 10 minutes and
    4.8 in the 5 after, every env still playing.
    `add(now, decisions)` after every step; `window_of(now)` -> (decisions, seconds) since the
    oldest sample inside the window (the whole play while it is younger than the window)."""

    def __init__(self, start: float, window: float = PACE_WINDOW_S):
        self.window = window
        self.samples: collections.deque = collections.deque([(start, 0)])

    def add(self, now: float, decisions: int) -> None:
        self.samples.append((now, decisions))
        while len(self.samples) > 2 and self.samples[1][0] <= now - self.window:
            self.samples.popleft()

    def window_of(self, now: float) -> tuple[float, float]:
        (t0, d0), (_, d1) = self.samples[0], self.samples[-1]
        return float(d1 - d0), now - t0


def progress_line(desc: str, t: int, total: int, over: int, episodes: int, decided: float, elapsed: float,
                  left: float, now: float | None = None) -> str:
    """One progress line of a play without a bar (a log file): steps so far of the expected
    `total` (`expected_steps`), episodes over, the pace of every agent (the DQN's too): `decided`
    decisions in the last `elapsed` seconds (`RecentPace`), and the time left for the `left`
    decisions to come (`decisions_left`) at that pace, with the clock time it ends (local, HH:MM;
    `now` a time.time(), default the present)."""
    now = time.time() if now is None else now
    end_t = projected_end(decided, elapsed, left, now)
    left_s, end = end_t - now, time.strftime("%H:%M", time.localtime(end_t))
    return (f"{desc}: step {t:,} of about {total:,} ({100 * t / max(total, 1):.0f}%), {over} of {episodes} "
            f"episodes over, {decided / max(elapsed, 1e-9):.1f} agent decisions/s, about {left_s / 60:.0f} min left "
            f"(ends about {end})")


def compact_rows(active: np.ndarray, multiple: int = 1) -> np.ndarray | None:
    """Rows of a step on active envs only, or None when the full batch is as cheap.

    active [A, E] -> rows [A, E'] (env indices per agent: its active envs in order, padded by its
    first active env, or env 0 if none), E' the next power of two >= the most active envs of any
    agent, rounded up to a multiple of `multiple` (the devices); None unless E' <= E // 2."""
    a, n = active.shape
    most = max(1, int(active.sum(1).max()))
    width = 1 << (most - 1).bit_length()
    width = -(-width // multiple) * multiple
    if width > n // 2:
        return None
    rows = np.zeros((a, width), np.int64)
    for i in range(a):
        idx = np.flatnonzero(active[i])
        rows[i] = idx[0] if len(idx) else 0
        rows[i, : len(idx)] = idx
    return rows


class Memo:
    """Every agent's greedy action and aux for each observation it has met in one play: an
    agent's greedy part is a pure function of ONE observation (the SNN's state starts afresh for
    every frame, eq. 1-3; every agent of `snnjax.rl.agents` computes each row alone), so an
    observation met again - by the same agent in another env or at a later step - gets the
    stored result instead of another simulation. Exploration is drawn afresh every step, as
    without the memo, so the play is the same step for step (tested). Keys: (agent row, the
    observation's 128-bit BLAKE2b digest). One Memo belongs to ONE play (one agent, one params).

    Per agent [A]: computed, the observations it was run on (each once, without padding);
    reused, its decisions served from the memo. rows: rows run in all (with the padding)."""

    def __init__(self, num_agents: int):
        self.store: dict = {}
        self.aux_rows: dict[str, int] = {}  # name -> A' (the first A' agents carry that aux)
        self.computed = np.zeros(num_agents, np.int64)
        self.reused = np.zeros(num_agents, np.int64)
        self.rows = 0

    def greedy(self, greedy_step, params, o: np.ndarray, active: np.ndarray, multiple: int = 1):
        """(greedy actions [A, E] int32, aux {name: [A', E, ...]}) of every active env of `o`
        [A, E, ...] (inactive: zeros), running `greedy_step(params, obs [A, W, ...])` once on the
        observations not in the memo: per agent its new ones (each once), padded to W, a power
        of two (at most E; a multiple of `multiple`, the devices) to keep the compiled shapes few."""
        A, E = active.shape
        keys = np.empty((A, E), object)
        need: list[list[int]] = []
        for a in range(A):
            new: dict[bytes, int] = {}
            for e in np.flatnonzero(active[a]):
                k = keys[a, e] = hashlib.blake2b(o[a, e].tobytes(), digest_size=16).digest()
                if (a, k) not in self.store and k not in new:
                    new[k] = int(e)
            need.append(list(new.values()))
        most = max(map(len, need))
        if most:
            width = -(-min(1 << (most - 1).bit_length(), E) // multiple) * multiple
            rows = np.array([(n + [n[0] if n else 0] * width)[:width] for n in need])
            g, aux = greedy_step(params, parallel.shard(o[np.arange(A)[:, None], rows], 1)[0])
            g, aux = np.asarray(g), {name: np.asarray(x) for name, x in aux.items()}
            for name, x in aux.items():
                self.aux_rows[name] = x.shape[0]
            for a, n in enumerate(need):
                for j, e in enumerate(n):
                    self.store[(a, keys[a, e])] = (g[a, j], {name: x[a, j] for name, x in aux.items() if a < x.shape[0]})
            self.rows += A * width
        n_new = np.array(list(map(len, need)))
        self.computed += n_new
        self.reused += active.sum(1) - n_new
        out = np.zeros((A, E), np.int32)
        aux_out: dict[str, np.ndarray] = {}
        for a, e in zip(*np.nonzero(active)):
            act, ax = self.store[(a, keys[a, e])]
            out[a, e] = act
            for name, x in ax.items():
                if name not in aux_out:
                    aux_out[name] = np.zeros((self.aux_rows[name], E, *x.shape), x.dtype)
                aux_out[name][a, e] = x
        return out, aux_out


def _spread(x: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """x [A', E', ...] computed on `rows` [A, E'] -> [A', n, ...] at the envs' places (others 0)."""
    out = np.zeros((x.shape[0], n, *x.shape[2:]), x.dtype)
    out[np.arange(x.shape[0])[:, None], rows[: x.shape[0]]] = x
    return out


def check_env_range(env_range: Sequence[int], episodes: int) -> tuple[int, int]:
    """(lo, hi) of envs lo .. hi - 1 of a play of `episodes` envs per agent; ValidationError
    unless 0 <= lo < hi <= episodes."""
    lo, hi = (int(x) for x in env_range)
    if not 0 <= lo < hi <= episodes:
        raise ValidationError(f"env range {list(env_range)} is not a part of {episodes} envs: "
                              f"allowed lo .. hi - 1 with 0 <= lo < hi <= {episodes}")
    return lo, hi


def play(agent: Agent, params: Any, env_id: str, episodes: int, *, num_agents: int = 1, seed: int = 0,
         eps: float | None = None, max_episode_steps: int | None = None, count: Sequence[str] = (),
         seed_base: int = envs.EVAL_SEED_BASE, progress: bool = False, desc: str = "play",
         on_step: Callable[[np.ndarray, np.ndarray], bool] | None = None,
         distributed: bool = True, expected_lengths: Sequence[float] = (), compact: bool = True,
         heartbeat: Callable[[str], None] | None = None, heartbeat_s: float = HEARTBEAT_S,
         memo: bool = False, deadline: float | None = None,
         env_range: tuple[int, int] | None = None) -> PlayResult:
    """Play one episode in each of `episodes` envs per agent (no short-episode bias).

    params: the agent's params (e.g. a stacked SNN population and the DQN side by side).
    eps: exploration rate (default the agent's). max_episode_steps: agent-step cap (Atari).
    on_step(obs [A*E_local, ...], active [A*E_local]) -> stop: called before every step; with
    it, envs keep playing new episodes until it returns True (observation collection), and the
    result holds the episodes finished by then (returns of unfinished ones are 0).
    distributed: share the envs over `jax.distributed` processes (False: every process plays all).
    expected_lengths: episode lengths (agent steps) known beforehand, e.g. the shipped model's
    evaluation episodes: the progress bar's prior (`expected_steps`; none: the cap).
    compact: step only the active envs once at most half are (`compact_rows`; same episodes).
    heartbeat: where a play without a progress bar (progress off, or output not a terminal) writes
    a `progress_line` every `heartbeat_s` seconds: long runs in the background show their ETA.
    memo: run the agents only on observations they have not met before in this play (`Memo`;
    the same episodes; the agent's greedy part must treat every row alone, as all agents of
    `snnjax.rl.agents` do); replaces `compact`. timing then also holds "memo_computed" and
    "memo_reused" (per agent, this process's envs) and "memo_rows".
    deadline: a `time.time()`: from DEADLINE_CHECK_S seconds on, and every `heartbeat_s` after,
    the play weighs the end it projects (`projected_end`: its decisions still to come,
    `decisions_left`, at its pace of the last PACE_WINDOW_S seconds, `RecentPace`) against it and raises
    PastDeadline if it would end later (one process only): a machine slower than the estimate
    that started the play loses minutes, not the whole play.
    env_range: (lo, hi), play only envs lo .. hi - 1 of the `episodes` (every process all of
    them); the result holds those hi - lo envs per agent. Envs played in parts over several
    calls play exactly the episodes of one call, as an env's game depends only on (model,
    seed, env index).
    """
    from tqdm.auto import tqdm

    envs.check_env_id(env_id)
    A = int(num_agents)
    if env_range is not None:
        lo, hi = check_env_range(env_range, episodes)
        distributed = False
    else:
        lo, hi = parallel.process_share(episodes) if distributed else (0, episodes)
    n_local = hi - lo
    seed_list = envs.seeds(seed_base, seed, episodes)[lo:hi] * A
    over = {"max_episode_steps": int(max_episode_steps)} if max_episode_steps and envs.is_atari(env_id) else {}
    env = envs.make_env(env_id, A * n_local, seed_list, "eval", **over)
    eps = agent.eps if eps is None else eps

    def step_fn(p, obs, key, e, env_index):
        actions, aux = agent.act(p, obs, key, e, env_index)
        return actions, {name: aux[name] for name in count}

    def greedy_fn(p, obs):  # the memo's: the greedy part alone, exploration drawn apart
        g, aux = agent.greedy(p, obs)
        return g, {name: aux[name] for name in count}

    step, greedy_step = FastJit(step_fn), FastJit(greedy_fn)
    explore = FastJit(lambda key, g, e, ei: agents.epsilon_greedy(key, g, e, agent.num_actions, ei))
    memo_ = Memo(A) if memo else None
    env_ids = np.arange(lo, hi, dtype=np.int32)
    env_index, _ = parallel.shard(jnp.asarray(env_ids), 0)
    base_key = step_keys(seed)
    quota = 1 if on_step is None else np.iinfo(np.int64).max
    tracker = envs.EpisodeTracker(A * n_local)
    done = np.zeros(A * n_local, np.int64)
    returns = np.zeros(A * n_local)
    lengths = np.zeros(A * n_local, np.int64)
    decisions = np.zeros(A * n_local, np.int64)
    counts: dict[str, np.ndarray] = {}
    cap = max_episode_steps or envs.EVAL_ATARI["max_episode_steps"]
    prior = [min(float(x), cap) for x in expected_lengths] or [cap]
    bar = tqdm(total=expected_steps(0, [], prior, cap), disable=None if progress and on_step is None
               and jax.process_index() == 0 else True, unit="step", desc=desc, mininterval=1.0)
    policy_s, t, t_start = 0.0, 0, time.perf_counter()
    beat = heartbeat if bar.disable and on_step is None and jax.process_index() == 0 else None
    next_beat = t_start + heartbeat_s
    check = deadline is not None and on_step is None and jax.process_count() == 1
    next_check = t_start + DEADLINE_CHECK_S
    recent = RecentPace(t_start)

    def outlook() -> tuple[int, float]:  # at step t: the loop steps expected in all, the decisions still to come
        finished = lengths[done > 0]
        return (max(expected_steps(t, finished, prior, cap), t),
                decisions_left(t, int((done < quota).sum()), finished, prior, cap))

    obs, _ = env.reset()
    while np.any(done < quota):
        active = ~tracker.resetting & (done < quota)
        if on_step is not None and on_step(obs, active):
            break
        t0 = time.perf_counter()
        o = obs.reshape((A, n_local, *obs.shape[1:]))
        key = jax.random.fold_in(base_key, t)
        if memo_ is not None:  # the agents on new observations only, exploration drawn for every env
            g, aux = memo_.greedy(greedy_step, params, o, active.reshape(A, n_local), jax.local_device_count())
            width, rows = n_local, None
            actions = explore(key, parallel.shard(g, 1)[0], jnp.float32(eps), env_index)
        else:
            rows = compact_rows(active.reshape(A, n_local), jax.local_device_count()) if compact else None
            if rows is None:
                width, ei = n_local, env_index
            else:  # only the active envs (and padding): [A, E'] rows, each with its own env index
                width, o, ei = rows.shape[1], o[np.arange(A)[:, None], rows], parallel.shard(env_ids[rows], 1)[0]
            actions, aux = step(params, parallel.shard(o, 1)[0], key, jnp.float32(eps), ei)
        actions = np.asarray(actions)[:, :width]
        actions = (actions if rows is None else _spread(actions, rows, n_local)).reshape(-1)
        for name, x in aux.items():  # [A', E, ...]: the first A' <= A agents' rows
            x = np.asarray(x)[:, :width]
            x = x if rows is None else _spread(x, rows, n_local)
            mask = active.reshape(A, n_local)[: x.shape[0]].reshape(x.shape[:2] + (1,) * (x.ndim - 2))
            counts[name] = counts.get(name, 0) + np.where(mask, x, 0).astype(np.int64)
        policy_s += time.perf_counter() - t0
        decisions += active
        obs, rew, term, trunc, info = env.step(actions)
        n_before = len(tracker.returns)
        tracker.step(rew, term, trunc, info)
        for k, i in enumerate(tracker.env_index[n_before:]):
            if done[i] == 0:  # the first episode of each env is its result
                returns[i] = tracker.returns[n_before + k]
                lengths[i] = tracker.lengths[n_before + k]
            done[i] += 1
        t += 1
        recent.add(time.perf_counter(), int(decisions.sum()))
        if not bar.disable:
            bar.total = max(expected_steps(t, lengths[done > 0], prior, cap), t)
            bar.set_postfix(episodes=f"{int((done > 0).sum())}/{done.size}",
                            dec_s=f"{decisions.sum() / (time.perf_counter() - t_start):.0f}", refresh=False)
            bar.update(1)
        if beat is not None and time.perf_counter() >= next_beat:
            now = time.perf_counter()
            total, left = outlook()
            beat(progress_line(desc, t, total, int((done > 0).sum()), done.size, *recent.window_of(now), left))
            next_beat = now + heartbeat_s
        if check and time.perf_counter() >= next_check:
            now = time.perf_counter()
            total, left = outlook()
            end = projected_end(*recent.window_of(now), left, time.time())
            if end > deadline and np.any(done < quota):
                bar.close()
                env.close()
                hhmm = lambda x: time.strftime("%H:%M", time.localtime(x))  # noqa: E731
                raise PastDeadline(f"{desc}: at step {t:,} of about {total:,} after {(now - t_start) / 60:.0f} min "
                                   f"it would end about {hhmm(end)}, past the deadline {hhmm(deadline)}; stopped")
            next_check = now + heartbeat_s
    wall = time.perf_counter() - t_start
    bar.total = bar.n
    bar.close()
    env.close()

    def whole(x):  # [A' x n_local, ...] -> [A', episodes, ...] gathered over processes
        return parallel.gather(x, episodes, axis=1) if distributed else np.asarray(x)

    def per_agent(x):
        return whole(np.asarray(x).reshape((A, n_local)))

    n_dec = int(decisions.sum())
    return PlayResult(
        returns=per_agent(returns), lengths=per_agent(lengths), decisions=per_agent(decisions),
        counts={name: whole(x) for name, x in counts.items()},
        timing={"wall_s": wall, "policy_s": policy_s, "env_s": wall - policy_s, "decisions": n_dec,
                "decisions_per_s": n_dec / max(wall, 1e-9), "env_steps_per_s": t * A * n_local / max(wall, 1e-9),
                "processes": jax.process_count() if distributed else 1, "devices": jax.local_device_count(),
                **({"memo_computed": memo_.computed.tolist(), "memo_reused": memo_.reused.tolist(),
                    "memo_rows": memo_.rows}
                   if memo_ is not None else {})})


def collect(agent: Agent, params: Any, env_id: str, num_frames: int, num_envs: int = 16, seed: int = 0,
            eps: float | None = None, max_episode_steps: int | None = None,
            seed_base: int = envs.CALIBRATION_SEED_BASE, progress: bool = False) -> np.ndarray:
    """The first `num_frames` observations [num_frames, ...] an agent sees while playing
    `num_envs` envs (new episodes start as old ones end); every process collects the same frames."""
    from tqdm.auto import tqdm

    out: list[np.ndarray] = []
    n = 0
    bar = tqdm(total=num_frames, disable=None if progress else True, desc="frames", unit="frame")

    def take(obs, active):
        nonlocal n
        idx = np.flatnonzero(active)[: num_frames - n]
        out.append(np.array(obs[idx]))
        n += len(idx)
        bar.update(len(idx))
        return n >= num_frames

    play(agent, params, env_id, num_envs, seed=seed, eps=eps, max_episode_steps=max_episode_steps,
         seed_base=seed_base, on_step=take, distributed=False)
    bar.close()
    return np.concatenate(out)


def score_dqn(params, meta: dict, episodes: int, seed: int = 0, eps: float = 0.05,
              max_episode_steps: int | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The DQN's own score: (raw returns [episodes], lengths [episodes]) under the evaluation
    protocol. The same agent and play loop as the DQN row of `evaluate`, so one model under one
    seed has one score wherever it is computed (trainer, `snnjax ship`, `snnjax evaluate`)."""
    ann = from_qnetwork(params, meta)
    res = play(agents.dqn_agent(ann, eps), ann, meta["env_id"], episodes, seed=seed,
               max_episode_steps=max_episode_steps, progress=progress, desc=f"score {meta['env_id']}")
    return res.returns[0], res.lengths[0]


def random_scores(env_id: str, episodes: int, seed: int = 0,
                  max_episode_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random agent's (returns [episodes], lengths [episodes]) in the same play loop."""
    _, n = envs.env_info(env_id)
    res = play(agents.random_agent(n), None, env_id, episodes, seed=seed, max_episode_steps=max_episode_steps)
    return res.returns[0], res.lengths[0]


def collect_observations(ann: SpikingNetwork, env_id: str, num_frames: int, seed: int = 0,
                         eps: float = 0.05, num_envs: int = 16, max_episode_steps: int = 4500,
                         progress: bool = False) -> np.ndarray:
    """Observations seen by the DQN playing under the evaluation protocol (eps-greedy) on the
    calibration seed range: the paper's up-to-15,000 normalization frames. [num_frames, ...]."""
    if num_frames < 1:
        raise ValidationError(f"calibration frames must be >= 1, got {num_frames}")
    out = collect(agents.dqn_agent(ann, eps), ann, env_id, num_frames, num_envs, seed,
                  max_episode_steps=max_episode_steps, seed_base=envs.CALIBRATION_SEED_BASE, progress=progress)
    return out.astype(np.uint8 if ann.input_layout == "chw" else np.float32)
