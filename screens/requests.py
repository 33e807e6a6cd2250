"""Requests: the register of data-subject requests, what is due, and fulfilling them
(access and portability as a subject export, rectification, erasure, restriction)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import DataTable, Static

from console import clock
from console.display import literal, local_time
from console.errors import ConsoleError
from console.export.service import parse_subject
from console.requests.fulfil import Fulfilled, Fulfilment, fulfil
from console.requests.register import (
    RequestView,
    add_request,
    close_request,
    get_request,
    list_requests,
    parse_day,
    request_changes,
)
from console.requests.subjects import editable_columns
from screens.base import AreaScreen
from screens.widgets.confirm import ConfirmScreen
from screens.widgets.request_forms import (
    AddRequestScreen,
    CloseRequestScreen,
    Closing,
    FulfilScreen,
    FulfilValues,
    NewRequest,
    parse_changes,
)
from screens.widgets.text_report import TextReportScreen

POLL_SECONDS = 3.0
STATE_STYLE = {"open": "bold", "in-progress": "bold", "fulfilled": "green", "closed": "dim"}


class RequestCommands(Provider):
    async def search(self, query: str) -> Hits:
        screen = self.screen
        assert isinstance(screen, RequestsScreen)
        matcher = self.matcher(query)
        for label, action, help_text in (
                ("Register a request…", screen.action_add, "key a"),
                ("Fulfil the selected request…", screen.action_fulfil, "key f"),
                ("Close the selected request…", screen.action_close, "key c"),
                ("Show the selected request in full", screen.action_details, "key d")):
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text)


def _due(view: RequestView) -> Text:
    if not view.pending:
        return Text(str(view.due_on), style="dim")
    if view.days_left < 0:
        return Text(f"{view.due_on} !{-view.days_left}d", style="bold reverse")
    return Text(f"{view.due_on} {view.days_left}d", style="bold" if view.days_left <= 7 else "")


class RequestsScreen(AreaScreen):
    AREA = "requests"
    CSS_PATH = "requests.tcss"
    COMMANDS = {RequestCommands}
    BINDINGS = [
        Binding("a", "add", "Add", id="requests.add"),
        Binding("f", "fulfil", "Fulfil", id="requests.fulfil"),
        Binding("c", "close", "Close", id="requests.close"),
        Binding("d", "details", "Details", id="requests.details"),
        Binding("f5,R", "refresh", "Refresh", id="requests.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[str, RequestView] = {}
        self._select: RequestView | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="requests-line", markup=False)
        yield DataTable(id="requests-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="request-detail", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#requests-table", DataTable)
        for label, width in (("#", 3), ("Kind", 13), ("Person", 13), ("Received", 10),
                             ("Due", 16), ("State", 11)):
            table.add_column(label, width=width, key=label.lower())
        table.focus()
        self.action_refresh()
        self.set_interval(POLL_SECONDS, self.action_refresh)

    def action_refresh(self) -> None:
        self.call(list_requests, on_done=self._show, group="poll")

    def _show(self, views: list[RequestView]) -> None:
        table = self.query_one("#requests-table", DataTable)
        selected = self.selected()
        if self._select is not None and any(v.id == self._select.id for v in views):
            selected, self._select = self._select, None  # a request just registered
        self.requests = {str(v.id): v for v in views}
        table.clear()
        for v in views:
            table.add_row(str(v.id), v.kind, literal(v.subject), str(v.received_on), _due(v),
                          Text(v.state, style=STATE_STYLE.get(v.state, "")), key=str(v.id))
        if selected is not None and str(selected.id) in self.requests:
            table.move_cursor(row=table.get_row_index(str(selected.id)))
        pending = [v for v in views if v.pending]
        overdue = sum(1 for v in pending if v.overdue)
        soon_days = self.console.settings.requests.due_soon_days
        soon = sum(1 for v in pending if not v.overdue and v.days_left <= soon_days)
        line = Text(no_wrap=True)
        line.append(f"{len(pending)} pending", style="bold")
        line.append(" · ")
        line.append(f"{overdue} overdue", style="bold reverse" if overdue else "")
        line.append(f" · {soon} due within {soon_days} days · a: register  f: fulfil")
        self.query_one("#requests-line", Static).update(line)
        self._show_detail()

    def selected(self) -> RequestView | None:
        table = self.query_one("#requests-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.requests.get(str(key))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        view = self.selected()
        detail = self.query_one("#request-detail", Static)
        if view is None:
            detail.update(Text("No requests. a: register one (access, rectification, "
                               "erasure, portability, restriction, objection).", style="dim"))
            return
        lines = [f"#{view.id} {view.kind} for {view.subject} · handler {view.handler}"
                 + (f" · {view.outcome}" if view.outcome else ""),
                 view.notes.replace("\n", " | ") or "(no notes)",
                 _response_line(view)]
        detail.update(Text("\n".join(lines)))

    # -- actions -------------------------------------------------------------------------

    def action_add(self) -> None:
        form = AddRequestScreen(clock.now().date().isoformat())
        form.submit = self._add
        self.app.push_screen(form)

    def _add(self, form: AddRequestScreen, values: NewRequest) -> None:
        try:
            subject = parse_subject(values.subject)
            received = parse_day(values.received, "received")
        except ConsoleError as exc:
            form.show_error(exc)
            return
        self.app.run_service(form, add_request, values.kind, subject,
                             settings=self.console.settings.requests, received_on=received,
                             handler=values.handler, notes=values.notes,
                             on_error=form.show_error, group="form-submit",
                             on_done=lambda view: self._added(form, view))

    def _added(self, form: AddRequestScreen, view: RequestView) -> None:
        form.dismiss(None)
        self.notify(f"Request #{view.id} registered, due {view.due_on}.")
        self._select = view
        self.action_refresh()

    def action_fulfil(self) -> None:
        view = self.selected()
        if view is None or not view.pending:
            self.notify("Select an open request to fulfil.", severity="warning")
            return
        if view.kind == "erasure":
            self.app.push_screen(ConfirmScreen(
                f"Erase {view.subject}?",
                "Their data is anonymized in every category, except what a legal hold or a "
                "legal minimum keeps (the response lists it). This cannot be undone.",
                confirm_label="Erase", phrase="ERASE"),
                partial(self._erase_confirmed, view))
            return
        fields = ", ".join(editable_columns(view.subject_kind)) \
            if view.kind == "rectification" else ""
        form = FulfilScreen(view.id, view.kind, view.subject, fields)
        form.submit = partial(self._fulfil, view)
        self.app.push_screen(form)

    def _erase_confirmed(self, view: RequestView, confirmed: bool | None) -> None:
        if confirmed:
            self.call(fulfil, view.id, Fulfilment(), runtime=self.console.runtime,
                      on_done=self._fulfilled, group="change")

    def _fulfil(self, view: RequestView, form: FulfilScreen, values: FulfilValues) -> None:
        try:
            changes = parse_changes(values.changes) if view.kind == "rectification" else {}
        except ConsoleError as exc:
            form.show_error(exc)
            return
        how = Fulfilment(recipients=tuple(values.recipients.split())
                         if values.protection == "recipients" else (),
                         passphrase=values.passphrase,
                         no_encrypt=values.protection == "none", changes=changes,
                         lift=values.lift, note=values.note)
        self.app.run_service(form, fulfil, view.id, how, runtime=self.console.runtime,
                             on_error=form.show_error, group="form-submit",
                             on_done=lambda done: (form.dismiss(None), self._fulfilled(done)))

    def _fulfilled(self, done: Fulfilled) -> None:
        for warning in done.warnings:
            self.notify(warning, severity="warning", timeout=10, markup=False)
        started = done.started
        if started is not None:
            if started.claim is not None and self.console.principal is not None:
                self.console.local_jobs.launch(started.claim, self.console.principal)
                where = "in this console"
            else:
                where = "by the scheduler"
            self.notify(f"Request #{done.request.id}: export #{done.export_id} is being "
                        f"written {where}; the request is fulfilled when it is sealed.")
        else:
            self.notify(f"Request #{done.request.id} fulfilled.")
            if done.request.kind == "erasure":
                self._report(done.request)
        self.action_refresh()

    def action_close(self) -> None:
        view = self.selected()
        if view is None or view.state == "closed":
            self.notify("Select a request that is not closed yet.", severity="warning")
            return
        form = CloseRequestScreen(view.id, view.state == "fulfilled")
        form.submit = partial(self._close, view)
        self.app.push_screen(form)

    def _close(self, view: RequestView, form: CloseRequestScreen, values: Closing) -> None:
        self.app.run_service(form, close_request, view.id, outcome=values.outcome,
                             note=values.note, on_error=form.show_error, group="form-submit",
                             on_done=lambda closed: (form.dismiss(None), self.notify(
                                 f"Request #{closed.id} closed ({closed.outcome})."),
                                 self.action_refresh()))

    def action_details(self) -> None:
        view = self.selected()
        if view is None:
            return
        self.call(_details, view.id, keys=self.console.runtime.keys,
                  on_done=lambda found: self._report(*found), group="detail")

    def _report(self, view: RequestView, changes: list[Any] | None = None) -> None:
        tz = self.console.settings.ui.timezone
        lines = [f"Person: {view.subject}", f"Received {view.received_on}, due {view.due_on}",
                 f"State: {view.state}" + (f" ({view.outcome})" if view.outcome else ""),
                 f"Handler: {view.handler}"]
        if view.notes:
            lines += ["Notes:", *("  " + n for n in view.notes.splitlines())]
        response = view.response
        if view.kind == "erasure" and response:
            lines.append("Anonymized:")
            lines += [f"  {c}: {n} row(s)" for c, n in response.get("anonymized", {}).items()]
            lines.append("Kept, and why:")
            lines += [f"  {c}: {r}" for c, reasons in response.get("kept", {}).items()
                      for r in reasons]
            lines += [f"Note: {n}" for n in response.get("notes", [])]
        elif response:
            lines.append("Response: " + json.dumps(response, sort_keys=True))
        for change in changes or []:
            lines.append(f"  {local_time(change.at, tz)} {change.field}: {change.before} -> "
                         f"{change.after}")
        if view.actions:
            lines.append("Done for it:")
            lines += [f"  {local_time(a.at, tz)} {a.by}: {a.action}"
                      + (f" export #{a.export_id}" if a.export_id else "")
                      + (f" job #{a.job_run_id}" if a.job_run_id else "") for a in view.actions]
        self.app.push_screen(TextReportScreen(f"Request #{view.id}: {view.kind}", lines))


def _details(db: Any, actor: Any, request_id: int, keys: Any) -> tuple[RequestView, list[Any]]:
    view = get_request(db, actor, request_id)
    changes = request_changes(db, actor, request_id, keys) \
        if view.kind == "rectification" and view.fulfilled_at else []
    return view, changes


def _response_line(view: RequestView) -> str:
    response = view.response
    if not response:
        return "not fulfilled yet" if view.pending else ""
    if view.kind == "erasure":
        kept = sum(len(r) for r in response.get("kept", {}).values())
        return (f"anonymized {sum(response.get('anonymized', {}).values())} row(s); "
                f"{kept} reason(s) something was kept (d: details)")
    if "bundle" in response:
        return f"bundle {response['bundle']}"
    return json.dumps(response, sort_keys=True)
