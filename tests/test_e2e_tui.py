"""What the SSH runs found, pinned down through Pilot: keys typed ahead at the login screen
land in the right field, no screen's key bar is cut off at 80x24 (it wraps), and the nav
bar never breaks an area's key from its title."""

from __future__ import annotations

import pytest
from textual import events

from console.app import AREAS, ConsoleApp
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.tuihelp import screen_text, settle, wait_for_screen

# The screens are the same on both backends (the services under them run on both in the
# service tests): these run on SQLite only.
ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])


def _key(char: str) -> events.Key:
    names = {"\r": "enter", "\t": "tab", "-": "minus"}
    return events.Key(names.get(char, char), None if char in "\r\t" else char)


@ONE_BACKEND
@pytest.mark.parametrize("between", ["\r", "\t"], ids=["enter", "tab"])
async def test_password_typed_ahead_lands_in_the_password_field(runtime, between) -> None:
    """A burst of keys, as a password manager or a slow SSH link delivers them: the app
    forwards keys before the username field has handled Enter (or Tab), so the focus must
    move when the app sees the key, not later."""
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, app, "LoginScreen")
        for char in f"{ADMIN}{between}{ADMIN_PASSWORD}\r":
            app.post_message(_key(char))
        await settle(pilot, app)
        if type(app.screen).__name__ == "LoginScreen":
            fields = {name: app.screen.query_one(f"#{name}").value
                      for name in ("username", "password")}
            raise AssertionError(f"still logging in: {fields}")
        await wait_for_screen(pilot, app, "DashboardScreen")
        assert app.principal is not None and app.principal.name == ADMIN


@ONE_BACKEND
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_area_shows_its_whole_key_bar(runtime, size: tuple[int, int]) -> None:
    """Every key the area's bar shows fits on the screen: the last one (Quit) and the
    command palette are visible on the bottom lines."""
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=size) as pilot:
        await wait_for_screen(pilot, app, "LoginScreen")
        app.screen.query_one("#username").value = ADMIN
        app.screen.query_one("#password").value = ADMIN_PASSWORD
        app.screen.query_one("#password").focus()
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "DashboardScreen")
        for area in (a for a in AREAS if a.available):
            await pilot.press(area.key)
            await wait_for_screen(pilot, app, area.screen)
            await settle(pilot, app)
            top = "\n".join(screen_text(app).split("\n")[1:3])
            for other in app.visible_areas():  # the nav bar wraps between areas only
                assert f"{other.key} {other.title}" in top, top
            shown = [b.description for _ns, b, enabled, _t in
                     app.screen.active_bindings.values() if b.show]
            bottom = "\n".join(screen_text(app).split("\n")[-4:])
            for description in shown:
                assert description in bottom, f"{area.title}: {description!r} cut off:\n{bottom}"
            assert "^p" in bottom
