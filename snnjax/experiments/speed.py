"""`snnjax bench`: simulation speed against the machine's own matmul peak, training update cost,
and evaluation throughput. Prints tables and writes them into BENCHMARKS.md.

All ratios come from measurements taken side by side in one run. GFLOP/s counts the dense
work of the Nature-DQN SNN: layer 1 once per frame (constant input current) plus layers 2-5
every time step (2 FLOP per multiply-accumulate), whether or not a spike is zero.
"""

from __future__ import annotations

import datetime
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.conversion.normalize import convert, from_params
from snnjax.core.compile import FastJit, fast_options_supported
from snnjax.experiments import report
from snnjax.nets.models import NatureDQN, init_params, layer_specs
from snnjax.rl import envs
from snnjax.snn import SpikingNetwork, auto_chunk, fanout, simulate_fn


def interleaved_best(cases: dict, rounds: int = 3) -> dict:
    """{name: best wall seconds of one call} for `cases` {name: (fn, args tuple)}, timed in
    `rounds` interleaved rounds (one call of each case per round, blocking on the result), so a
    noisy shared machine slows every case alike. Compile before: the first call is timed too."""
    times = {k: float("inf") for k in cases}
    for _ in range(rounds):
        for k, (fn, args) in cases.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[k] = min(times[k], time.perf_counter() - t0)
    return times


def best_time(fn, *args, repeat: int = 3, min_time: float = 0.5) -> float:
    """Best wall time of one call after a warm-up (blocks on the result)."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeat):
        n, t0 = 0, time.perf_counter()
        while True:
            jax.block_until_ready(fn(*args))
            n += 1
            if time.perf_counter() - t0 >= min_time / repeat or n >= 50:
                break
        best = min(best, (time.perf_counter() - t0) / n)
    return best


PEAK_DTYPES = ("float32", "bfloat16", "int8")


def matmul_peak(n: int = 2048, dtype: str = "float32") -> float:
    """Matmul GFLOP/s (GOP/s for int8) of this machine in JAX, n x n x n, best of a few runs:
    float32 x float32; bfloat16 x bfloat16 -> float32; int8 x int8 -> int32 (exact)."""
    rng = np.random.default_rng(0)
    if dtype == "int8":
        a = jnp.asarray(rng.integers(-127, 128, (n, n)), jnp.int8)
        out = jnp.int32
    else:
        a = jnp.asarray(rng.normal(size=(n, n)), dtype)
        out = jnp.float32
    f = jax.jit(lambda x, y: jax.lax.dot(x, y, preferred_element_type=out))
    return 2 * n**3 / best_time(f, a, a, repeat=5, min_time=2.0) / 1e9


def bench_network(num_actions: int = 6, seed: int = 0) -> SpikingNetwork:
    """A Nature-DQN with random weights stored as int8 x per-output-channel scale (like every
    shipped model), normalized at p=99 on random frames (~17% firing): int8 spike propagation."""
    from snnjax.nets.checkpoint import dequantize_int8, quantize_int8

    net = NatureDQN(num_actions)
    p = init_params(net, (4, 84, 84), jax.random.key(seed))
    p = {name: dict(layer, kernel=dequantize_int8(*quantize_int8(np.asarray(layer["kernel"]))))
         for name, layer in p.items()}
    ann = from_params(p, layer_specs(net), (4, 84, 84), "chw", 1 / 255)
    obs = np.random.default_rng(seed).integers(0, 256, (32, 4, 84, 84), dtype=np.uint8)
    return convert(ann, obs, 99.0)


def flops_per_decision(snn: SpikingNetwork, T: int) -> float:
    macs = [float(f.sum()) for f in fanout(snn)]
    return 2 * (macs[0] + T * sum(macs[1:]))


def naive_one(net: SpikingNetwork, obs: jax.Array, time_steps: int) -> jax.Array:
    """The naive baseline: a per-step loop that recomputes every layer's current at every step,
    layer 1 included (what a straightforward PyTorch loop does). Robust readout [A]."""
    from snnjax.snn import if_update, layer_current, prepare_input
    from snnjax.snn.readout import robust_rate

    v_thr = jnp.asarray(net.v_thr, jnp.float32)
    a0 = prepare_input(net, obs)
    c0 = {"v": [jnp.zeros(s, jnp.float32) for s in net.layer_shapes()],
          "n": [jnp.zeros(s, jnp.float32) for s in net.layer_shapes()]}

    def step(c, _):
        z, vs, ns = layer_current(net, 0, a0), [], []
        for l in range(net.num_layers):
            s, v = if_update(c["v"][l], z, v_thr)
            vs.append(v)
            ns.append(c["n"][l] + s)
            if l + 1 < net.num_layers:
                z = layer_current(net, l + 1, s)
        return dict(c, v=vs, n=ns), None

    c, _ = jax.lax.scan(step, c0, None, length=time_steps)
    return robust_rate(c["n"][-1], c["v"][-1], jnp.float32(time_steps), v_thr)


def previous_default_one(net: SpikingNetwork, obs: jax.Array, time_steps: int, chunk: int) -> jax.Array:
    """The float32 simulator as it was before int8 propagation, kept as a baseline: eq. (2)-(3)
    carried on V (a pass for the spikes and another for V at every layer and step), layer-wise
    chunks of `chunk` steps (chunk = 1: the per-step scan it used from 16 observations on).
    Robust readout [A]."""
    from snnjax.snn import if_update, layer_current, prepare_input
    from snnjax.snn.readout import robust_rate

    v_thr = jnp.asarray(net.v_thr, jnp.float32)
    net = net.replace(int8=())
    z1 = layer_current(net, 0, prepare_input(net, obs))
    shapes = net.layer_shapes()

    def if_scan(v, z_seq):
        def step(v, z):
            s, v = if_update(v, z, v_thr)
            return v, s
        return jax.lax.scan(step, v, z_seq)

    def run_chunk(c, length: int):
        vs, n = c
        z, out = jnp.broadcast_to(z1, (length, *z1.shape)), []
        for l in range(net.num_layers):
            v, s_seq = if_scan(vs[l], z)
            out.append(v)
            if l + 1 < net.num_layers:
                z = jax.vmap(lambda x, l=l: layer_current(net, l + 1, x))(s_seq)
        return (out, n + s_seq.sum(0)), None

    n_full, rest = divmod(time_steps, chunk)
    c = ([jnp.zeros(s, jnp.float32) for s in shapes], jnp.zeros(shapes[-1], jnp.float32))
    c, _ = jax.lax.scan(lambda c, _: run_chunk(c, chunk), c, None, length=n_full)
    if rest:  # the remainder is its own chunk, as the simulator did
        c, _ = run_chunk(c, rest)
    vs, n = c
    return robust_rate(n, vs[-1], jnp.float32(time_steps), v_thr)


def simulation_paths(T: int, B: int) -> dict:
    """name -> (fn(net, obs [B, ...]) -> robust readout [B, A], arithmetic of the network passed).

    "default": `simulate`'s choice at this B (`choose_method`, `group_rows`) on the network's
    own arithmetic (int8 where it factors). "float32": the same program given the network
    without its int8 factorization. "previous default": the float32 simulator before int8
    propagation (`previous_default_one`, with its own path choice: per-step from 16
    observations on, else chunks of ~64 rows). "naive": a float32 per-step loop. The other
    paths take the whole batch in one vmap on the network's own arithmetic. Every program is
    compiled with `FastJit` (the fast CPU option on float32 programs only, `snnjax.core.compile`)."""
    from snnjax.snn import choose_method, group_rows, map_rows

    method, chunk = choose_method(B, T)
    group = group_rows(B)  # the default's groups of rows (0: one vmap)

    def vm(one, g=0):
        return lambda net, o: map_rows(lambda x: one(net, x).robust, o, g)

    default = simulate_fn(T, (T,), "constant", method, chunk)
    prev_chunk = 1 if B >= 16 else auto_chunk(B, T)
    return {
        "default": (vm(default, group), "own"),
        "float32": (vm(default, group), "float32"),
        "previous default": (lambda net, o: map_rows(lambda x: previous_default_one(net, x, T, prev_chunk), o, group),
                             "float32"),
        "reference": (vm(simulate_fn(T, (T,), "constant", "reference")), "own"),
        "chunked-512": (vm(simulate_fn(T, (T,), "constant", "chunked", auto_chunk(B, T, rows=512))), "own"),
        "default, full result": (lambda net, o: map_rows(lambda x: default(net, x), o, group), "own"),
        "naive": (lambda net, o: jax.vmap(lambda x: naive_one(net, x, T))(o), "float32"),
    }


def bench_simulation(snn, Ts=(100, 500), Bs=(1, 16, 64, 256), peaks: dict | None = None, rounds: int = 3,
                     log=print) -> list[dict]:
    """Decisions/s of every simulation path at each (T, B): medians of `rounds` round-robin
    timings in one run, GOP/s of the dense work (layer 1 once, layers 2-5 every step) and its
    fraction of the matmul peak of the arithmetic the path uses (`peaks`: {"float32": ...,
    "int8": ...} measured in the same run)."""
    from snnjax.snn import choose_method, float32_only, group_rows

    peaks = peaks or {"float32": 1.0, "int8": 1.0}
    nets = {"own": snn, "float32": float32_only(snn)}
    rows = []
    rng = np.random.default_rng(1)
    for T in Ts:
        for B in Bs:
            obs = jnp.asarray(rng.integers(0, 256, (B, 4, 84, 84), dtype=np.uint8))
            paths = simulation_paths(T, B)
            fns = {name: FastJit(fn) for name, (fn, _) in paths.items()}
            secs = {name: [] for name in fns}
            for _ in range(rounds):
                for name, fn in fns.items():
                    # >= 0.2 s: several calls when short
                    secs[name].append(best_time(fn, nets[paths[name][1]], obs, repeat=1, min_time=0.2))
            method, chunk = choose_method(B, T)
            group = group_rows(B)
            row = {"T": T, "B": B, "default_method": f"{method} (chunk {chunk})"
                   + (f", groups of {group}" if group else ""), "paths": {},
                   "mflop_once": (2 * flops_per_decision(snn, 1) - flops_per_decision(snn, 2)) / 1e6,
                   "mflop_per_step": (flops_per_decision(snn, 2) - flops_per_decision(snn, 1)) / 1e6}
            for name, s in secs.items():
                dps = B / float(np.median(s))
                gflops = dps * flops_per_decision(snn, T) / 1e9
                arith = "int8" if (paths[name][1] == "own" and snn.int8) else "float32"
                row["paths"][name] = {"decisions_per_s": dps, "gflops": gflops, "arithmetic": arith,
                                      "frac_peak": gflops / peaks[arith]}
            # Other programs than the default's own: the per-step scan is the default's program when
            # the default picked it in one vmap; the 512-row chunks when they give its chunk length.
            same = set() if group else {"reference"} if method == "reference" else (
                {"chunked-512"} if auto_chunk(B, T, rows=512) == chunk else set())
            others = [n for n in row["paths"] if n not in same | {"default", "default, full result"}]
            row["best_other"] = max(others, key=lambda n: row["paths"][n]["decisions_per_s"])
            dflt = row["paths"]["default"]["decisions_per_s"]
            row["default_vs_best_other"] = dflt / row["paths"][row["best_other"]]["decisions_per_s"]
            row["default_vs_previous"] = dflt / row["paths"]["previous default"]["decisions_per_s"]
            row["default_vs_float32"] = dflt / row["paths"]["float32"]["decisions_per_s"]
            log(f"T={T:4d} B={B:3d} " + " | ".join(f"{n} {p['decisions_per_s']:.2f}" for n, p in row["paths"].items())
                + f" | default / previous x{row['default_vs_previous']:.2f}, / best other "
                f"x{row['default_vs_best_other']:.2f}, {row['paths']['default']['frac_peak']:.2f} of its peak")
            rows.append(row)
    return rows


def bench_update(log=print) -> dict:
    """One jitted batch-32 DQN update (Double DQN, Adam, target bookkeeping) against the bare math."""
    from snnjax.rl.config import TrainConfig
    from snnjax.rl.dqn import init_state, make_optimizer, make_update

    net = NatureDQN(6)
    rng = np.random.default_rng(0)
    batch = dict(obs=rng.integers(0, 256, (32, 4, 84, 84), dtype=np.uint8),
                 next_obs=rng.integers(0, 256, (32, 4, 84, 84), dtype=np.uint8),
                 action=rng.integers(0, 6, 32).astype(np.int32), ret=np.ones(32, np.float32),
                 discount=np.full(32, 0.99, np.float32))
    out = {}
    for double in (False, True):
        cfg = TrainConfig(env_id="Breakout-v5", network="nature", optimizer="adam", double_dqn=double)
        opt = make_optimizer(cfg)
        state = init_state(cfg, net, opt, (4, 84, 84))
        update = FastJit(make_update(cfg, net, opt))

        def bare(params, target, b):  # forward passes + backward of the same loss, nothing else
            def loss(p):
                q = net.apply({"params": p}, b["obs"])
                qn = net.apply({"params": target}, b["next_obs"])
                if double:
                    qo = net.apply({"params": p}, b["next_obs"])
                    qn = jnp.take_along_axis(qn, jnp.argmax(qo, -1)[:, None], 1)[:, 0]
                else:
                    qn = qn.max(-1)
                tgt = jax.lax.stop_gradient(b["ret"] + b["discount"] * qn)
                return jnp.mean((jnp.take_along_axis(q, b["action"][:, None], 1)[:, 0] - tgt) ** 2)
            return jax.grad(loss)(params)

        def fwd_bwd(params, b):  # the network alone: one forward and backward on 32 frames
            return jax.grad(lambda p: net.apply({"params": p}, b["obs"]).sum())(params)

        # Interleaved rounds, best of each: a noisy neighbour hits all three alike.
        fns = ((lambda s, b: update(s, b)[1]["loss"], (state, batch)),
               (FastJit(bare), (state.params, state.target_params, batch)),
               (FastJit(fwd_bwd), (state.params, batch)))
        best = [float("inf")] * 3
        for _ in range(5):
            for i, (fn, fargs) in enumerate(fns):
                best[i] = min(best[i], best_time(fn, *fargs, repeat=1, min_time=0.3))
        t_up, t_bare, t_fb = best
        key = "double" if double else "dqn"
        out[key] = {"update_ms": 1e3 * t_up, "bare_loss_grad_ms": 1e3 * t_bare, "net_fwd_bwd_ms": 1e3 * t_fb,
                    "ratio_vs_bare": t_up / t_bare}
        log(f"update ({key}): {1e3 * t_up:.1f} ms | same loss, grad only: {1e3 * t_bare:.1f} ms "
            f"(x{t_up / t_bare:.2f}) | network fwd+bwd: {1e3 * t_fb:.1f} ms")
    return out


def bench_evaluation(snn, game: str = "Breakout-v5", T: int = 100, Es=(1, 16, 64, 256), log=print) -> list[dict]:
    """Throughput of side-by-side evaluation: one SNN agent + the DQN agent, E envs each."""
    from snnjax.rl import agents
    from snnjax.rl.agents import dqn_agent

    _, n_actions = envs.env_info(game)
    snn = bench_network(n_actions)
    pop = jax.tree_util.tree_map(lambda x: x[None], snn)
    rows = []
    for E in Es:
        steps = max(3, 300 // E)
        agent = agents.side_by_side(agents.snn_agent(n_actions, T, (T,), batch=E), dqn_agent(snn))
        step = FastJit(lambda p, o, k: agent.act(p, o, k)[0])
        env = envs.make_eval_env(game, 2 * E, 0)
        obs, _ = env.reset()
        key = jax.random.key(0)
        jax.block_until_ready(step((pop, snn), jnp.asarray(obs).reshape(2, E, *obs.shape[1:]), key))  # compile
        t_env = t_pol = 0.0
        for _ in range(steps):
            t0 = time.perf_counter()
            act = np.asarray(step((pop, snn), jnp.asarray(obs).reshape(2, E, *obs.shape[1:]), key)).reshape(-1)
            t1 = time.perf_counter()
            obs, *_ = env.step(act)
            t2 = time.perf_counter()
            t_pol += t1 - t0
            t_env += t2 - t1
        env.close()
        wall = t_env + t_pol
        row = {"episodes": E, "decisions_per_s": steps * E / wall, "env_steps_per_s": steps * 2 * E / wall,
               "snn_share": t_pol / wall, "env_share": t_env / wall}
        log(f"eval E={E:3d} T={T}: {row['decisions_per_s']:7.2f} SNN decisions/s, {row['env_steps_per_s']:7.1f} "
            f"env steps/s, time: SNN+DQN {100 * row['snn_share']:.0f}% / emulator {100 * row['env_share']:.0f}%")
        rows.append(row)
    return rows


def markdown(peaks: dict, sim_rows, upd, eval_rows, note: str = "", peak_n: int = 2048) -> str:
    """peaks: {dtype: (before, after)} matmul peaks measured before and after the simulator ran."""
    v = report.versions()
    lines = [f"## `snnjax bench` — {datetime.date.today().isoformat()}, {jax.devices()[0].device_kind}", "",
             f"Machine: {platform.processor() or platform.machine()}, {jax.local_device_count()} "
             f"{jax.default_backend().upper()} device(s), {__import__('os').cpu_count()} cores; "
             f"jax {v.get('jax')}, flax {v.get('flax')}, envpool {v.get('envpool')}; fast CPU compile option "
             f"{'on for float32 programs' if fast_options_supported() else 'not accepted'}. {note}", "",
             f"Matmul peaks ({peak_n}^3 in JAX, measured in this run before and after the simulator; fractions "
             "of peak use the higher): " + "; ".join(
                 f"{k} {x[0]:.0f} / {x[1]:.0f} G{'OP' if k == 'int8' else 'FLOP'}/s" for k, x in peaks.items()) + ".", "",
             "### SNN simulation (Nature-DQN, int8 x per-channel-scale weights normalized at p=99), decisions/s",
             "",
             "Medians of round-robin timings in this run. `default` is what `simulate` and the agents run: "
             "int8 spikes x int8 kernels -> int32 wherever the weights factor (every shipped network, "
             "layer-wise normalization); `float32` is the same program on the float32 weights; "
             "`previous default` is the float32 simulator before int8 propagation (potential carried "
             "as V, its own path choice); `naive` a float32 per-step loop; `reference` and `chunked-512` "
             "other paths on int8; `default, full result` returns every per-layer count and potential. "
             "Cells: decisions/s (fraction of the peak of the path's arithmetic: int8 GOP/s for int8 "
             "paths, float32 GFLOP/s otherwise), counting the dense work of the layer-1-once algorithm "
             f"({sim_rows[0]['mflop_once'] if sim_rows else 0:.1f} MOP + T x "
             f"{sim_rows[0]['mflop_per_step'] if sim_rows else 0:.1f} MOP per decision) for every path.", ""]
    names = list(sim_rows[0]["paths"]) if sim_rows else []
    lines += ["| T | agents | default path | " + " | ".join(names) + " | default / previous default | "
              "default / float32 | default / best other program |", "|---" * (len(names) + 6) + "|"]
    for r in sim_rows:
        lines.append(f"| {r['T']} | {r['B']} | {r['default_method']} | "
                     + " | ".join(f"{r['paths'][n]['decisions_per_s']:.2f} ({r['paths'][n]['frac_peak']:.2f})"
                                  for n in names)
                     + f" | {r['default_vs_previous']:.2f}x | {r['default_vs_float32']:.2f}x "
                     f"| {r['default_vs_best_other']:.2f}x ({r['best_other']}) |")
    if upd:
        lines += ["", "### One jitted batch-32 training update (Nature-DQN, Adam)", "",
                  "| variant | update (ms) | same loss, gradient only (ms) | update / gradient | network fwd+bwd alone (ms) |",
                  "|---|---|---|---|---|"]
        for k, r in upd.items():
            lines.append(f"| {k} | {r['update_ms']:.1f} | {r['bare_loss_grad_ms']:.1f} | {r['ratio_vs_bare']:.2f} "
                         f"| {r['net_fwd_bwd_ms']:.1f} |")
    if eval_rows:
        lines += ["", "### Evaluation throughput (Breakout-v5, T=100, one SNN agent + the DQN agent)", "",
                  "| parallel episodes | SNN decisions/s | env steps/s | time in SNN+DQN | time in emulator |",
                  "|---|---|---|---|---|"]
        for r in eval_rows:
            lines.append(f"| {r['episodes']} | {r['decisions_per_s']:.2f} | {r['env_steps_per_s']:.1f} "
                         f"| {100 * r['snn_share']:.0f}% | {100 * r['env_share']:.0f}% |")
    return "\n".join(lines) + "\n"


def run(out: str | Path = "BENCHMARKS.md", Ts=(100, 500), Bs=(1, 16, 64, 256), Es=(1, 16, 64, 256),
        update: bool = True, evaluation: bool = True, note: str = "", dtype: str = "default",
        section: str = "cpu", log=print, peak_n: int = 2048) -> str:
    """peak_n: the matmul size n (n x n x n) of the peaks every fraction is measured against.
    dtype: "default" benchmarks the network as `simulate` runs it (int8 spike propagation:
    the bench network's weights factor); "float32" without its int8 factorization; "bfloat16"
    the bf16 matmul mode (`to_bfloat16`, for accelerators)."""
    from snnjax.snn import float32_only, to_bfloat16

    before = {d: matmul_peak(peak_n, dtype=d) for d in PEAK_DTYPES}
    log("matmul peaks: " + ", ".join(f"{d} {x:.1f}" for d, x in before.items()))
    snn = bench_network()
    if dtype == "float32":
        snn = float32_only(snn)
        note = f"{note} Network without its int8 factorization: every path float32.".strip()
    elif dtype == "bfloat16":
        snn = to_bfloat16(snn)
        note = f"{note} Simulation in bf16 matmul mode (layers 2-5 bf16 weights, fp32 accumulation).".strip()
    sim_rows = bench_simulation(snn, Ts, Bs, before, log=log)
    # The machine is shared: the peaks are measured again after the simulator runs and the
    # fractions use the higher of the two (the conservative choice).
    after = {d: matmul_peak(peak_n, dtype=d) for d in PEAK_DTYPES}
    log("matmul peaks after the simulator runs: " + ", ".join(f"{d} {x:.1f}" for d, x in after.items()))
    best = {d: max(before[d], after[d]) for d in PEAK_DTYPES}
    for r in sim_rows:
        for path in r["paths"].values():
            path["frac_peak"] = path["gflops"] / best[path["arithmetic"]]
    upd = bench_update(log) if update else {}
    eval_rows = bench_evaluation(snn, Es=Es, log=log) if evaluation else []
    md = markdown({d: (before[d], after[d]) for d in PEAK_DTYPES}, sim_rows, upd, eval_rows, note, peak_n)
    write_section(Path(out), section, md)
    return md


def write_section(path: Path, name: str, body: str) -> None:
    """BENCHMARKS.md's section NAME (`report.write_section` between `report.bench_markers(NAME)`)."""
    report.write_section(path, body, *report.bench_markers(name), empty="# Benchmarks\n")
