"""`python -m zlprof` is the `zlprof` command."""

import sys

from .cli import main

sys.exit(main())
