"""The FlowPro engineer's banner, on every screen: the grant's scope and a live countdown,
or (outside a support session) how to ask for access. Opening a screen is recorded here,
as part of the support session's transcript."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from console import clock
from console.display import local_time
from console.support_sessions import note_screen, screen_target
from console.support_views import MyAccess, my_access

RELOAD_SECONDS = 15.0  # an approved extension shows up within this


def countdown(left_seconds: float) -> str:
    left = max(int(left_seconds), 0)
    hours, rest = divmod(left, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class SupportBanner(Static):
    DEFAULT_CSS = """
    SupportBanner {
        height: auto;
        max-height: 2;
        background: $warning-muted;
        color: $foreground;
        text-style: bold;
    }
    """

    def __init__(self, area: str) -> None:
        super().__init__("", markup=False, id="support-banner")
        self.area = area
        self.access: MyAccess | None = None

    def on_mount(self) -> None:
        app = self.app
        app.run_service(self, note_screen, screen_target(self.area), group="banner-note")  # type: ignore[attr-defined]
        self.set_interval(1.0, self.refresh_text)
        self.set_interval(RELOAD_SECONDS, self.reload)
        self.reload()

    def reload(self) -> None:
        self.app.run_service(self, my_access, on_done=self._loaded,  # type: ignore[attr-defined]
                             group="banner-access")

    def _loaded(self, access: MyAccess) -> None:
        self.access = access
        self.refresh_text()

    def refresh_text(self) -> None:
        tz = self.app.settings.ui.timezone  # type: ignore[attr-defined]
        self.update(self.describe(self.access, clock.now(), tz))

    @staticmethod
    def describe(access: MyAccess | None, now: datetime, tz: str) -> Text:
        if access is None:
            return Text(" FlowPro support · checking access…", end="")
        if not access.in_support_session or access.ends_at is None:
            waiting = (f" · {access.pending_requests} request(s) waiting"
                       if access.pending_requests else "")
            return Text(" No support access in this session: request it on the Support "
                        f"screen{waiting}", end="")
        pii = "PII visible" if access.pii_visible else "PII masked"
        left = (access.ends_at - now).total_seconds()
        tail = f"{countdown(left)} left" if left > 0 else "ended, closing…"
        return Text(f" SUPPORT ACCESS #{access.grant_id} · {', '.join(access.scope)} · {pii} "
                    f"· until {local_time(access.ends_at, tz, '%H:%M')} · {tail}", end="")
