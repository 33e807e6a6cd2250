"""Who is logged in, where: the first line of every main screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.display import printable
from console.principal import Principal


class SessionBar(Static):
    def __init__(self, principal: Principal | None, host: str, **kwargs) -> None:
        super().__init__(self.describe(principal, host), markup=False, **kwargs)

    @staticmethod
    def describe(principal: Principal | None, host: str) -> Text:
        text = Text(" FlowPro Console ", style="bold", end="")
        if principal is not None:
            roles = ", ".join(principal.roles) or principal.kind.value
            text.append(f"· {printable(principal.name)} ({printable(roles)}) ")
        text.append(f"· {printable(host)}", style="dim")
        return text
