"""How job progress looks in tables: a bar, a rate and a duration."""

from __future__ import annotations

from rich.text import Text


def progress_bar(fraction: float | None, width: int = 10) -> Text:
    """`██████░░░░  60%`; an unknown total shows a dim bar without a percentage."""
    if fraction is None:
        return Text("░" * width + "    ?", style="dim", end="")
    filled = round(fraction * width)
    text = Text(end="", no_wrap=True)
    text.append("█" * filled, style="green")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {fraction:4.0%}")
    return text


def rate_text(rate: float | None) -> str:
    """Units per second, compact: `850/s`, `12.5k/s`, `3.1M/s`."""
    if not rate:
        return ""
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= limit:
            return f"{rate / limit:.1f}{suffix}/s"
    return f"{rate:.1f}/s" if rate < 10 else f"{rate:.0f}/s"


def duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h07m`, `3d04h`."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s // 60 % 60:02d}m"
    return f"{s // 86400}d{s // 3600 % 24:02d}h"
