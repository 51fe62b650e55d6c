"""``python -m zlprof.bench [OPTIONS] [-- COMMAND ...]``: bench without cli.py."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
