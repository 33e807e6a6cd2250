"""Support access: requests waiting for a decision, active grants with live countdowns,
and the history. FlowPro engineers see their own requests and grants and ask for access
here."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from console import clock
from console.display import literal, local_time
from console.errors import ConsoleError
from console.support import (
    approve_request,
    create_grant,
    deny_request,
    request_access,
    request_extension,
    revoke_grant,
)
from console.support_rules import duration_text
from console.support_views import Board, GrantView, RequestView, board
from screens.base import AreaScreen
from screens.widgets.access_form import AccessForm, AccessFormResult, FormMode
from screens.widgets.confirm import ConfirmScreen
from screens.widgets.reason_prompt import ReasonPrompt
from screens.widgets.support_banner import countdown

RELOAD_SECONDS = 10.0
TABS = {"waiting": "tab-waiting", "active": "tab-active", "history": "tab-history"}
TABLES = {"waiting": "#requests", "active": "#active", "history": "#history"}


def _left(until: Any) -> str:
    seconds = (until - clock.now()).total_seconds()
    return countdown(seconds) if seconds > 0 else "ended"


class SupportScreen(AreaScreen):
    AREA = "support"
    CSS_PATH = "support.tcss"
    BINDINGS = [
        Binding("a", "approve", "Approve", id="support.approve"),
        Binding("s", "shorten", "Shorten", id="support.shorten"),
        Binding("d", "deny", "Deny", id="support.deny"),
        Binding("n", "new", "New", id="support.new"),
        Binding("e", "extend", "Extend", id="support.extend"),
        Binding("r", "revoke", "Revoke", id="support.revoke"),
        Binding("m", "monitor", "Monitor", id="support.monitor"),
        Binding("w", "tab('waiting')", "Waiting", id="support.tab-waiting", show=False),
        Binding("g", "tab('active')", "Active", id="support.tab-active", show=False),
        Binding("h", "tab('history')", "History", id="support.tab-history", show=False),
        Binding("f5,R", "refresh", "Refresh", id="support.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.data: Board | None = None
        self.requests: dict[str, RequestView] = {}
        self.grants: dict[str, GrantView] = {}
        self._cursor_keys: dict[str, str | None] = {}  # keeps the selection across reloads

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="support-tabs"):
            with TabPane("Waiting (w)", id="tab-waiting"):
                yield DataTable(id="requests", cursor_type="row", zebra_stripes=True)
            with TabPane("Active (g)", id="tab-active"):
                yield DataTable(id="active", cursor_type="row", zebra_stripes=True)
            with TabPane("History (h)", id="tab-history"):
                yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Static("", id="support-hint", classes="hint")

    def on_mount(self) -> None:
        requests = self.query_one("#requests", DataTable)
        for label, key in (("#", "id"), ("Engineer", "engineer"), ("Scope", "scope"),
                           ("Window", "window"), ("Ticket", "ticket"), ("Status", "status"),
                           ("Expires in", "left"), ("Reason", "reason")):
            requests.add_column(label, key=key)
        active = self.query_one("#active", DataTable)
        for label, key in (("#", "id"), ("Engineer", "engineer"), ("Scope", "scope"),
                           ("Until", "until"), ("Left", "left"), ("Ticket", "ticket"),
                           ("Approved by", "by")):
            active.add_column(label, key=key)
        self.query_one("#history", DataTable).add_columns(
            "What", "Engineer", "Scope", "Status", "When", "By", "Note")
        self.set_interval(1.0, self._tick)
        self.set_interval(RELOAD_SECONDS, self.action_refresh)
        self.action_refresh()

    # -- data ------------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.call(board, on_done=self._show, on_error=self._refused, group="support-board")

    def _refused(self, error: ConsoleError) -> None:
        """Staff without a support or audit permission: say so once, in place."""
        hint = self.query_one("#support-hint", Static)
        if not hint.has_class("error-line"):
            hint.add_class("error-line")
            hint.update(literal(error.message))

    def _show(self, data: Board) -> None:
        self.data = data
        tz = self.console.settings.ui.timezone
        self.requests = {f"request:{r.id}": r for r in data.waiting}
        self.grants = {f"grant:{g.id}": g for g in (*data.active, *data.history)}
        table = self._refill("#requests")
        for r in data.waiting:
            table.add_row(str(r.id), literal(r.engineer), literal(",".join(r.scope)),
                          duration_text(r.minutes), literal(r.ticket), self._status(r),
                          _left(r.expires_at) if r.status == "pending" else "",
                          literal(r.reason, max_len=60), key=f"request:{r.id}")
        self._restore("#requests", table)
        table = self._refill("#active")
        for g in data.active:
            table.add_row(str(g.id), literal(g.engineer), literal(",".join(g.scope)),
                          local_time(g.ends_at, tz, "%m-%d %H:%M"), _left(g.ends_at),
                          literal(g.ticket), literal(g.approved_by), key=f"grant:{g.id}")
        self._restore("#active", table)
        table = self._refill("#history")
        rows: list[tuple[Any, tuple[Any, ...], str]] = []
        for g in data.history:
            by = g.ended_by or g.approved_by
            rows.append((g.until, (f"grant #{g.id}", literal(g.engineer),
                                   literal(",".join(g.scope)), g.status,
                                   local_time(g.until, tz, "%m-%d %H:%M"), literal(by),
                                   literal(g.end_note or g.reason, max_len=60)), f"grant:{g.id}"))
        for r in data.decided:
            rows.append((r.decided_at or r.requested_at, (
                f"request #{r.id}", literal(r.engineer), literal(",".join(r.scope)), r.status,
                local_time(r.decided_at or r.requested_at, tz, "%m-%d %H:%M"),
                literal(r.decided_by), literal(r.decision_note or r.reason, max_len=60)),
                f"request:{r.id}"))
        for _, cells, key in sorted(rows, key=lambda row: row[0], reverse=True):
            table.add_row(*cells, key=key)
        self._restore("#history", table)
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("tab-waiting").label = (f"{'My requests' if data.vendor else 'Waiting'} "
                                             f"({len([r for r in data.waiting if r.status == 'pending'])}) (w)")
        tabs.get_tab("tab-active").label = f"Active ({len(data.active)}) (g)"
        self._hint()
        self.refresh_bindings()

    def _status(self, r: RequestView) -> str:
        if r.status == "pending" and r.approvals:
            return f"pending ({len(r.approvals)} approval{'s' if len(r.approvals) > 1 else ''})"
        return r.status

    def _refill(self, selector: str) -> DataTable[Any]:
        table = self.query_one(selector, DataTable)
        self._cursor_keys[selector] = self._selected_key(table)
        table.clear()
        return table

    def _restore(self, selector: str, table: DataTable[Any]) -> None:
        keep = self._cursor_keys.pop(selector, None)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))

    @staticmethod
    def _selected_key(table: DataTable[Any]) -> str | None:
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - no valid cursor
            return None

    def _tick(self) -> None:
        for selector, source, column in (("#requests", self.requests, "left"),
                                         ("#active", self.grants, "left")):
            table = self.query_one(selector, DataTable)
            for key in list(table.rows):
                item = source.get(key.value or "")
                if isinstance(item, RequestView) and item.status == "pending":
                    table.update_cell(key, column, _left(item.expires_at))
                elif isinstance(item, GrantView) and item.status == "active":
                    left = _left(item.ends_at)
                    table.update_cell(key, column, left)
                    if left == "ended":
                        self.set_timer(1.0, self.action_refresh)

    def _hint(self) -> None:
        data = self.data
        if data is None:
            return
        if data.vendor:
            text = "n request access · e more time · w g h tabs · enter details"
        elif data.can_approve or data.can_grant:
            text = "w g h tabs · enter opens a grant · every decision is confirmed and audited"
        else:
            text = "Read-only: you may see support access but not decide on it."
        self.query_one("#support-hint", Static).update(text)

    # -- selection ---------------------------------------------------------------------------

    def _current_tab(self) -> str:
        active = self.query_one(TabbedContent).active
        return next((name for name, pane in TABS.items() if pane == active), "waiting")

    def _selected(self, selector: str) -> str | None:
        return self._selected_key(self.query_one(selector, DataTable))

    def _request(self) -> RequestView | None:
        key = self._selected("#requests") if self._current_tab() == "waiting" else None
        request = self.requests.get(key or "")
        return request if request is not None and request.status == "pending" else None

    def _grant(self) -> GrantView | None:
        tab = self._current_tab()
        if tab == "waiting":
            return None
        key = self._selected(TABLES[tab])
        return self.grants.get(key or "")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        data = self.data
        staff = data is not None and not data.vendor
        if action in ("approve", "shorten", "deny"):
            return staff and data.can_approve and self._current_tab() == "waiting"  # type: ignore[union-attr]
        if action in ("revoke", "monitor"):
            return staff and data.can_grant and (  # type: ignore[union-attr]
                action == "monitor" or self._current_tab() == "active")
        if action == "extend":
            return data is not None and self._current_tab() == "active" and (
                data.vendor or data.can_grant)
        if action == "new":
            return data is not None and (data.vendor or data.can_grant)
        return True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = TABS[name]
        self.query_one(TABLES[name], DataTable).focus()

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if key.startswith("grant:"):
            from screens.support_grant import GrantScreen

            self.app.push_screen(GrantScreen(int(key.split(":")[1])))

    def action_monitor(self) -> None:
        from screens.support_monitor import SupportMonitorScreen

        self.app.push_screen(SupportMonitorScreen())

    # -- decisions ---------------------------------------------------------------------------

    def _done(self, message: str):
        def show(_result: object) -> None:
            self.notify(message, markup=False)
            self.action_refresh()
        return show

    def action_approve(self) -> None:
        request = self._request()
        if request is None:
            self.notify("Select a waiting request first.", severity="warning")
            return
        text = (f"{request.engineer} gets {', '.join(request.scope)} for "
                f"{duration_text(request.minutes)} from now (ticket {request.ticket}).")

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.call(approve_request, request.id, settings=self.console.settings.support,
                          on_done=self._approved, group="support-decide")

        self.app.push_screen(ConfirmScreen(f"Approve request #{request.id}?", text,
                                           confirm_label="Approve"), confirmed)

    def _approved(self, result: Any) -> None:
        if result.grant is None:
            self.notify(f"Approved; request #{result.request.id} needs "
                        f"{result.approvals_needed} more approval(s) from someone else.")
        else:
            self.notify(f"Grant #{result.grant.id}: {result.grant.engineer} has access until "
                        f"{local_time(result.grant.ends_at, self.console.settings.ui.timezone, '%H:%M')}.",
                        markup=False)
        self.action_refresh()

    def action_shorten(self) -> None:
        request = self._request()
        if request is None:
            self.notify("Select a waiting request first.", severity="warning")
            return
        allowed = set(request.scope)
        minutes = request.minutes
        for approval in request.approvals:
            allowed &= set(approval["scope"])
            minutes = min(minutes, approval["minutes"])
        form = AccessForm(FormMode.APPROVE, self.console.settings.support,
                          title=f"Approve request #{request.id} of {request.engineer}",
                          info=f"Asked for {duration_text(minutes)} · ticket {request.ticket}"
                               f" · {request.reason}",
                          scope_choices=tuple(sorted(allowed)), scope=tuple(sorted(allowed)),
                          max_minutes=minutes, hours=f"{minutes / 60:g}")

        def submitted(result: AccessFormResult | None) -> None:
            if result is None:
                return
            text = (f"{request.engineer} gets {', '.join(result.scope)} for "
                    f"{result.hours if result.hours is not None else minutes / 60:g} h.")

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self.call(approve_request, request.id,
                              settings=self.console.settings.support, hours=result.hours,
                              scope=result.scope, note=result.note, on_done=self._approved,
                              group="support-decide")

            self.app.push_screen(ConfirmScreen(f"Approve request #{request.id}?", text,
                                               confirm_label="Approve"), confirmed)

        self.app.push_screen(form, submitted)

    def action_deny(self) -> None:
        request = self._request()
        if request is None:
            self.notify("Select a waiting request first.", severity="warning")
            return

        def given(reason: str | None) -> None:
            if reason:
                self.call(deny_request, request.id, reason=reason,
                          on_done=self._done(f"Denied request #{request.id}."),
                          group="support-decide")

        self.app.push_screen(ReasonPrompt(
            f"Deny request #{request.id} of {request.engineer}?",
            f"{', '.join(request.scope)} for {duration_text(request.minutes)}: {request.reason}",
            action_label="Deny"), given)

    def action_new(self) -> None:
        data = self.data
        if data is None:
            return
        settings = self.console.settings.support
        if data.vendor:
            def requested(result: AccessFormResult | None) -> None:
                if result is not None:
                    self.call(request_access, settings=settings, scope=result.scope,
                              reason=result.reason, ticket=result.ticket, hours=result.hours,
                              on_done=self._done("Request sent; it waits for the client's "
                                                 "approval."), group="support-decide")

            self.app.push_screen(AccessForm(FormMode.REQUEST, settings,
                                            title="Request support access"), requested)
            return

        def submitted(result: AccessFormResult | None) -> None:
            if result is None:
                return
            hours = result.hours if result.hours is not None else settings.default_hours

            def confirmed(ok: bool | None) -> None:
                if ok:
                    self.call(create_grant, settings=settings, engineer=result.engineer,
                              scope=result.scope, reason=result.reason, ticket=result.ticket,
                              hours=result.hours,
                              on_done=lambda g: self._done(f"Grant #{g.id} created.")(g),
                              group="support-decide")

            self.app.push_screen(ConfirmScreen(
                f"Grant {result.engineer} access now?",
                f"{', '.join(result.scope)} for {hours:g} h, ticket {result.ticket}. "
                "Their SSH key works until it ends.", confirm_label="Grant"), confirmed)

        self.app.push_screen(AccessForm(FormMode.GRANT, self.console.settings.support,
                                        title="Grant support access"), submitted)

    def action_extend(self) -> None:
        grant = self._grant()
        if grant is None or grant.status != "active":
            self.notify("Select an active grant first.", severity="warning")
            return
        settings = self.console.settings.support

        def submitted(result: AccessFormResult | None) -> None:
            if result is not None:
                self.call(request_extension, grant.id, settings=settings, reason=result.reason,
                          hours=result.hours, ticket=result.ticket, scope=result.scope,
                          on_done=self._done("Extension requested; it needs approval."),
                          group="support-decide")

        self.app.push_screen(AccessForm(
            FormMode.EXTEND, settings, title=f"More time on grant #{grant.id}",
            info="An extension is a new request: nothing changes until it is approved.",
            scope=grant.scope, ticket=grant.ticket), submitted)

    def action_revoke(self) -> None:
        grant = self._grant()
        if grant is None or grant.status != "active":
            self.notify("Select an active grant first.", severity="warning")
            return
        revoke(self, grant.id, grant.engineer, on_done=self._done(f"Revoked grant #{grant.id}."))


def revoke(screen: AreaScreen, grant_id: int, engineer: str, *, on_done) -> None:
    """Ask why, confirm, revoke: shared with the grant and monitor screens."""
    def given(reason: str | None) -> None:
        if not reason:
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                screen.call(revoke_grant, grant_id, reason=reason, on_done=on_done,
                            group="support-revoke")

        screen.app.push_screen(ConfirmScreen(
            f"Revoke grant #{grant_id} now?",
            f"{engineer}'s support session closes within a second and the SSH key stops "
            "working.", confirm_label="Revoke now"), confirmed)

    screen.app.push_screen(ReasonPrompt(f"Revoke grant #{grant_id} of {engineer}",
                                        "Why does this access end now?",
                                        action_label="Revoke"), given)
