"""Thin entry point: `python train/train.py ARGS` == `snnjax train ARGS`."""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
