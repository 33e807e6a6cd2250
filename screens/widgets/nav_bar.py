"""The line of areas and their keys at the top of every main screen."""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.widgets import Static


class NavBar(Static):
    """Shows `key Title` for each area the user may open; the current one highlighted.
    When they do not fit on one line they wrap between areas, never inside one."""

    def __init__(self, items: list[tuple[str, str, str]], current: str) -> None:
        self.items = items
        self.current = current
        super().__init__(self._render_items(items, current, 0), markup=False)

    def on_resize(self, event: Resize) -> None:
        self.update(self._render_items(self.items, self.current, event.size.width))

    @staticmethod
    def _render_items(items: list[tuple[str, str, str]], current: str, width: int) -> Text:
        text = Text(no_wrap=True, end="")
        used = 0
        for area_id, key, title in items:
            piece = len(key) + len(title) + 3
            if width and used and used + piece > width:
                text.append("\n")
                used = 0
            style = "reverse bold" if area_id == current else ""
            text.append(f" {key} ", style="bold " + style)
            text.append(f"{title} ", style=style)
            used += piece
        return text
