"""The ``zlprof`` subcommands, one module each: its options (``add_parser``) and its
handler (``run(args, command)``; the original ``cmd_*`` function beside it).

``COMMANDS`` lists them in the order ``zlprof --help`` shows them. What several share
(exit statuses, UserError, option helpers) is in :mod:`.common`; the parser assembly and
the dispatch are in :mod:`zlprof.cli`. Every handler imports what it needs when it runs,
so building the parser stays cheap.
"""

from __future__ import annotations

from . import bench, diff, export, live, record, replay, report, roofline, sessions

#: the subcommand modules, in the order of ``zlprof --help``
COMMANDS = (live, record, replay, report, export, diff, roofline, bench, sessions)

__all__ = ["COMMANDS"]
