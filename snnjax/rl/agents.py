"""Agents: every policy is one pure, jit-able function over an agents x envs batch.

    act(params, obs [A, E, *obs_shape], key, eps) -> (actions [A, E] int32, aux)

A = agents (a population of converted SNNs, the DQN, a random agent, or several side by side),
E = envs per agent. Every agent has a *greedy* part (its own choice, with `aux`: what callers
may count, e.g. every readout's action) and the ONE epsilon-greedy of the project on top.

Exploration draws are shared by all agents in an env: env e of every agent sees the same draws,
so two agents that choose the same greedy actions play the same games. With `env_index` (what
`snnjax.rl.play` passes) env e's draws come from `fold_in(key, env_index[e])`: they do not depend
on how many envs, devices or processes share the work. Without it (the trainer) one draw of
shape [E] is taken from `key`, as the trainer always has, so trained DQNs stay reproducible.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

from snnjax.snn import (
    SpikingNetwork,
    choose_method,
    group_rows,
    map_rows,
    one_cpu_device,
    population_axes,
    q_values,
    shares_kernels,
    simulate_fn,
)
from snnjax.snn import readout as ro


def epsilon_greedy(key: jax.Array, greedy: jax.Array, eps, num_actions: int,
                   env_index: jax.Array | None = None) -> jax.Array:
    """Replace greedy actions [..., E] by a uniform random action with probability eps.

    One uniform draw and one random action per env (the last axis), shared by the leading axes.
    env_index [E] (or [..., E], one per row of `greedy`): per-env keys `fold_in(key, env index)`,
    so an env's draws do not depend on which rows sit beside it; None: one draw of shape [E]."""
    n_envs = greedy.shape[-1]
    if env_index is None:
        k1, k2 = jax.random.split(key)
        rand = jax.random.randint(k1, (n_envs,), 0, num_actions)
        explore = jax.random.uniform(k2, (n_envs,)) < eps
    else:
        def one(i):
            k1, k2 = jax.random.split(jax.random.fold_in(key, i))
            return jax.random.randint(k1, (), 0, num_actions), jax.random.uniform(k2, ()) < eps

        rand, explore = jax.vmap(one)(env_index.reshape(-1))
        rand, explore = rand.reshape(env_index.shape), explore.reshape(env_index.shape)
    return jnp.where(explore, rand, greedy).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class Agent:
    """greedy(params, obs [A, E, ...]) -> (greedy actions [A, E], aux {name: [A, E, ...]}).

    `act` adds exploration; `eps` is the default exploration rate."""

    greedy: Callable[[Any, jax.Array], tuple[jax.Array, dict]]
    num_actions: int
    eps: float = 0.05

    def act(self, params, obs, key, eps=None, env_index=None):
        greedy, aux = self.greedy(params, obs)
        eps = self.eps if eps is None else eps
        return epsilon_greedy(key, greedy, eps, self.num_actions, env_index), aux


def q_agent(q_batch: Callable[[Any, jax.Array], jax.Array], num_actions: int, eps: float = 0.05) -> Agent:
    """A DQN: one Q-network (params without an agent axis) plays every row.

    q_batch(params, obs [B, ...]) -> Q [B, num_actions]; aux: {"actions": greedy [A, E, 1]}."""

    def greedy(params, obs):
        a, e = obs.shape[:2]
        q = q_batch(params, obs.reshape((a * e, *obs.shape[2:]))).reshape((a, e, -1))
        g = ro.select_action(q)
        return g, {"actions": g[..., None]}

    return Agent(greedy, num_actions, eps)


def flax_q(network) -> Callable:
    """q_batch of a Flax Q-network module (the trainer's)."""
    return lambda params, obs: network.apply({"params": params}, obs)


def ann_q(ann, obs) -> jax.Array:
    """q_batch of the converter's network (a SpikingNetwork run as the ANN)."""
    return jax.vmap(q_values, in_axes=(None, 0))(ann, obs)


def snn_agent(num_actions: int, time_steps: int, times: tuple[int, ...], readout: str = "robust",
              input_encoding: str = "constant", initial_potential: float = 0.0, batch: int | None = None,
              eps: float = 0.05, group: int | None = None) -> Agent:
    """A population of converted SNNs: params = P networks stacked on a leading axis, obs [P, E, ...].

    Each network is simulated for `time_steps` steps per observation (eqs. 1-3; the fastest path
    for `batch` observations, `snn.choose_method`; None: for the P x E of each call, static under
    jit, so a play loop that steps fewer envs gets the path for fewer) and acts on `readout` at T.
    aux: {"actions": [P, E, 3, K]}, the action of every readout (ro.READOUTS) at every any-time
    step of `times` (T last). Only readouts leave the jitted step, so XLA drops the per-layer
    counts and potentials (readout-only: 1-7% faster than returning them, BENCHMARKS.md).
    group: observations per vmap (`snn.group_rows` of the batch unless given, 0 = all at once): a
    network with E >= group observations runs them in groups of `group` (bit-exact either way).
    Networks that share their int8 kernels (`snn.shares_kernels`: one DQN at several
    percentiles) run as one vmap whose every layer is one convolution over all P x E spike maps.
    Otherwise, on one CPU device the networks run one after another (`lax.map`): a vmap over
    networks with different weights makes every convolution a grouped one, several times slower
    (`bench/population.py`, BENCHMARKS.md); accelerators and several devices take them together."""
    ro.check_readout(readout)

    @functools.cache
    def path(rows: int) -> tuple[Callable, int]:  # (one network's simulation, group) for `rows` observations
        fn = simulate_fn(time_steps, times, input_encoding, *choose_method(rows, time_steps))
        return fn, group_rows(rows) if group is None else int(group)

    def greedy(pop, obs):
        one, grp = path(obs.shape[0] * obs.shape[1] if batch is None else int(batch))

        def per_network(args):  # one network, its E observations
            net, o = args
            return map_rows(lambda x: one(net, x, initial_potential=initial_potential), o,
                            grp if grp and o.shape[0] >= grp else 0)

        if shares_kernels(pop):  # one convolution per layer over every network's observations
            res = jax.vmap(per_network, in_axes=((population_axes(pop), 0),))((pop, obs))
        elif one_cpu_device():
            res = jax.lax.map(per_network, (pop, obs))
        else:
            res = jax.vmap(per_network)((pop, obs))
        reads = jnp.stack([res.normal_t, res.robust_t, res.membrane_t], axis=2)  # [P, E, 3, K, A]
        acts = ro.select_action(reads)
        return acts[:, :, ro.READOUTS.index(readout), -1], {"actions": acts}

    return Agent(greedy, num_actions, eps)


def random_agent(num_actions: int) -> Agent:
    """Uniformly random actions: the one epsilon-greedy with eps = 1 (params unused)."""
    return Agent(lambda params, obs: (jnp.zeros(obs.shape[:2], jnp.int32), {}), num_actions, eps=1.0)


def side_by_side(agent: Agent, reference: Agent) -> Agent:
    """Agents of `agent` (params[0], rows 0..P-1) beside `reference` (params[1], one more row).

    obs [P + 1, E, ...]: the reference acts on the last row and is also asked on rows 0..P-1, so
    aux["match"] [P, E, ...] says where each of `agent`'s aux["actions"] equals the reference's
    greedy action on the same observation (eq. 18's numerator). Both must share num_actions."""
    if agent.num_actions != reference.num_actions:
        raise ValueError(f"agents have {agent.num_actions} and {reference.num_actions} actions")

    def greedy(params, obs):
        mine, aux = agent.greedy(params[0], obs[:-1])
        ref, _ = reference.greedy(params[1], obs)  # [P + 1, E]
        acts = aux["actions"]
        ref_b = ref[:-1].reshape(ref[:-1].shape + (1,) * (acts.ndim - 2))
        return jnp.concatenate([mine, ref[-1:]], axis=0), {"match": acts == ref_b}

    return Agent(greedy, agent.num_actions, agent.eps)


def dqn_agent(ann: SpikingNetwork, eps: float = 0.05) -> Agent:
    """The DQN as an agent: the converter's ANN (the shipped Q-network), Q-values by `q_values`."""
    return q_agent(ann_q, ann.num_actions, eps)
