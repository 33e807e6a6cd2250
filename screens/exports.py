"""Exports: the disclosure register (every export, why, for whom, how protected), new
exports and backups, verifying a bundle, discarding an unfinished one.

Runs started here go to the scheduler when one is running, else into this console's
threads (like the Jobs area); the register polls so progress shows as it goes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import DataTable, Static

from console.display import literal, local_time
from console.export.backup import BackupView, list_backups
from console.export.register import ExportView, discard_export, list_exports, verify_export
from console.export.service import Begun
from screens.base import AreaScreen
from screens.widgets.confirm import ConfirmScreen
from screens.widgets.export_form import ExportFormScreen, ExportRequest
from screens.widgets.export_start import start_export
from screens.widgets.secret_prompt import OpenBundleScreen, Opening
from screens.widgets.text_report import TextReportScreen

POLL_SECONDS = 2.0
STATE_STYLE = {"done": "green", "failed": "red", "interrupted": "yellow",
               "cancelled": "yellow", "discarded": "dim", "running": "bold",
               "queued": "bold", "removed": "dim"}


PURPOSE_SHORT = {"data-subject-request": "subject req.", "legal-order": "legal order",
                 "written-consent": "consent"}


def _protection(value: str) -> Text:
    short = {"recipients": "age", "passphrase": "pass", "none": "NONE"}.get(value, value)
    return Text(short, style="bold reverse" if short == "NONE" else "")


def _key_id(_db: object, _actor: object, keys: Any) -> str:
    return str(keys.key_id)


class ExportCommands(Provider):
    async def search(self, query: str) -> Hits:
        screen = self.screen
        assert isinstance(screen, ExportsScreen)
        matcher = self.matcher(query)
        for label, action, help_text in (
                ("New export of a person (access request)…", partial(screen.open_form, "subject"),
                 "key n"),
                ("New handover export…", partial(screen.open_form, "handover"), ""),
                ("New logs export…", partial(screen.open_form, "logs"), ""),
                ("Back up the database now…", partial(screen.open_form, "backup"), "key b"),
                ("Verify the selected bundle", screen.action_verify, "key v"),
                ("Discard the selected unfinished export", screen.action_discard, "key x")):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)


class ExportsScreen(AreaScreen):
    AREA = "exports"
    CSS_PATH = "exports.tcss"
    COMMANDS = {ExportCommands}
    BINDINGS = [
        Binding("n", "new", "New export", id="exports.new"),
        Binding("b", "backup", "Backup", id="exports.backup"),
        Binding("v", "verify", "Verify", id="exports.verify"),
        Binding("x", "discard", "Discard", id="exports.discard", show=False),
        Binding("f5,R", "refresh", "Refresh", id="exports.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.exports: dict[str, ExportView] = {}
        self.backups: list[BackupView] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="exports-line", markup=False)
        yield Static("Disclosure register", classes="exports-title")
        yield DataTable(id="register", cursor_type="row", zebra_stripes=True)
        yield Static("Backups", classes="exports-title", id="backups-title")
        yield DataTable(id="backups", cursor_type="row")
        yield Static(id="export-detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#register", DataTable)
        for label, width in (("#", 3), ("Made", 5), ("Kind", 8), ("Purpose", 12),
                             ("For", 14), ("Rows", 9), ("Prot", 4), ("State", 9)):
            table.add_column(label, width=width, key=label.lower())
        backups = self.query_one("#backups", DataTable)
        for label, width in (("#", 3), ("Made", 11), ("State", 9), ("Bytes", 11),
                             ("Prot", 4), ("File", 24)):
            backups.add_column(label, width=width, key=label.lower())
        table.focus()
        self.call(_key_id, keys=self.console.runtime.keys, on_done=self._show_key, group="key")
        self.action_refresh()
        self.set_interval(POLL_SECONDS, self.action_refresh)

    def _show_key(self, key_id: str) -> None:
        self.query_one("#exports-line", Static).update(Text.assemble(
            ("Bundles are signed by key ", "dim"), (key_id, "bold"),
            ("  ·  n: export  b: backup  v: verify", "dim")))

    # -- showing -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.call(list_exports, limit=500, on_done=self._show, group="poll")
        self.call(list_backups, limit=50, on_done=self._show_backups, group="poll-backups")

    def _show(self, views: list[ExportView]) -> None:
        tz = self.console.settings.ui.timezone
        table = self.query_one("#register", DataTable)
        selected = self.selected()
        self.exports = {str(v.id): v for v in views}
        table.clear()
        for v in views:
            table.add_row(str(v.id), local_time(v.created_at, tz, "%m-%d"),
                          literal(v.kind + (" ⚑" if v.masked else "")),
                          literal(PURPOSE_SHORT.get(v.purpose, v.purpose)),
                          literal(v.disclosed_to or v.subject, max_len=14),
                          f"{v.rows:,}", _protection(v.protection),
                          Text(v.state, style=STATE_STYLE.get(v.state, "")), key=str(v.id))
        if selected is not None and str(selected.id) in self.exports:
            table.move_cursor(row=table.get_row_index(str(selected.id)))
        self._show_detail()

    def _show_backups(self, views: list[BackupView]) -> None:
        tz = self.console.settings.ui.timezone
        self.backups = views
        table = self.query_one("#backups", DataTable)
        table.clear()
        for b in views:
            table.add_row(str(b.id), local_time(b.created_at, tz, "%m-%d %H:%M"),
                          Text(b.state, style=STATE_STYLE.get(b.state, "")),
                          f"{b.size_bytes:,}", _protection(b.protection),
                          literal(b.path.rsplit("/", 1)[-1] or b.name, max_len=24),
                          key=f"b{b.id}")
        shown = bool(views)
        self.query_one("#backups-title").display = shown
        table.display = shown

    def selected(self) -> ExportView | None:
        table = self.query_one("#register", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.exports.get(str(key))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        view = self.selected()
        detail = self.query_one("#export-detail", Static)
        if view is None:
            detail.update(Text("No exports yet. n: export a person's data, a handover or "
                               "logs; b: back up the database.", style="dim"))
            return
        tz = self.console.settings.ui.timezone
        first = f"#{view.id} {local_time(view.created_at, tz, '%Y-%m-%d %H:%M')} {view.kind}"
        if view.subject:
            first += f" of {view.subject}"
        if view.reference:
            first += f" · ref {view.reference}"
        first += f" · {', '.join(view.categories)}"
        if view.path:
            folder, _, name = view.path.rpartition("/")
            second = f"{name}  in {folder}"
        else:
            second = view.error or "not finished"
        if view.manifest_sha256:
            second += f"  (manifest {view.manifest_sha256[:16]}…)"
        notes = " · ".join(view.notes)
        detail.update(Text("\n".join((first, second, notes)), no_wrap=True,
                           overflow="ellipsis"))

    # -- actions -------------------------------------------------------------------------

    def action_new(self) -> None:
        self.open_form("subject")

    def action_backup(self) -> None:
        self.open_form("backup")

    def open_form(self, kind: str) -> None:
        form = ExportFormScreen(kind)
        form.submit = self._submit
        self.app.push_screen(form)

    def _submit(self, form: ExportFormScreen, request: ExportRequest) -> None:
        start_export(self, form, request, after=self.action_refresh)

    def action_verify(self) -> None:
        view = self.selected()
        if view is None or view.state != "done":
            self.notify("Select a finished export to verify.", severity="warning")
            return
        self.app.push_screen(OpenBundleScreen(f"Verify export #{view.id}", view.protection),
                             partial(self._verify, view))

    def _verify(self, view: ExportView, opening: Opening | None) -> None:
        if opening is None:
            return
        self.notify(f"Verifying export #{view.id}…")
        self.call(verify_export, view.id, keys=self.console.runtime.keys,
                  identity=opening.identity, passphrase=opening.passphrase,
                  on_done=lambda report: self.app.push_screen(TextReportScreen(
                      f"Export #{view.id}: " + ("verified" if report.ok else "FAILED"),
                      report.lines(), style="green" if report.ok else "bold red")),
                  group="verify")

    def action_discard(self) -> None:
        view = self.selected()
        if view is None or view.state in ("done", "discarded"):
            self.notify("Select an unfinished export to discard.", severity="warning")
            return
        self.app.push_screen(ConfirmScreen(
            f"Discard export #{view.id}?",
            "Its unfinished files (the data in the clear) are deleted and it is marked "
            "discarded in the register.", confirm_label="Discard"),
            partial(self._discard, view.id))

    def _discard(self, export_id: int, confirmed: bool | None) -> None:
        if confirmed:
            self.call(discard_export, export_id, group="change",
                      on_done=lambda _v: (self.notify(f"Export #{export_id} discarded."),
                                          self.action_refresh()))


__all__ = ["Begun", "ExportsScreen"]
