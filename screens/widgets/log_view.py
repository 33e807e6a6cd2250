"""A virtual log view on Textual's line API (Toolong's technique): only visible rows are
rendered, and rows come from the database a page at a time as the cursor moves.

The view keeps one contiguous window of entries (at most WINDOW, trimmed at the far end
as it grows: an LRU by position). `base` is the virtual row number of the window's first
entry; the virtual height is the approximate count from the rollups, corrected when the
real first or last entry is reached. Scrolling extends the window with keyset pages; a
jump (first, last, a time, a far scrollbar drag) re-anchors it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from console.display import local_time, printable
from console.logs.common import Entry

PAGE = 200
WINDOW = 5000
LEVEL_CLASSES = {0: "emerg", 1: "alert", 2: "crit", 3: "error", 4: "warn", 5: "notice",
                 6: "info", 7: "debug", 8: "trace", 9: "unknown"}


@dataclass
class Request:
    """Ask the screen for a page: from entry id `anchor` (exclusive; None = newest or
    oldest end) going `direction`; `at` is the time to start from for a jump."""

    anchor: int | None
    direction: str
    reason: str  # older | newer | first | last | time | follow
    at: datetime | None = None
    index: int = 0  # for a jump: the estimated row number of the first entry


class LogView(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"log-view--cursor", "log-view--time", "log-view--meta",
                         *(f"log-view--{name}" for name in LEVEL_CLASSES.values())}
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False, id="logs.up"),
        Binding("down,j", "move(1)", "Down", show=False, id="logs.down"),
        Binding("pageup", "move(-20)", "Page up", show=False, id="logs.page_up"),
        Binding("pagedown,space", "move(20)", "Page down", show=False, id="logs.page_down"),
        Binding("g,home", "first", "First", id="logs.first"),
        Binding("G,end", "last", "Last", id="logs.last"),
        Binding("enter", "open", "Detail", id="logs.detail"),
    ]

    class FarAway(Message):
        """The user scrolled to rows far from the loaded window (a scrollbar drag)."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    class Opened(Message):
        def __init__(self, entry: Entry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, loader: Callable[[Request], None], *, tz: str = "local",
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.loader = loader
        self.tz = tz
        self.entries: list[Entry] = []
        self.base = 0
        self.total = 0
        self.cursor = 0
        self.pending: Request | None = None
        self.at_start = False  # the window holds the very first matching entry
        self.at_end = False  # ... and the very last
        self.highlight: Callable[[str], bool] | None = None
        # Called when the cursor or the window changes (the screen's status line), in the
        # same frame as the rows.
        self.on_change: Callable[[], None] | None = None
        self._far_timer: Timer | None = None

    # -- data in ----------------------------------------------------------------------

    def reset(self, total: int) -> None:
        self.entries, self.base, self.total = [], 0, total
        self.cursor, self.pending = 0, None
        self.at_start = self.at_end = False
        self._resize()
        self.request(Request(None, "older", "last"))

    def set_total(self, total: int) -> None:
        """The (approximate) count arrived: keep the loaded rows where they belong (at the
        end, when the last one is loaded)."""
        delta = 0
        if self.entries and self.at_end and not self.at_start:
            delta = max(total - (self.base + len(self.entries)), -self.base)
        self.total = max(total, self.base + delta + len(self.entries))
        self._set_height(self.total)  # before scrolling to it
        if delta:
            self.base += delta
            self.cursor += delta
            self._show_cursor()
        self._resize()
        self.refresh()
        self._changed()

    def request(self, req: Request) -> None:
        if self.pending is not None and req.reason in ("older", "newer", "follow"):
            return
        self.pending = req
        self.loader(req)

    def receive(self, req: Request, entries: list[Entry], exhausted: bool) -> None:
        """A page arrived for `req` (entries oldest first)."""
        if self.pending is not req:
            return
        self.pending = None
        if req.reason in ("last", "first", "time"):
            self.entries = list(entries)
            if req.reason == "last":
                self.at_end, self.at_start = True, exhausted
                self.base = max(self.total - len(entries), 0)
                if exhausted:
                    self.base = 0
                self.cursor = self.base + len(entries) - 1
            elif req.reason == "first":
                self.at_start, self.at_end = True, exhausted
                self.base, self.cursor = 0, 0
            else:
                self.at_start = self.at_end = False
                self.at_end = exhausted
                self.base = min(req.index, max(self.total - len(entries), 0))
                self.cursor = self.base
            self._resize()
            self._show_cursor(req.reason == "time")
        elif req.reason == "older":
            if entries:
                self.entries[:0] = entries
                self.base -= len(entries)
            if exhausted:
                self.at_start = True
            if self.base != 0 and (self.at_start or self.base < 0):
                self._shift(-self.base)
            self._trim(keep_start=True)
        else:  # newer, follow
            following = self.cursor >= self.base + len(self.entries) - 1
            self.entries.extend(entries)
            if exhausted:
                self.at_end = True
            self._trim(keep_start=False)
            if req.reason == "follow" and entries and following:
                self.cursor = self.base + len(self.entries) - 1
                self._show_cursor()
        self._resize()
        self.refresh()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _shift(self, delta: int) -> None:
        self.base += delta
        self.cursor += delta
        self.scroll_to(y=max(self.scroll_offset.y + delta, 0), animate=False, immediate=True)

    def _trim(self, keep_start: bool) -> None:
        excess = len(self.entries) - WINDOW
        if excess <= 0:
            return
        if keep_start:
            del self.entries[-excess:]
            self.at_end = False
        else:
            del self.entries[:excess]
            self.base += excess
            self.at_start = False

    def _resize(self) -> None:
        loaded_end = self.base + len(self.entries)
        if self.at_end:
            self.total = loaded_end
        self.total = max(self.total, loaded_end)
        self._set_height(self.total)

    def _set_height(self, rows: int) -> None:
        """The scrollable height: `rows` lines. When the scroll bar is shown before and
        after, only the bar is updated, in this frame: assigning virtual_size lays out
        the whole screen and the bar follows in a second frame (together 40-60 ms at
        80x24, after every new count)."""
        size = Size(self.size.width, rows)
        if size == self.virtual_size:
            return
        if (self.show_vertical_scrollbar and self.styles.scrollbar_size_vertical
                and rows > self.scrollable_content_region.height
                and self.virtual_size.height > self.scrollable_content_region.height):
            self.set_reactive(LogView.virtual_size, size)
            self._scroll_update(size)  # the bar's window and position, no layout pass
            return
        self.virtual_size = size

    # -- the cursor ---------------------------------------------------------------------

    @property
    def current(self) -> Entry | None:
        i = self.cursor - self.base
        return self.entries[i] if 0 <= i < len(self.entries) else None

    def action_move(self, delta: int) -> None:
        if not self.entries:
            return
        first, last = self.base, self.base + len(self.entries) - 1
        target = self.cursor + delta
        if target < first:
            if not self.at_start:
                self.request(Request(self.entries[0].id, "older", "older"))
            target = first
        elif target > last:
            if not self.at_end:
                self.request(Request(self.entries[-1].id, "newer", "newer"))
            target = last
        self.cursor = target
        self._show_cursor()
        self.refresh()
        self._changed()

    def action_first(self) -> None:
        self.request(Request(None, "newer", "first"))

    def action_last(self) -> None:
        self.request(Request(None, "older", "last"))

    def jump_to_time(self, when: datetime, index: int) -> None:
        self.request(Request(None, "newer", "time", at=when, index=index))

    def move_to_entry(self, entry_id: int) -> bool:
        """Put the cursor on a loaded entry; False when it is not in the window."""
        for i, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.cursor = self.base + i
                self._show_cursor(center=True)
                self.refresh()
                self._changed()
                return True
        return False

    def action_open(self) -> None:
        entry = self.current
        if entry is not None:
            self.post_message(self.Opened(entry))

    def _show_cursor(self, center: bool = False, tries: int = 20) -> None:
        height = max(self.scrollable_content_region.height, 1)
        y = self.scroll_offset.y
        if center:
            y = self.cursor - height // 2
        elif self.cursor < y:
            y = self.cursor
        elif self.cursor >= y + height:
            y = self.cursor - height + 1
        self.scroll_to(y=max(y, 0), animate=False, immediate=True)
        top = int(self.scroll_offset.y)
        if tries and not top <= self.cursor < top + height:
            # The new virtual height is not laid out yet (the scroll was clamped): retry.
            self.set_timer(0.05, lambda: self._show_cursor(center, tries - 1))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._prefetch()

    def _prefetch(self) -> None:
        if not self.entries or self.pending is not None:
            return
        height = self.scrollable_content_region.height
        top = int(self.scroll_offset.y)
        first, end = self.base, self.base + len(self.entries)
        if top > end + PAGE or top + height < first - PAGE:
            # Far away: show placeholders, then re-anchor once the scrolling settles.
            if self._far_timer is not None:
                self._far_timer.stop()
            self._far_timer = self.set_timer(0.15, self._far_jump)
            return
        if top < first + height and not self.at_start:
            self.request(Request(self.entries[0].id, "older", "older"))
        elif top + 2 * height > end and not self.at_end:
            self.request(Request(self.entries[-1].id, "newer", "newer"))

    # -- rendering --------------------------------------------------------------------

    def _far_jump(self) -> None:
        self._far_timer = None
        top = int(self.scroll_offset.y)
        if self.pending is None and not (self.base <= top < self.base + len(self.entries)):
            self.cursor = top
            self.post_message(self.FarAway(top))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_offset.y) + y
        base_style = self.rich_style
        entry = None
        i = row - self.base
        if 0 <= i < len(self.entries):
            entry = self.entries[i]
        if entry is None:
            if row < self.total:
                meta = self.get_component_rich_style("log-view--meta")
                return Strip([Segment(" …", meta)]).extend_cell_length(width, base_style)
            return Strip.blank(width, base_style)
        level_style = self.get_component_rich_style(
            f"log-view--{LEVEL_CLASSES.get(int(entry.level), 'unknown')}")
        time_style = self.get_component_rich_style("log-view--time")
        meta = self.get_component_rich_style("log-view--meta")
        message = printable(entry.message.split("\n", 1)[0], max_len=width + 10)
        if "\n" in entry.message:
            message += " ⏎"
        segments = [
            Segment(local_time(entry.ts, self.tz, "%m-%d %H:%M:%S") + " ", time_style),
            Segment(f"{entry.level.label[:5]:<5} ", level_style),
            Segment(f"{printable(entry.source)[:8]:<8} ", meta),
            Segment(f"{printable(entry.host)[:10]:<10} ", meta),
            Segment(message, Style() if not (self.highlight and self.highlight(entry.message))
                    else self.get_component_rich_style("log-view--warn") + Style(bold=True)),
        ]
        strip = Strip(segments).crop(0, width).extend_cell_length(width, base_style)
        if row == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("log-view--cursor"))
        return strip

    def on_resize(self) -> None:
        self._resize()
        # A smaller view (a narrower terminal wraps the key bar onto another line) must not
        # hide the selected row: the newest entry stays in sight when the view opens.
        if self.entries:
            self.call_after_refresh(self._show_cursor)
