"""The time-share panel: short and unique op labels, layer-grouped blocks and the
share bars (:func:`share_bars`). Layer names come from zlprof.naming; no widgets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...naming import layer_index
from ...naming import layer_key as block_key
from ...session import OpRow

# --------------------------------------------------------------------------- panels


def short_name(full: str) -> str:
    """The last two parts of a call path (``layer0/attention``): enough to tell ops apart."""
    parts = full.split("/")
    return "/".join(parts[-2:])


def unique_short_names(fulls: list[str]) -> dict[str, str]:
    """Short names, lengthened (more parent parts) where two ops would share one."""
    return _unique_labels(fulls, lambda f, depth: "/".join(f.split("/")[-depth:]), start=2)


def _unique_labels(
    keys: list[str],
    label: Callable[[str, int], str],
    start: int = 1,
    weight: dict[str, float] | None = None,
) -> dict[str, str]:
    """``label(key, depth)`` for each key at the smallest depth (from ``start``) at which
    it is unique; only labels that clash are lengthened.

    With ``weight``: in a clash between keys of different top-level parts (decode's
    ``forward_pass/...`` and ``prefill/...``), the heaviest keeps its shorter label when
    every other key in the clash can be lengthened, so the main phase reads ``mlp`` and
    the lesser one ``prefill mlp``.
    """
    depth_of = dict.fromkeys(keys, start)
    out = {k: label(k, start) for k in keys}
    while True:
        seen: dict[str, list[str]] = {}
        for k, text in out.items():
            seen.setdefault(text, []).append(k)
        clashes = [ks for ks in seen.values() if len(ks) > 1]
        if not clashes:
            return out
        grew = False
        for ks in clashes:
            longer = {k: label(k, depth_of[k] + 1) for k in ks}
            if weight is not None:
                ks = sorted(ks, key=lambda k: weight.get(k, 0.0), reverse=True)
                top = ks[0].split("/", 1)[0]
                if all(k.split("/", 1)[0] != top and longer[k] != out[k] for k in ks[1:]):
                    ks = ks[1:]
            for k in ks:
                depth_of[k] += 1
                grew |= longer[k] != out[k]
                out[k] = longer[k]
        if not grew:
            return out


#: Ancestor parts shortened in per-path labels (the op's own name is never shortened).
ABBREVIATIONS = {"forward_pass": "fwd"}

#: The share panel's modes: self time grouped by block over layers, or one bar per path.
SHARE_MODES = ("block", "path")


def _abbreviate(part: str) -> str:
    i = layer_index(part)
    if i is not None:
        return f"L{i}"
    return ABBREVIATIONS.get(part, part)


def path_label(full: str, depth: int = 1, main: str | None = None) -> str:
    """The last ``depth`` parts of a path, ancestors abbreviated: ``fwd L3 mlp.gate_up``.

    A path inside a layer always names it (``L3``); a path under a top-level op other
    than ``main`` (the busiest) always names that op first, so ``prefill lm_head`` is
    never read as the decode phase's ``lm_head``.
    """
    parts = full.split("/")
    layers = [i for i, p in enumerate(parts[:-1]) if layer_index(p) is not None]
    if layers:  # a per-path label always says which layer: L3 mlp.gate_up
        depth = max(depth, len(parts) - layers[-1])
    tail = parts[-depth:]
    words = [*(_abbreviate(p) for p in tail[:-1]), tail[-1]]
    if main is not None and len(parts) > len(tail) and parts[0] != main:
        words.insert(0, parts[0])
    return " ".join(words)


@dataclass(frozen=True)
class ShareBar:
    label: str
    share: float
    #: the op's full path (per-path bars) or its block key (grouped); "" for the remainder
    full: str = ""
    #: said after the label when there is room: ``×8 layers``
    note: str = ""
    #: paths summed in this bar
    paths: int = 1


def share_title(by: str, threads: int) -> tuple[str, str]:
    """The share panel's title and subtitle: what the shares are of (one thread: wall
    time; several threads or processes: their summed wall time, see
    SessionState.thread_wall_ns)."""
    if threads > 1:
        return f"share of {threads} threads · by {by}", "of their summed wall time"
    return f"time share · by {by}", ""


#: The last bars computed per (by, limit), with the rows list they are of: the Refresher
#: thread computes them for new rows (warm_share_bars), so the UI thread, showing the
#: same rows list, only looks them up (for 2,000 paths they take tens of ms).
_LAST_BARS: dict[tuple[str, int], tuple[list[OpRow], list[ShareBar]]] = {}


def warm_share_bars(rows: list[OpRow], modes: tuple[str, ...]) -> None:
    """Compute the bars of ``rows`` for each of ``modes`` ahead of :func:`share_bars`."""
    for by in modes:
        share_bars(rows, by=by)


def share_bars(rows: list[OpRow], limit: int = 50, by: str = "path") -> list[ShareBar]:
    """:func:`compute_share_bars`, the same list again for the same ``rows`` list."""
    got = _LAST_BARS.get((by, limit))
    if got is not None and got[0] is rows:
        return list(got[1])
    bars = compute_share_bars(rows, limit, by)
    _LAST_BARS[(by, limit)] = (rows, bars)
    return list(bars)


def compute_share_bars(rows: list[OpRow], limit: int = 50, by: str = "path") -> list[ShareBar]:
    """Self time as a share of wall time, largest first, plus the unmeasured rest.

    ``by="path"``: one bar per call path, labelled by its shortest unique tail with
    ancestors abbreviated (``L3 mlp.gate_up``, ``prefill L3 mlp.gate_up``, ``fwd lm_head``).
    ``by="block"``: the paths that differ only in their layer number summed into one bar
    (``mlp.gate_up ×8 layers``).

    Labels: ops under the busiest top-level op with children (decode's ``forward_pass``,
    say) go by their own name; ops under another top-level op get its name in front
    (``prefill mlp.gate_up``); names that would still clash take nearest ancestors.

    Shares are of the statistics span (wall time since the start or the last reset);
    nested blocks count once (self time excludes children), so on one thread the shares
    and the "outside measured blocks" remainder add up to 100 %.
    """
    shown = [r for r in rows if r.self_share > 0]
    phase = _phase_weights(shown)
    main = max(phase, key=phase.__getitem__) if phase else None
    if by == "block":
        bars = _block_bars(shown, phase, main)
    else:
        weight = {r.full: phase.get(r.full.split("/", 1)[0], 0.0) for r in shown}
        labels = _unique_labels(
            [r.full for r in shown], lambda f, d: path_label(f, d, main), weight=weight
        )
        bars = [ShareBar(labels[r.full], r.self_share, r.full) for r in shown]
    bars.sort(key=lambda b: b.share, reverse=True)
    total = sum(b.share for b in bars)
    bars = bars[:limit]
    rest = 1.0 - total
    if rows and rest > 0.0005:
        bars.append(ShareBar("(outside measured blocks)", rest, ""))
    return bars


def _block_name(part: str) -> str:
    """The name of a block key's part: ``layer*`` (a layer's own self time) -> ``layerN``."""
    if part.endswith("*"):
        stem = part[:-1].rstrip("#")
        return f"{stem}N" if stem else "N"
    return part


def _block_label(key: str, depth: int, main: str | None = None) -> str:
    """A block key's name, with ``depth - 1`` of its nearest ancestors (layers left out);
    under a top-level op other than ``main``, that op's name first."""
    parts = key.split("/")
    plain = [p for p in parts[:-1] if not p.endswith("*")]
    ancestors = plain[len(plain) - (depth - 1):] if depth > 1 else []
    words = [*(ABBREVIATIONS.get(p, p) for p in ancestors), _block_name(parts[-1])]
    if main is not None and plain and plain[0] != main and plain[0] not in ancestors:
        words.insert(0, plain[0])
    return " ".join(words)


def _phase_weights(rows: list[OpRow]) -> dict[str, float]:
    """Self share under each top-level op that has children (a phase: decode's
    forward_pass, prefill); ``main`` is the busiest. In a label clash the path under the
    busier one keeps the shorter label."""
    phase: dict[str, float] = {}
    for r in rows:
        top, _, rest = r.full.partition("/")
        if rest:
            phase[top] = phase.get(top, 0.0) + r.self_share
    return phase


def _block_bars(rows: list[OpRow], phase: dict[str, float], main: str | None) -> list[ShareBar]:
    groups: dict[str, list[OpRow]] = {}
    for r in rows:
        groups.setdefault(block_key(r.full), []).append(r)
    shares = {key: sum(r.self_share for r in members) for key, members in groups.items()}
    weight = {key: phase.get(key.split("/", 1)[0], 0.0) for key in groups}
    labels = _unique_labels(list(groups), lambda k, d: _block_label(k, d, main), weight=weight)
    bars = []
    for key, members in groups.items():
        layers = {
            i for r in members for p in r.full.split("/") if (i := layer_index(p)) is not None
        }
        if len(members) == 1:
            note = ""
        elif len(layers) == len(members):
            note = f"×{len(members)} layers"
        else:
            note = f"×{len(members)} paths"
        bars.append(ShareBar(labels[key], shares[key], key, note, len(members)))
    return bars
