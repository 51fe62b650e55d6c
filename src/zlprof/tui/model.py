"""The app's view models, re-exported from :mod:`zlprof.tui.viewmodels` (one module per
view) so ``from zlprof.tui import model`` / ``zlprof.tui.model.X`` keep working.
Nothing is defined here."""

from __future__ import annotations

from .viewmodels import *  # noqa: F403
from .viewmodels import __all__ as __all__
