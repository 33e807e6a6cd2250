"""The line of areas and their keys at the top of every main screen."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget


class NavBar(Widget):
    """Shows `key Title` for each area the user may open; the current one highlighted.
    When they do not fit on one line they wrap between areas, never inside one.

    The lines are laid out for the width the widget has when it is drawn (not cached from
    a resize event: over SSH the first paint could come before it, and the last area
    then broke in two, its key at the end of one line and its title on the next)."""

    DEFAULT_CSS = "NavBar { height: auto; }"

    def __init__(self, items: list[tuple[str, str, str]], current: str) -> None:
        super().__init__()
        self.items = items
        self.current = current

    def render(self) -> Text:
        return self._render_items(self.items, self.current, self.content_region.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._render_items(self.items, self.current, width).plain.count("\n") + 1

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
