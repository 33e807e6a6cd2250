"""The line of areas and their keys at the top of every main screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class NavBar(Static):
    """Shows `key Title` for each area the user may open; the current one highlighted."""

    def __init__(self, items: list[tuple[str, str, str]], current: str) -> None:
        super().__init__(self._render_items(items, current), markup=False)

    @staticmethod
    def _render_items(items: list[tuple[str, str, str]], current: str) -> Text:
        text = Text(no_wrap=False, end="")
        for area_id, key, title in items:
            style = "reverse bold" if area_id == current else ""
            text.append(f" {key} ", style="bold " + style)
            text.append(f"{title} ", style=style)
        return text
