"""The frame every main area shares: who is logged in, the areas, the body, the keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen

from screens.widgets.key_bar import KeyBar
from screens.widgets.nav_bar import NavBar
from screens.widgets.session_bar import SessionBar
from screens.widgets.support_banner import SupportBanner

if TYPE_CHECKING:
    from console.app import ConsoleApp
    from console.errors import ConsoleError

T = TypeVar("T")


class AreaScreen(Screen[None]):
    """Subclasses set AREA and implement compose_body(); data comes via `call`."""

    AREA = ""

    @property
    def console(self) -> ConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield SessionBar(self.console.principal, self.console.host)
        yield NavBar(self.console.nav_items(), self.AREA)
        if self.console.principal is not None and self.console.principal.is_vendor:
            yield SupportBanner(self.AREA)  # FlowPro engineers: scope and countdown
        with Vertical(classes="area-body"):
            yield from self.compose_body()
        yield KeyBar()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def call(self, fn: Callable[..., T], *args: Any, on_done: Callable[[T], None] | None = None,
             on_error: Callable[[ConsoleError], None] | None = None, group: str = "load",
             exclusive: bool = True, **kwargs: Any) -> None:
        """Run a service function in a worker; `on_done(result)` runs on the UI thread."""
        self.console.run_service(self, fn, *args, on_done=on_done, on_error=on_error,
                                 group=group, exclusive=exclusive, **kwargs)
