#!/usr/bin/env python
"""Our NIR export run by another toolchain: Sinabs' own NIR importer (`sinabs.from_nir`).

usage: python bench/nir_sinabs.py [GAME] [T] [FRAMES] [--as-paper]   (default Breakout-v5, T = 100, 32 frames)

Converts the shipped DQN of GAME (p = 99.9 on 2,000 calibration frames), exports it to NIR
(`snnjax.conversion.nir.to_nir`), imports the graph with Sinabs and runs both on the same real
frames for T steps (the frame / 255 as a constant input current every step). Prints, per layer,
the spike counts of both and how far apart they are, and the share of frames whose greedy action
(spike count of the output layer, ties to the lowest index) agrees.

Sinabs imports an NIR IF node as `IAFSqueeze(spike_threshold=V_thr, min_v_mem=-V_thr)` with its
default `MultiSpike` (floor(V / V_thr) spikes in one step) and reset by subtraction: our neuron
also resets by subtraction, but emits at most one spike a step and has no lower bound on V.
Needs `pip install sinabs` (it pins nir <= 1.0.4, whose IF node has no v_reset; the export then
leaves it out).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("game", nargs="?", default="Breakout-v5")
    ap.add_argument("T", type=int, nargs="?", default=100)
    ap.add_argument("frames", type=int, nargs="?", default=32)
    ap.add_argument("--as-paper", action="store_true",
                    help="after the import, set every IF layer to the paper's neuron: one spike a step "
                         "(SingleSpike) and no lower bound on V (min_v_mem = None)")
    args = ap.parse_args()

    import sinabs.layers as sl
    import torch
    from sinabs import from_nir

    from snnjax.conversion.nir import to_nir
    from snnjax.conversion.normalize import convert, from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import collect_observations
    from snnjax.snn import simulate

    ann = from_qnetwork(*load_qnetwork(f"models/{args.game}.npz"))
    cal = collect_observations(ann, args.game, 2000, seed=0)
    frames = collect_observations(ann, args.game, args.frames * 8, seed=1)[::8]
    snn = convert(ann, cal, 99.9)
    B, T = len(frames), args.T
    model = from_nir(to_nir(snn, time_steps=T), batch_size=B)
    counts = {}
    for name, mod in model.named_modules():
        if isinstance(mod, sl.IAFSqueeze):
            if args.as_paper:
                from sinabs.activation import SingleSpike

                mod.spike_fn, mod.min_v_mem = SingleSpike, None
            mod.register_forward_hook(lambda m, i, o, name=name: counts.__setitem__(name, o.detach().numpy()))
    x = torch.as_tensor(frames / 255.0, dtype=torch.float32)
    with torch.no_grad():
        model(x.unsqueeze(1).repeat(1, T, 1, 1, 1).reshape(B * T, *x.shape[1:]))  # [B*T, ...], batch-major
    ours = simulate(snn, frames, T, arithmetic="float32")
    how = "IF layers set to SingleSpike, min_v_mem = None" if args.as_paper else "as imported"
    print(f"{args.game}, T = {T}, {B} frames; Sinabs {__import__('sinabs').__version__} via sinabs.from_nir ({how})")
    print("| layer | spikes (snnjax) | spikes (Sinabs) | max spikes of a neuron in one step (Sinabs) "
          "| neurons whose count differs | mean abs count difference |")
    print("|---|---|---|---|---|---|")
    theirs_out = None
    for (name, o), n_ours in zip(counts.items(), ours.spike_counts):
        o = o.reshape(B, T, *o.shape[1:])
        per_step_max = float(o.max())
        c = o.sum(1)
        if c.ndim == 4:
            c = c.transpose(0, 2, 3, 1)  # NCHW -> our NHWC
        n_ours = np.asarray(n_ours)
        print(f"| {name} | {n_ours.sum():.0f} | {c.sum():.0f} | {per_step_max:.0f} | "
              f"{100 * (c != n_ours).mean():.1f}% | {np.abs(c - n_ours).mean():.3f} |")
        theirs_out = c
    agree = (np.asarray(ours.actions("normal")) == theirs_out.argmax(-1)).mean()
    print(f"\ngreedy actions (spike counts of the output layer) agree on {100 * agree:.1f}% of frames")


if __name__ == "__main__":
    main()
