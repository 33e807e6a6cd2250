"""A one-line sparkline of log volume per time bar, each bar styled by the worst level
it holds (colours from the stylesheet's component classes)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


class Histogram(Widget):
    COMPONENT_CLASSES = {"histogram--error", "histogram--warn", "histogram--info",
                         "histogram--empty"}
    DEFAULT_CSS = "Histogram { height: 1; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bars: list[dict[int, int]] = []

    def show(self, bars: list[dict[int, int]]) -> None:
        self.bars = bars
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, end="")
        if not self.bars:
            return text
        totals = [sum(b.values()) for b in self.bars]
        peak = max(totals) or 1
        for bar, total in zip(self.bars, totals, strict=True):
            if not total:
                text.append(BLOCKS[0], self.get_component_rich_style("histogram--empty"))
                continue
            worst = min(bar)
            name = "error" if worst <= 3 else "warn" if worst == 4 else "info"
            height = max(1, round(total / peak * (len(BLOCKS) - 1)))
            text.append(BLOCKS[height], self.get_component_rich_style(f"histogram--{name}"))
        return text
