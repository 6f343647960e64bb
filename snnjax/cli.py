"""The `snnjax` command: `snnjax train|convert|evaluate|sweep|bench ...`.

Bad input (unknown game, unknown config key, bad numbers, missing or corrupt checkpoints)
ends in a one-line `snnjax: error: ...` message and exit status 2, never a traceback wall.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class UsageError(ValueError):
    """A bad argument value detected by the CLI itself."""


def _known_errors():
    from snnjax.checkpoint import CheckpointError
    from snnjax.config import ConfigError
    from snnjax.envs import EnvError

    return (UsageError, ConfigError, EnvError, CheckpointError)


def cmd_train(args) -> int:
    from snnjax import config as config_mod
    from snnjax.dqn import train

    cfg = config_mod.load(args.config, args.set)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / f"{cfg.env_id}-seed{cfg.seed}"
    summary = train(cfg, run_dir, resume=args.resume, overwrite=args.overwrite,
                    progress=not args.no_progress)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, list)}, indent=2))
    print(f"run folder: {run_dir}  (Q-network: {run_dir / 'qnetwork.npz'})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnjax", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a DQN on an envpool environment")
    t.add_argument("--config", required=True, help="TOML config file (see configs/)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set env_id=Pong-v5")
    t.add_argument("--run-dir", help="output folder (default runs/<env_id>-seed<seed>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its latest checkpoint")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
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
