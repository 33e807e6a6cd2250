"""One support grant: its request and approvals, its window and end, its support sessions
and their signed receipts (checked when shown)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console.display import literal, local_time
from console.receipts import ReceiptCheck, ReceiptView, grant_receipts, verify_grant_receipts
from console.support_rules import duration_text
from console.support_views import GrantDetail, grant_detail
from screens.base import AreaScreen


class GrantScreen(AreaScreen):
    AREA = "support"
    CSS_PATH = "support_grant.tcss"
    BINDINGS = [
        Binding("escape,b", "back", "Back", id="support-grant.back"),
        Binding("r", "revoke", "Revoke", id="support-grant.revoke"),
        Binding("v", "verify", "Verify receipts", id="support-grant.verify"),
    ]

    def __init__(self, grant_id: int) -> None:
        super().__init__()
        self.grant_id = grant_id
        self.detail: GrantDetail | None = None
        self.receipts: list[ReceiptView] = []

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="grant-body"):
            yield Static(f"Grant #{self.grant_id}", id="grant-detail")
            yield Static("Support sessions", classes="section-title")
            yield DataTable(id="sessions", cursor_type="row")
            yield Static("Receipts", classes="section-title")
            yield Static("", id="receipts")

    def on_mount(self) -> None:
        self.query_one("#sessions", DataTable).add_columns(
            "Started", "Ended", "From", "Actions", "End", "Receipt")
        self.load()

    def load(self) -> None:
        self.call(grant_detail, self.grant_id, on_done=self._show, group="grant-detail")
        self.call(grant_receipts, self.grant_id, on_done=self._receipts, group="grant-receipts")

    def _show(self, detail: GrantDetail) -> None:
        self.detail = detail
        tz = self.console.settings.ui.timezone
        g = detail.grant
        pii = "personal data visible" if "pii.read" in g.scope else "personal data masked"
        lines = [f"Grant #{g.id} · {g.engineer} · {g.status}",
                 f"Scope: {', '.join(g.scope)} ({pii})",
                 f"Window: {local_time(g.starts_at, tz)} to {local_time(g.ends_at, tz)} "
                 f"({duration_text(g.minutes)}; asked for {duration_text(g.requested_minutes)})",
                 f"Reason: {g.reason} · ticket {g.ticket}",
                 f"Asked by {g.requested_by}"
                 + (f" (request #{g.request_id})" if g.request_id else " (direct grant)")
                 + f" · approved by {g.approved_by}"]
        if g.ended_by:
            lines.append(f"Ended: {g.end_reason} by {g.ended_by} at "
                         f"{local_time(g.ended_at, tz)}: {g.end_note}")
        if len(detail.chain) > 1:
            lines.append("Extensions: " + " → ".join(f"#{i}" for i in detail.chain))
        self.query_one("#grant-detail", Static).update(
            Text("\n").join(literal(line) for line in lines))
        table = self.query_one("#sessions", DataTable)
        table.clear()
        for s in detail.sessions:
            table.add_row(local_time(s.started_at, tz, "%m-%d %H:%M"),
                          local_time(s.ended_at, tz, "%m-%d %H:%M") if s.ended_at else "open",
                          literal(s.source or "local"), str(s.actions),
                          literal(s.end_reason, max_len=40),
                          f"#{s.receipt_id}" if s.receipt_id else "", key=s.id)
        self.refresh_bindings()

    def _receipts(self, receipts: list[ReceiptView], checks: dict[int, ReceiptCheck] | None = None
                  ) -> None:
        self.receipts = receipts
        if not receipts:
            self.query_one("#receipts", Static).update("No support session has ended yet.")
            return
        parts: list[Text] = []
        for r in receipts:
            check = (checks or {}).get(r.id)
            state = ("" if check is None else "  ✓ signature and events intact" if check.ok
                     else f"  ✗ INVALID: {check.problem}")
            parts.append(literal(f"Receipt #{r.id} · session {r.session_id[:8]} · key "
                                 f"{r.key_id}{state}", style="bold"))
            parts.extend(literal(line) for line in r.summary.splitlines())
            parts.append(Text(""))
        self.query_one("#receipts", Static).update(Text("\n").join(parts))

    def action_verify(self) -> None:
        def checked(results: list[ReceiptCheck]) -> None:
            self._receipts(self.receipts, {c.receipt_id: c for c in results})
            bad = [c for c in results if not c.ok]
            self.notify(f"{len(bad)} receipt(s) INVALID" if bad else
                        f"{len(results)} receipt(s) verified", severity="error" if bad
                        else "information")

        self.call(verify_grant_receipts, self.console.runtime.keys, self.grant_id,
                  on_done=checked, group="grant-verify")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "revoke":
            principal = self.console.principal
            return bool(self.detail and self.detail.grant.status == "active" and principal
                        and not principal.is_vendor)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_revoke(self) -> None:
        from screens.support import revoke

        if self.detail is None:
            return
        revoke(self, self.grant_id, self.detail.grant.engineer,
               on_done=lambda _: self.load())
