"""Names shown for things zlprof profiles (one definition, used by every view).

Layer grouping: a call path's part that names one of a model's repeated layers
(``layer3``, ``block_12``, ``h.0``, ``layers.7``, a bare ``5``) is what
:func:`layer_index` reads and :func:`layer_key` takes out, so every layer's copy of a
block shares one key (the roofline's points, the app's grouped time shares):

    "forward_pass/layer3/mlp.gate_up" -> "forward_pass/layer*/mlp.gate_up"
    "m/h.3/attn" -> "m/h.*/attn"      "x/7/y" -> "x/#*/y"      "x/fp32" -> "x/fp32"

``program_name(argv)`` is the short readable name of a profiled program, from the argv
its hello frame recorded (the child's own ``sys.argv``, or the command zlprof started):

    ["python", "/a/b/prog.py", "x"]                     -> "prog.py x"
    ["/usr/bin/python3", "-m", "mypkg.run", "--n", "3"]  -> "mypkg.run --n 3"
    [".../site-packages/zlprof/workload/__main__.py", "--preset", "tiny"]
                                                        -> "zlprof.workload --preset tiny"
    ["/bin/mytool", "-v"]                               -> "mytool -v"
    []                                                  -> "?"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePath

# interpreter options that take a value (``python -X dev prog.py``)
_PYTHON_OPTS_WITH_VALUE = frozenset({"-X", "-W", "--check-hash-based-pycs"})
_PACKAGE_ROOTS = frozenset({"site-packages", "dist-packages"})


def program_name(argv: Sequence[object]) -> str:
    """The short readable name of the program ``argv`` runs (see the module docstring)."""
    words = [str(a) for a in argv]
    if not words:
        return "?"
    head = PurePath(words[0]).name
    rest = words[1:]
    if _is_python(head):
        while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c", "-"):
            opt = rest.pop(0)
            if opt in _PYTHON_OPTS_WITH_VALUE and rest:
                rest.pop(0)
        if not rest:
            return head
        if rest[0] == "-m" and len(rest) >= 2:
            return " ".join(rest[1:])
        if rest[0] in ("-c", "-"):
            return " ".join([head, rest[0]])
        return " ".join([script_name(rest[0]), *rest[1:]])
    return " ".join([script_name(words[0]), *rest])


def script_name(path: str) -> str:
    """A script's file name; a package's ``__main__.py`` is named as ``python -m`` names it."""
    p = PurePath(path)
    if p.name != "__main__.py" or len(p.parts) < 2:
        return p.name
    dirs = list(p.parts[:-1])
    for i in range(len(dirs) - 1, -1, -1):  # below site-packages: the dotted module path
        if dirs[i] in _PACKAGE_ROOTS:
            return ".".join(dirs[i + 1 :]) or p.name
    names = []
    d = Path(p.parent)  # a source checkout on this machine: walk up the packages
    while (d / "__init__.py").is_file():
        names.append(d.name)
        d = d.parent
    if names:
        return ".".join(reversed(names))
    return p.parent.name  # (a recording from elsewhere: the package's own name)


def _is_python(name: str) -> bool:
    """``python``, ``python3``, ``python3.12``, ``pythonw`` (and ``.exe`` forms)."""
    stem = name.removesuffix(".exe")
    return stem.startswith("python") and all(c.isdigit() or c in ".w" for c in stem[6:])


#: A path part that names one of a model's repeated layers: ``layer3``, ``block_12``,
#: ``h.0``, ``layers.7``, or a bare index. Group 1 is the stem, group 2 the index.
LAYER_PART = re.compile(r"^((?:layers?|blocks?|h|l)[._-]?|)(\d+)$", re.IGNORECASE)


def layer_index(part: str) -> int | None:
    """The layer number a path part names (``layer3`` -> 3), else None."""
    m = LAYER_PART.match(part)
    return int(m.group(2)) if m else None


def layer_key(full: str) -> str:
    """A path with its layer numbers taken out: every layer's copy of a block shares it
    (``forward_pass/layer3/mlp.gate_up`` -> ``forward_pass/layer*/mlp.gate_up``; a bare
    index ``7`` -> ``#*``). Other numbered names (``fp32``, ``fc1``) are kept."""
    out = []
    for p in full.split("/"):
        m = LAYER_PART.match(p)
        out.append(f"{m.group(1) or '#'}*" if m else p)
    return "/".join(out)
