#!/usr/bin/env python
"""Channel-wise normalization on int8: what requantizing costs in agreement and gains in speed.

usage: python bench/channelwise_int8.py [GAME] [T]   (default Breakout-v5, T = 100)

Channel-wise lambdas (Kim et al. 2020) scale every input channel of a layer differently, so the
converted weights are no longer int8 x one scale per output channel and the simulator runs them
in float32. The option measured here: requantize them per output channel (symmetric max-abs /
127, as the shipped files) and run int8. On held-out frames of the shipped DQN's own play (every
64th step of one episode stream, disjoint from the 15,000 calibration frames) it prints the
conversion rate (eq. 18, robust readout) of both against the DQN, their agreement with each
other, and decisions/s side by side. bf16 is not an option on this CPU: XLA upcasts bf16
convolutions to float32 here.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.conversion.normalize import convert, from_qnetwork
from snnjax.nets.checkpoint import dequantize_int8, load_qnetwork, quantize_int8
from snnjax.rl.play import collect_observations
from snnjax.snn import q_values, simulate, to_int8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("game", nargs="?", default="Breakout-v5", help="a shipped model's game (default Breakout-v5)")
    ap.add_argument("T", type=int, nargs="?", default=100, help="time steps per frame (default 100)")
    args = ap.parse_args()
    game, T = args.game, args.T
    ann = from_qnetwork(*load_qnetwork(f"models/{game}.npz"))
    frames = collect_observations(ann, game, 15000)
    held = collect_observations(ann, game, 64 * 256, seed=1)[::64]
    target = np.asarray(jnp.argmax(jax.vmap(lambda o: q_values(ann, o))(jnp.asarray(held)), -1))
    cw = convert(ann, frames, 99.9, channelwise=True)
    assert cw.int8 == (), "channel-wise weights unexpectedly factor"
    rq = to_int8(cw.replace(weights=tuple(jnp.asarray(dequantize_int8(*quantize_int8(np.asarray(w))))
                                          for w in cw.weights)))
    lw = convert(ann, frames, 99.9)
    acts, speed = {}, {}
    for name, net in (("layer-wise (int8)", lw), ("channel-wise float32", cw), ("channel-wise requantized int8", rq)):
        acts[name] = np.asarray(simulate(net, held, T).actions("robust"))
        obs = jnp.asarray(held[:64])
        simulate(net, obs, T)
        t0 = time.perf_counter()
        jax.block_until_ready(simulate(net, obs, T).robust)
        speed[name] = 64 / (time.perf_counter() - t0)
    print(f"{game}, T = {T}, p = 99.9, {len(held)} held-out frames")
    print("| network | conversion rate vs DQN (robust) | decisions/s (B = 64) |\n|---|---|---|")
    for name in acts:
        print(f"| {name} | {100 * (acts[name] == target).mean():.1f}% | {speed[name]:.1f} |")
    same = (acts["channel-wise float32"] == acts["channel-wise requantized int8"]).mean()
    print(f"\nchannel-wise requantized int8 vs float32: same action on {100 * same:.1f}% of frames")


if __name__ == "__main__":
    main()
