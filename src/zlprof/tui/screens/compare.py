"""The compare screen: session B against session A, op by op (``zlprof diff`` in the app).

For each op: the change in median, p95, p99 and mean, the Mann-Whitney U p-value and the
verdict (faster / slower / not significant; ops in only one session say so), from
:func:`zlprof.diff.diff_sessions`. Loading and testing run in a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ...source_caps import Seekable
from ...sources import Source
from ..model import COLUMN_PADDING, COMPARE_COLUMNS, COMPARE_DROP, CompareRow, compare_rows
from ..widgets.footer import SteadyFooter


class CompareTable(DataTable):
    DEFAULT_CSS = """
    CompareTable { height: 1fr; scrollbar-size-vertical: 1; scrollbar-size-horizontal: 0; }
    CompareTable > .compare--faster { color: $success; text-style: bold; }
    CompareTable > .compare--slower { color: $error; text-style: bold; }
    CompareTable > .compare--same { color: $text-muted; }
    CompareTable > .compare--only { color: $warning; }
    """
    COMPONENT_CLASSES = {"compare--faster", "compare--slower", "compare--same", "compare--only"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)


class CompareScreen(Screen):
    """B compared with A; Escape returns."""

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="esc"),
        Binding("s", "order", "Sort", tooltip="Program order, or the largest significant changes first"),
    ]

    DEFAULT_CSS = """
    CompareScreen #compare-head {
        height: auto;
        padding: 0 1;
        background: $surface;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CompareScreen #compare-foot { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, a: Path, b: Path | None, source: Source, **kwargs: Any) -> None:
        """``b`` None: the session on screen (a replay's whole file, a live session so far)."""
        super().__init__(**kwargs)
        self.a = Path(a)
        self.b = Path(b) if b is not None else None
        #: the session on screen (B when ``b`` is None)
        self.source = source
        self.result: Any = None
        self.error: str | None = None
        self.order = "program"
        self.rows: list[CompareRow] = []
        self._width = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("comparing…", style="dim"), id="compare-head")
        yield CompareTable(id="compare")
        yield Static(id="compare-foot")
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(CompareTable).focus()
        b_state = None
        if self.b is None:
            src = self.source
            path = src.path if isinstance(src, Seekable) else None
            if path is not None:
                self.b = Path(path)
            else:
                from ...replay import clone_state

                b_state = clone_state(src.state)  # the live session as it stands
        self.run_worker(
            lambda: self._compute(b_state), thread=True, name="compare", exit_on_error=False
        )

    def _compute(self, b_state: Any) -> None:
        from ...diff import diff_sessions
        from ...recording import load_session

        try:
            a = load_session(self.a)
            b = load_session(self.b) if b_state is None else b_state
            b_label = self.b.name if b_state is None and self.b else "this session (so far)"
            res = diff_sessions(a, b, a_label=self.a.name, b_label=b_label)
        except Exception as exc:  # a bad file: say so on the screen
            self.app.call_from_thread(self.show_error, str(exc))
            return
        self.app.call_from_thread(self.show_result, res)

    # ------------------------------------------------------------------ showing

    def show_error(self, text: str) -> None:
        self.error = text
        self.query_one("#compare-head", Static).update(Text(f"cannot compare: {text}", style="bold red"))

    def show_result(self, res: Any) -> None:
        self.result = res
        self._head()
        self._fill()

    def _head(self) -> None:
        from ...diff import _describe

        res = self.result
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append("B compared with A", "bold")
        out.append(f"   {res.rule()}; changes are B/A - 1; {res.test}", "dim")
        out.append("\n")
        out.append(_describe(f"A: {res.a_label}", res.a_summary).strip())
        out.append("\n")
        out.append(_describe(f"B: {res.b_label}", res.b_summary).strip())
        self.query_one("#compare-head", Static).update(out)
        counts = res.counts()
        foot = Text(no_wrap=True, overflow="ellipsis")
        foot.append("summary: " + ", ".join(
            f"{n} {v}" for v, n in sorted(counts.items(), key=lambda x: -x[1])
        ))
        ta, tb = res.a_summary.get("tokens_per_s"), res.b_summary.get("tokens_per_s")
        if ta and tb:
            foot.append(f"   throughput {ta:.1f} -> {tb:.1f} tok/s ({(tb / ta - 1) * 100:+.1f}%)")
        foot.append("   ms; [ttft] [tpot] [itl] are token latencies")
        if any(r.samples == "histogram" for r in res.rows):
            foot.append("; p* tested on histogram buckets")
        for w in res.warnings[:2]:
            foot.append(f"\nwarning: {w}", "yellow")
        self.query_one("#compare-foot", Static).update(foot)

    def _columns(self, width: int) -> tuple[list[tuple[str, str, int]], int]:
        """The columns that fit (dropping the least telling first) and the op width."""
        cols = list(COMPARE_COLUMNS)
        drop = list(COMPARE_DROP)

        def op_width() -> int:
            return width - sum(w + COLUMN_PADDING for _k, _l, w in cols) - COLUMN_PADDING

        while op_width() < 20 and drop:
            key = drop.pop(0)
            cols = [c for c in cols if c[0] != key]
        return cols, max(8, op_width())

    def _fill(self) -> None:
        if self.result is None:
            return
        table = self.query_one(CompareTable)
        width = max(0, table.size.width - 1)
        self._width = width
        cols, op_w = self._columns(width)
        keys = [k for k, _l, _w in COMPARE_COLUMNS]
        index = {k: i for i, k in enumerate(keys)}
        current = None
        if table.row_count:
            current = table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        table.clear(columns=True)
        table.add_column("op", width=op_w, key="op")
        for key, label, w in cols:
            table.add_column(Text(label, justify="left" if key == "verdict" else "right"), width=w, key=key)
        self.rows = compare_rows(self.result, self.order)
        st = table.get_component_rich_style
        for row in self.rows:
            tone = st(f"compare--{row.tone}")
            cells = [Text(row.label, no_wrap=True, overflow="ellipsis")]
            for key, _label, _w in cols:
                text = row.cells[index[key]]
                if key == "verdict":
                    cells.append(Text(text, style=tone, no_wrap=True, overflow="ellipsis"))
                elif key in ("median", "p95", "p99", "mean") and row.tone in ("faster", "slower"):
                    cells.append(Text(text, style=tone, justify="right", no_wrap=True))
                else:
                    cells.append(Text(text, justify="right", no_wrap=True))
            table.add_row(*cells, key=row.key)
        if current is not None:
            try:
                table.move_cursor(row=table.get_row_index(current), animate=False)
            except Exception:
                pass

    def on_resize(self) -> None:
        if self.result is not None and max(0, self.query_one(CompareTable).size.width - 1) != self._width:
            self._fill()

    # ------------------------------------------------------------------ actions

    def action_order(self) -> None:
        self.order = "change" if self.order == "program" else "program"
        self.notify("largest significant changes first" if self.order == "change" else "program order", timeout=2)
        self._fill()

    def action_back(self) -> None:
        self.dismiss()
