"""Q-networks: the Nature-DQN (Mnih et al. 2015) and a small MLP for vector observations.

Every layer is named and `LAYER_ORDER` gives the order the converter walks, so code that
rewrites weights addresses layers by name, never by dict order (`Dense_10` sorts before
`Dense_2`). Both networks end in a linear output layer and use ReLU everywhere else, which is
what the DQN-to-SNN conversion of Tan et al. (2021) assumes.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ATARI_OBS_SHAPE = (4, 84, 84)


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One weighted layer as the converter and the simulator see it.

    kind: "conv" (kernel HWIO, input HWC, VALID padding) or "dense" (kernel [in, out]; the
    input is flattened in C-order, i.e. H, W, C for a conv feature map).
    """

    name: str
    kind: str
    stride: int = 1
    padding: str = "VALID"


class NatureDQN(nn.Module):
    """Mnih et al. (2015): conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1, dense 512, dense A.

    Input: uint8 (or float) observations [B, 4, 84, 84], channel-first as envpool gives them;
    scaled to [0, 1] by /255 inside, which is the SNN's input current (paper, eq. 9-11).
    Output: Q-values [B, A]. Feature map after conv3: 7 x 7 x 64 = 3136 (VALID padding).
    """

    num_actions: int

    LAYERS = (
        LayerSpec("conv1", "conv", 4),
        LayerSpec("conv2", "conv", 2),
        LayerSpec("conv3", "conv", 1),
        LayerSpec("fc1", "dense"),
        LayerSpec("q", "dense"),
    )

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = jnp.transpose(obs, (0, 2, 3, 1)).astype(jnp.float32) / 255.0  # NCHW -> NHWC
        x = nn.relu(nn.Conv(32, (8, 8), (4, 4), padding="VALID", name="conv1")(x))
        x = nn.relu(nn.Conv(64, (4, 4), (2, 2), padding="VALID", name="conv2")(x))
        x = nn.relu(nn.Conv(64, (3, 3), (1, 1), padding="VALID", name="conv3")(x))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(512, name="fc1")(x))
        return nn.Dense(self.num_actions, name="q")(x)


class MLPQNetwork(nn.Module):
    """Small Q-network for vector observations (CartPole): dense(h) ReLU ... dense A.

    Input: float observations [B, D], used as given (no scaling); Output: Q-values [B, A].
    """

    num_actions: int
    hidden: Sequence[int] = (64, 64)

    @property
    def LAYERS(self) -> tuple[LayerSpec, ...]:  # noqa: N802 - mirrors NatureDQN.LAYERS
        return tuple(LayerSpec(f"fc{i + 1}", "dense") for i in range(len(self.hidden))) + (
            LayerSpec("q", "dense"),
        )

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs.astype(jnp.float32)
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, name=f"fc{i + 1}")(x))
        return nn.Dense(self.num_actions, name="q")(x)


def make_network(kind: str, num_actions: int, hidden: Sequence[int] = (64, 64)) -> nn.Module:
    """Build a Q-network by name: "nature" (Atari) or "mlp" (vector observations)."""
    if kind == "nature":
        return NatureDQN(num_actions)
    if kind == "mlp":
        return MLPQNetwork(num_actions, tuple(hidden))
    raise ValueError(f"unknown network {kind!r}; allowed: 'nature', 'mlp'")


def network_from_meta(meta: dict) -> nn.Module:
    """The Q-network a Q-network file's metadata names (network kind, action count, MLP widths)."""
    return make_network(meta["network"], int(meta["num_actions"]), meta.get("mlp_hidden", (64, 64)))


def layer_specs(network: nn.Module) -> tuple[LayerSpec, ...]:
    """The explicit layer order of a Q-network, input to output."""
    return tuple(network.LAYERS)


def input_scale(network: nn.Module) -> float:
    """Factor that maps raw observations to the network's first-layer input."""
    return 1.0 / 255.0 if isinstance(network, NatureDQN) else 1.0


def init_params(network: nn.Module, obs_shape: Sequence[int], key: jax.Array):
    """Initialise parameters for observations of shape `obs_shape` (no batch axis)."""
    dummy = jnp.zeros((1, *obs_shape), jnp.uint8 if len(obs_shape) == 3 else jnp.float32)
    return network.init(key, dummy)["params"]


def param_count(params) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(params)))
