"""Driving the real ConsoleApp through Pilot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.worker import WorkerCancelled

from console.app import ConsoleApp


async def settle(pilot: Pilot, app: ConsoleApp, rounds: int = 3) -> None:
    """Let workers finish and their results paint."""
    for _ in range(rounds):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            pass  # a worker whose screen closed when its result arrived
        await pilot.pause(0.05)


async def wait_for_screen(pilot: Pilot, app: ConsoleApp, name: str, timeout: float = 10) -> None:
    loops = int(timeout / 0.05)
    for _ in range(loops):
        if type(app.screen).__name__ == name:
            await settle(pilot, app)
            return
        await pilot.pause(0.05)
    raise AssertionError(f"expected {name}, on {type(app.screen).__name__}")


async def log_in(pilot: Pilot, app: ConsoleApp, username: str, password: str) -> None:
    """Fill the login form (values set directly: typing costs ~70 ms a key) and submit."""
    await wait_for_screen(pilot, app, "LoginScreen")
    app.screen.query_one("#username").value = username
    password_input = app.screen.query_one("#password")
    password_input.value = password
    password_input.focus()
    await pilot.pause()
    await pilot.press("enter")


def table_rows(app: ConsoleApp, selector: str) -> list[list[str]]:
    table: DataTable[Any] = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def screen_text(app: ConsoleApp) -> str:
    """What the terminal shows, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())  # noqa: SLF001


async def wait_until(pilot: Pilot, app: ConsoleApp, check: Callable[[], bool], what: str,
                     timeout: float = 10) -> None:
    """Poll until `check()` holds: under load a fixed pause is sometimes too short."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; screen shows:\n{screen_text(app)}")
