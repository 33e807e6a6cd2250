"""The log browser: a virtual view over millions of entries, filters as chips, a volume
sparkline, search with n/N, follow mode, the full entry, export."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import Static

from console import clock
from console.display import literal, zone
from console.errors import ConsoleError
from console.logs import export as log_export
from console.logs import query, stats
from console.logs.common import LABELS, Level, parse_when
from console.logs.query import LogFilter, Page
from console.logs.text import matcher
from screens.base import AreaScreen
from screens.widgets.export_form import ExportFormScreen
from screens.widgets.export_start import start_export
from screens.widgets.histogram import Histogram
from screens.widgets.log_dialogs import AskScreen, DetailScreen, PickScreen
from screens.widgets.log_view import PAGE, LogView, Request


class LogCommands(Provider):
    """Command palette: the log browser's actions by name."""

    ACTIONS = (
        ("Search the log view", "search", "/ then n (older) and N (newer) match"),
        ("Follow new entries (tail -f)", "follow", "f"),
        ("Filter by level", "levels", "l"), ("Filter by source system", "sources", "s"),
        ("Filter by host", "hosts", "h"), ("Filter by time range", "range", "r"),
        ("Filter by words (full text)", "text", "t"), ("Filter by regex", "regex", "x"),
        ("Jump to a time", "jump", "J"), ("Clear the filters", "clear", "c"),
        ("Export the current view as a bundle (disclosure register)", "export", "e"),
        ("Export the current view to a file on this server", "export_file", "E"),
    )

    async def search(self, query_text: str) -> Hits:
        matcher = self.matcher(query_text)
        screen = self.screen
        for label, action, keys in self.ACTIONS:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label),
                          partial(screen.run_action, action), help=f"key {keys}")


class LogsScreen(AreaScreen):
    AREA = "logs"
    CSS_PATH = "logs.tcss"
    COMMANDS = {LogCommands}
    BINDINGS = [
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("n", "find('older')", "Older match", id="logs.next_match"),
        Binding("N", "find('newer')", "Newer match", id="logs.prev_match", show=False),
        Binding("f", "follow", "Follow", id="logs.follow"),
        Binding("l", "levels", "Levels", id="logs.levels"),
        Binding("s", "sources", "Sources", id="logs.sources", show=False),
        Binding("h", "hosts", "Hosts", id="logs.hosts", show=False),
        Binding("r", "range", "Time", id="logs.range"),
        Binding("t", "text", "Text", id="logs.text", show=False),
        Binding("x", "regex", "Regex", id="logs.regex", show=False),
        Binding("J", "jump", "Jump to time", id="logs.jump", show=False),
        Binding("c", "clear", "Clear filters", id="logs.clear", show=False),
        Binding("e", "export", "Export", id="logs.export"),
        Binding("E", "export_file", "Export to a file", id="logs.export_file", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.flt = LogFilter()
        self.search = ""
        self.following = False
        self.total = 0
        self.span: tuple[int, int] | None = None  # histogram range (Unix seconds)
        self._after_page: LogFilter | None = None  # stats to load once rows are shown
        self.masked = False

    def compose_body(self) -> ComposeResult:
        tz = self.console.settings.ui.timezone
        yield Static(id="chips")
        yield Histogram(id="histogram")
        yield LogView(self._load, tz=tz, id="view")
        yield Static(id="log-status")

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.view.focus()
        self.view.on_change = self._show_status
        self.set_interval(self.console.settings.logs.follow_poll_seconds, self._poll)
        self.apply_filter(self.flt)

    # -- filters --------------------------------------------------------------------------

    def apply_filter(self, flt: LogFilter) -> None:
        """Show `flt`: the first page, the count and the sparkline load at once; the audit
        event of the read is written alongside."""
        try:
            query.check_filter(flt)
        except ConsoleError as exc:
            self.console.show_error(exc)
            return
        self.flt = flt
        self._show_chips()
        # The rows first (the keystroke's repaint), then the audit event of the read, the
        # count and the sparkline. An error (a search for personal data without pii.read)
        # surfaces once, from the page fetch; the denial itself is audited by the service.
        self._after_page = flt
        self.view.reset(self.total)

    def _after_first_page(self) -> None:
        flt, self._after_page = self._after_page, None
        if flt is None:
            return
        # A filter with words: counting their hits can take a while, so the overview
        # follows the rows from a worker of its own.
        self.call(stats.overview, flt, bars=self._bars(), group="overview",
                  on_done=partial(self._show_overview, flt),
                  on_error=lambda _e: self._record(flt))

    def _bars(self) -> int:
        return max(self.size.width - 2, 10)

    def _show_overview(self, flt: LogFilter, summary: stats.Overview) -> None:
        self.masked = summary.masked
        self._counted(summary.total)
        self._histogram(summary.histogram)
        # The audit event of the read once this is painted (the scroll bar's frame comes
        # after the layout's), not competing with the repaint for the GIL.
        self.set_timer(0.1, partial(self._record, flt))

    def _record(self, flt: LogFilter) -> None:
        self.call(query.record_search, flt, where="tui", group="filter",
                  on_error=lambda _e: None)

    def _counted(self, total: int) -> None:
        self.total = total
        self.view.set_total(total)
        self._show_status()

    def _histogram(self, hist: stats.Histogram) -> None:
        self.query_one(Histogram).show(hist.bars)
        self.span = (hist.start, hist.start + hist.width * len(hist.bars)) if hist.start else None

    def _show_chips(self) -> None:
        f, tz = self.flt, zone(self.console.settings.ui.timezone)
        chips = []
        if f.levels is not None:
            chips.append("level " + ",".join(LABELS[Level(x)] for x in sorted(f.levels)))
        if f.sources is not None:
            chips.append("source " + ",".join(sorted(f.sources)))
        if f.hosts is not None:
            chips.append("host " + ",".join(sorted(f.hosts)))
        if f.since or f.until:
            fmt = "%m-%d %H:%M"
            chips.append("time " + (f.since.astimezone(tz).strftime(fmt) if f.since else "…")
                         + ".." + (f.until.astimezone(tz).strftime(fmt) if f.until else "now"))
        if f.text:
            chips.append(f"text {f.text}")
        if f.regex:
            chips.append(f"regex /{f.regex}/")
        if self.search:
            chips.append(f"search {self.search}")
        line = Text(no_wrap=True, end="")
        if not chips:
            line.append("no filters · l levels · s sources · h hosts · r time · t text · "
                        "x regex · / search · J jump")
        for chip in chips:
            line.append_text(literal(f" {chip} ", style="reverse"))
            line.append(" ")
        self.query_one("#chips", Static).update(line, layout=False)  # one line, always

    def _show_status(self) -> None:
        view = self.view
        total = max(self.total, view.total)
        parts = [f"≈{total:,} entries" if not view.at_end or not view.at_start
                 else f"{total:,} entries"]
        entry = view.current
        if entry is not None:
            parts.append(f"row {view.cursor + 1:,}")
        if self.following:
            parts.append("FOLLOWING")
        if self.masked:  # known from the service: no database call here, on every move
            parts.append("personal data masked")
        # One line of fixed height: no layout pass on every keystroke.
        self.query_one("#log-status", Static).update(literal(" · ".join(parts)), layout=False)

    # -- paging -------------------------------------------------------------------------

    def _load(self, req: Request) -> None:
        anchor = req.anchor
        if req.reason == "time" and anchor is None and req.at is not None:
            anchor = query.at_time(req.at)
        self._fetch(req, anchor)

    def _fetch(self, req: Request, anchor: int | None, found: list | None = None) -> None:
        flt = self.flt

        def done(page: Page, summary: stats.Overview | None = None) -> None:
            if self.view.pending is not req:
                return  # superseded (a new filter, a jump): stop scanning for it
            got = (found or []) + page.entries if req.direction == "newer" \
                else page.entries + (found or [])
            if len(got) < PAGE // 4 and not page.exhausted:  # sparse match: keep scanning
                if summary is not None:
                    self._show_overview(flt, summary)
                self._fetch(req, page.cursor, got)
                return
            self.view.receive(req, got, page.exhausted)
            if summary is not None:
                self._show_overview(flt, summary)
            elif self._after_page is not None and req.reason == "last":
                self._after_first_page()

        if (self._after_page is flt and req.reason == "last" and anchor is None
                and found is None and not flt.text):
            # A new filter without words: rows, count and sparkline from one worker, so
            # they are painted in one frame (two workers and two repaints took turns on
            # the GIL and the count landed 120-170 ms after the key).
            self._after_page = None
            self.call(stats.first_look, flt, limit=PAGE, bars=self._bars(),
                      on_done=lambda look: done(look.page, look.overview), group="page",
                      exclusive=False)
            return
        self.call(query.fetch, flt, anchor=anchor, direction=req.direction, limit=PAGE,
                  on_done=done, group="page", exclusive=False)

    def _poll(self) -> None:
        if not self.following:
            return
        view = self.view
        if view.entries:
            view.request(Request(view.entries[-1].id, "newer", "follow"))
        elif view.pending is None:
            view.reset(self.total)

    def on_log_view_far_away(self, message: LogView.FarAway) -> None:
        if not self.span or self.total <= 1:
            return
        fraction = message.row / max(self.total - 1, 1)
        when = datetime.fromtimestamp(self.span[0] + fraction * (self.span[1] - self.span[0]),
                                      UTC)
        self.view.jump_to_time(when, message.row)

    def on_log_view_opened(self, message: LogView.Opened) -> None:
        self.call(query.detail, message.entry.id,
                  on_done=lambda d: self.app.push_screen(DetailScreen(d.fields, d.raw)))

    # -- actions ------------------------------------------------------------------------

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.view.action_last()
        self._show_status()

    def action_search(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            self.search = value.strip()
            self.view.highlight = matcher(self.search) if self.search else None
            self._show_chips()
            self.view.refresh()
            if self.search:
                self.action_find("older", inclusive=True)

        self.app.push_screen(AskScreen("Search (words, \"a phrase\", word*); n older, "
                                       "N newer match", self.search), done)

    def action_find(self, direction: str, inclusive: bool = False) -> None:
        if not self.search:
            self.notify("Nothing to find: press / to search first", severity="warning")
            return
        current = self.view.current
        anchor = None if current is None else current.id + (1 if inclusive and
                                                             direction == "older" else 0)
        text = f"{self.flt.text} {self.search}".strip()
        flt = replace(self.flt, text=text)

        def done(page: Page) -> None:
            if not page.entries:
                self.notify("No more matches" if page.exhausted else
                            "No match in the entries scanned; press n or N to go on",
                            severity="warning")
                return
            entry = page.entries[0] if direction == "newer" else page.entries[-1]
            if not self.view.move_to_entry(entry.id):
                self.view.request(Request(entry.id - 1, "newer", "time",
                                          index=self._estimate(entry.ts)))
            self._show_status()

        self.call(query.fetch, flt, anchor=anchor, direction=direction, limit=1,
                  scan_budget=200_000, on_done=done, group="find")

    def _estimate(self, when: datetime) -> int:
        if not self.span or self.span[1] <= self.span[0]:
            return 0
        fraction = (when.timestamp() - self.span[0]) / (self.span[1] - self.span[0])
        return int(max(0.0, min(1.0, fraction)) * max(self.total - 1, 0))

    def _ask_filter(self, prompt: str, field: str, value: str) -> None:
        def done(answer: str | None) -> None:
            if answer is not None:
                self.apply_filter(replace(self.flt, **{field: answer.strip()}))

        self.app.push_screen(AskScreen(prompt, value), done)

    def action_text(self) -> None:
        self._ask_filter("Show only entries with these words (\"a phrase\", word*, -word)",
                         "text", self.flt.text)

    def action_regex(self) -> None:
        self._ask_filter("Show only entries whose message matches this regex", "regex",
                         self.flt.regex)

    def action_levels(self) -> None:
        chosen = {str(x) for x in self.flt.levels} if self.flt.levels is not None else set()
        options = [(LABELS[level], str(int(level))) for level in Level]

        def done(values: list[str] | None) -> None:
            if values is not None:
                self.apply_filter(replace(self.flt, levels=frozenset(int(v) for v in values)
                                          or None))

        self.app.push_screen(PickScreen("Levels", options, chosen), done)

    def _pick_origin(self, which: str) -> None:
        current = getattr(self.flt, which)

        def got(lists: tuple[list[str], list[str]]) -> None:
            names = lists[0] if which == "sources" else lists[1]

            def done(values: list[str] | None) -> None:
                if values is not None:
                    self.apply_filter(replace(self.flt, **{which: frozenset(values) or None}))

            self.app.push_screen(PickScreen(which.capitalize(), [(n, n) for n in names],
                                            set(current or ())), done)

        self.call(query.sources_and_hosts, on_done=got, group="pickers")

    def action_sources(self) -> None:
        self._pick_origin("sources")

    def action_hosts(self) -> None:
        self._pick_origin("hosts")

    def _when(self, value: str) -> datetime:
        return parse_when(value, clock.now(), zone(self.console.settings.ui.timezone))

    def action_range(self) -> None:
        def done(answer: str | None) -> None:
            if answer is None:
                return
            since_text, _, until_text = answer.partition("..")
            try:
                since = self._when(since_text) if since_text.strip() else None
                until = self._when(until_text) if until_text.strip() else None
            except ValueError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.apply_filter(replace(self.flt, since=since, until=until))

        self.app.push_screen(AskScreen("Time range: 'last 1h', '2d', '2026-11-22 10:00.."
                                       "2026-11-22 12:00' (empty: all)"), done)

    def action_jump(self) -> None:
        def done(answer: str | None) -> None:
            if not answer:
                return
            try:
                when = self._when(answer)
            except ValueError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.view.jump_to_time(when, self._estimate(when))

        self.app.push_screen(AskScreen("Jump to time (2026-11-22 14:05, 1h ago = 1h)"), done)

    def action_clear(self) -> None:
        self.search = ""
        self.view.highlight = None
        self.apply_filter(LogFilter())

    def action_export(self) -> None:
        """The view as a bundle: signed, encrypted, in the disclosure register (Exports)."""
        form = ExportFormScreen("logs", log_filter=self.flt)
        form.submit = partial(start_export, self)
        self.app.push_screen(form)

    def action_export_file(self) -> None:
        """The view as one JSON Lines or CSV file on this server (audited, masked)."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        default = str(self.console.runtime.data_dir / "exports" / f"logs-{stamp}.jsonl")

        def done(path: str | None) -> None:
            if not path:
                return
            self.call(log_export.export_to_file, self.flt, path.strip(), group="export",
                      on_done=lambda n: self.notify(f"Exported {n:,} entries to {path}",
                                                    markup=False))

        self.app.push_screen(AskScreen("Export the current view to (.jsonl or .csv):",
                                       default), done)
