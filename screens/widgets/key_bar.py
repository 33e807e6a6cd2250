"""The key bar at the bottom of every screen: Textual's Footer, but when the keys do not
fit the terminal's width it wraps them onto more lines instead of cutting them off (at
80x24 the log browser's keys ran past the edge, so those actions could not be seen)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# FooterKey (not compact) pads the key with one space each side and the description with
# one after it; the command palette key has a one-cell border and one of padding too.
KEY_PADDING = 2
DESCRIPTION_PADDING = 1
PALETTE_EXTRA = 2


def key_width(key: FooterKey) -> int:
    width = cell_len(key.key_display) + KEY_PADDING
    if key.description:
        width += cell_len(key.description) + DESCRIPTION_PADDING
    return width


def pack(keys: list[FooterKey], first_width: int, width: int) -> list[list[FooterKey]]:
    """Keys in order, as many to a line as fit (the first line has less room)."""
    rows: list[list[FooterKey]] = [[]]
    room = first_width
    for key in keys:
        needed = key_width(key)
        if rows[-1] and needed > room:
            rows.append([])
            room = width
        rows[-1].append(key)
        room -= needed
    return rows


class KeyRow(Horizontal):
    """One line of the key bar."""


class KeyBar(Footer):
    """A Footer that wraps instead of cutting keys off."""

    DEFAULT_CSS = """
    KeyBar { layout: vertical; height: auto; max-height: 4; }
    KeyBar > KeyRow { height: 1; width: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._composed_width = 0
        self._composed_keys: tuple = ()

    def _keys(self) -> tuple:
        """What the bar shows: each active binding as it would be drawn."""
        return tuple((b.key, b.action, b.description, b.show, enabled, tooltip)
                     for _node, b, enabled, tooltip in self.screen.active_bindings.values())

    def bindings_changed(self, screen: Screen) -> None:
        # Textual recomposes the bar on every focus change and screen resume (three times
        # when a dialog closes, some 30-50 ms each at 80x24); only when the keys changed
        # is that needed.
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        # Not while another screen is in front: this one may be being taken down (its
        # widgets gone, its check_action failing); resuming it announces its keys again.
        if not self.is_attached or self.app.screen is not self.screen:
            return
        if self._keys() != self._composed_keys or self._width() != self._composed_width:
            await self.recompose()

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def compose(self) -> ComposeResult:
        widgets: list[Widget] = list(super().compose())
        width = self._width()
        self._composed_width = width
        if self._bindings_ready:
            self._composed_keys = self._keys()
        if not widgets:
            return
        palette = [w for w in widgets if w.has_class("-command-palette")]
        keys = [w for w in widgets if isinstance(w, FooterKey) and w not in palette]
        others = [w for w in widgets if w not in palette and w not in keys]
        if others:  # binding groups (not used by the console): Textual's own layout
            yield from widgets
            return
        palette_width = sum(key_width(p) + PALETTE_EXTRA for p in palette)
        for index, row in enumerate(pack(keys, max(1, width - palette_width), width)):
            with KeyRow():
                yield from row
                if index == 0:
                    yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._composed_width:
            self.refresh(recompose=True)
