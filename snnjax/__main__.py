"""`python -m snnjax ...` == `snnjax ...`."""

import sys

from snnjax.cli import main

sys.exit(main())
