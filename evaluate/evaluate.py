"""Thin entry point: `python evaluate/evaluate.py ARGS` == `snnjax evaluate ARGS`."""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
