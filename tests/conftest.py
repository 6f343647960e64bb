import os
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")
warnings.filterwarnings("ignore", message=".*precision lowered by casting.*")

import pathlib  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cartpole_run(tmp_path_factory):
    """Train the CartPole config once with its default budget (about a minute on 2 cores)."""
    from snnjax.rl import config
    from snnjax.rl.training import train

    cfg = config.load(ROOT / "configs" / "cartpole.toml")
    run_dir = tmp_path_factory.mktemp("cartpole") / "run"
    summary = train(cfg, run_dir, progress=False)
    return run_dir, summary


def random_nature(num_actions: int = 6, seed: int = 0, n_obs: int = 5, scale: float = 1 / 255):
    """A randomly initialised Nature-DQN as an analog SpikingNetwork, and random uint8 frames."""
    import jax
    import numpy as np

    from snnjax.conversion.normalize import from_params
    from snnjax.nets.models import NatureDQN, init_params, layer_specs

    net = NatureDQN(num_actions)
    params = init_params(net, (4, 84, 84), jax.random.key(seed))
    ann = from_params(params, layer_specs(net), (4, 84, 84), "chw", scale)
    obs = np.random.default_rng(seed).integers(0, 256, (n_obs, 4, 84, 84), dtype=np.uint8)
    return ann, obs


def assert_identical(a, b):
    """Every leaf of two pytrees equal bit for bit."""
    import jax
    import numpy as np

    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
