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
    from snnjax import config
    from snnjax.dqn import train

    cfg = config.load(ROOT / "configs" / "cartpole.toml")
    run_dir = tmp_path_factory.mktemp("cartpole") / "run"
    summary = train(cfg, run_dir, progress=False)
    return run_dir, summary
