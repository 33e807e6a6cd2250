"""The Users and Roles screens and the sign-in steps through Pilot at 80x24: what the
screen shows, and what the database and the audit trail hold after."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, SelectionList

from console import mfa
from console.app import ConsoleApp
from console.users import AccountKind
from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.idhelp import (
    OTHER_PASSWORD,
    PASSWORD,
    add_user,
    details,
    enrol,
    last_event,
    user_row,
)
from tests.tuihelp import log_in, screen_text, settle, table_rows, wait_for_screen

# The main flows run on both backends; the rest of the screen behaviour on SQLite only.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def open_users(pilot, app: ConsoleApp) -> None:
    await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
    await wait_for_screen(pilot, app, "DashboardScreen")
    await pilot.press("2")
    await wait_for_screen(pilot, app, "UsersScreen")


def set_field(app: ConsoleApp, name: str, value: str) -> None:
    app.screen.query_one(f"#{name}", Input).value = value


async def press_button(pilot, app: ConsoleApp, button_id: str) -> None:
    button = app.screen.query_one(f"#{button_id}", Button)
    assert not button.disabled, f"#{button_id} is disabled: {screen_text(app)}"
    button.press()
    await settle(pilot, app)


def row_of(app: ConsoleApp, username: str) -> list[str]:
    return next(r for r in table_rows(app, "#users-table") if r[0] == username)


async def select_user(pilot, app: ConsoleApp, username: str) -> None:
    table = app.screen.query_one("#users-table")
    table.move_cursor(row=table.get_row_index(username))
    await settle(pilot, app, 1)


async def test_add_a_user_then_give_a_role(runtime, db) -> None:
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        assert [r[0] for r in table_rows(app, "#users-table")] == [ADMIN]
        await pilot.press("a")
        await wait_for_screen(pilot, app, "UserFormScreen")
        set_field(app, "username", "Bad Name")
        await settle(pilot, app, 1)
        assert "use 2-64 characters" in screen_text(app)  # the rule, as you type
        assert app.screen.query_one("#save", Button).disabled
        set_field(app, "username", "bob")
        set_field(app, "display_name", "Bob Builder")
        set_field(app, "email", "bob@client.example")
        app.screen.query_one("#roles", SelectionList).select("auditor")
        await settle(pilot, app, 1)
        await press_button(pilot, app, "save")
        await wait_for_screen(pilot, app, "SecretScreen")
        temporary = app.screen.secret
        assert temporary in screen_text(app) and "Shown once" in screen_text(app)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, "UsersScreen")
        assert row_of(app, "bob")[1:4] == ["staff", "auditor", "temp-password"]
        await select_user(pilot, app, "bob")
        assert "Bob Builder" in screen_text(app)
        await pilot.press("r")
        await wait_for_screen(pilot, app, "SetRolesScreen")
        app.screen.query_one("#roles", SelectionList).select("operator")
        await press_button(pilot, app, "save")
        await wait_for_screen(pilot, app, "UsersScreen")
        assert row_of(app, "bob")[2] == "auditor,operator"
    bob = user_row(db, "bob")
    assert bob.must_change_password and bob.display_name == "Bob Builder"
    assert temporary not in last_event(db, "users.add").details
    event = last_event(db, "users.set_roles", target="user:bob")
    assert event.actor == ADMIN and details(event)["added"] == ["operator"]


@sqlite_only
async def test_forms_show_what_the_service_refuses(runtime, db) -> None:
    add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        await select_user(pilot, app, "fp-jane")
        await pilot.press("r")
        await wait_for_screen(pilot, app, "SetRolesScreen")
        app.screen.query_one("#roles", SelectionList).select("admin")
        await press_button(pilot, app, "save")
        assert type(app.screen).__name__ == "SetRolesScreen"  # stays open, says why
        assert "can never hold" in screen_text(app)
        await pilot.press("escape")
        await wait_for_screen(pilot, app, "UsersScreen")
        await select_user(pilot, app, ADMIN)
        await pilot.press("d")
        await wait_for_screen(pilot, app, "ReasonScreen")
        set_field(app, "reason", "testing the rule")
        await settle(pilot, app, 1)
        await press_button(pilot, app, "save")
        assert "their own account" in screen_text(app)
    assert last_event(db, "users.set_roles").outcome == "error"
    assert last_event(db, "users.disable").outcome == "denied"


@sqlite_only
async def test_filter_and_disable_with_reason(runtime, db) -> None:
    add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    add_user(runtime, db, "bob", "auditor")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        set_field(app, "filter", "kind:vendor")
        await pilot.pause(0.4)
        await settle(pilot, app)
        assert [r[0] for r in table_rows(app, "#users-table")] == ["fp-jane"]
        set_field(app, "filter", "")
        await pilot.pause(0.4)
        await settle(pilot, app)
        await select_user(pilot, app, "bob")
        app.screen.query_one("#users-table").focus()
        await pilot.press("d")
        await wait_for_screen(pilot, app, "ReasonScreen")
        assert app.screen.query_one("#save", Button).disabled  # a reason is required
        set_field(app, "reason", "left the company")
        await settle(pilot, app, 1)
        await press_button(pilot, app, "save")
        await wait_for_screen(pilot, app, "UsersScreen")
        assert row_of(app, "bob")[3] == "disabled"
        assert "left the company" in screen_text(app)
    event = last_event(db, "users.disable", target="user:bob")
    assert event.actor == ADMIN and details(event)["reason"] == "left the company"


async def test_reset_password_then_forced_change_at_login(runtime, db) -> None:
    add_user(runtime, db, "bob", "auditor")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        await select_user(pilot, app, "bob")
        await pilot.press("p")
        await wait_for_screen(pilot, app, "ConfirmScreen")
        await press_button(pilot, app, "confirm")
        await wait_for_screen(pilot, app, "SecretScreen")
        temporary = app.screen.secret
        await pilot.press("enter")
        await pilot.press("ctrl+l")
        await log_in(pilot, app, "bob", temporary)
        await wait_for_screen(pilot, app, "ChangePasswordScreen")
        assert "temporary password" in screen_text(app)
        set_field(app, "new", "password1234")
        await settle(pilot, app, 1)
        assert "too easy to guess" in screen_text(app)  # zxcvbn's verdict, as you type
        set_field(app, "new", OTHER_PASSWORD)
        set_field(app, "repeat", OTHER_PASSWORD + "x")
        await settle(pilot, app, 1)
        assert "does not match" in screen_text(app)
        assert app.screen.query_one("#save", Button).disabled
        set_field(app, "repeat", OTHER_PASSWORD)
        await settle(pilot, app, 1)
        await press_button(pilot, app, "save")
        await wait_for_screen(pilot, app, "DashboardScreen")
        assert "bob (auditor)" in screen_text(app)
    assert not user_row(db, "bob").must_change_password
    assert details(last_event(db, "auth.password_change")) == {"forced": True}


@sqlite_only
async def test_not_changing_the_temporary_password_logs_out(runtime, db) -> None:
    add_user(runtime, db, "bob", "auditor", must_change=True)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "bob", PASSWORD)
        await wait_for_screen(pilot, app, "ChangePasswordScreen")
        await pilot.press("2")  # typed into the form; no area opens
        await press_button(pilot, app, "cancel")
        await wait_for_screen(pilot, app, "LoginScreen")
        assert "temporary password was not changed" in screen_text(app)
    assert last_event(db, "auth.logout", target="user:bob").outcome == "ok"


@sqlite_only
async def test_totp_step_at_login(runtime, db, clock) -> None:
    add_user(runtime, db, "bob", "auditor")
    secret = enrol(runtime, db, "bob")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "bob", PASSWORD)
        await wait_for_screen(pilot, app, "TotpPromptScreen")
        set_field(app, "code", "000000")
        await press_button(pilot, app, "verify")
        assert "wrong or expired code" in screen_text(app)
        set_field(app, "code", mfa.code_at(secret, clock.now()))
        await press_button(pilot, app, "verify")
        await wait_for_screen(pilot, app, "DashboardScreen")
    assert details(last_event(db, "auth.login", target="user:bob"))["mfa"] == "totp"


@sqlite_only
async def test_vendor_enrols_totp_at_first_login(runtime, db, clock) -> None:
    import base64

    add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "fp-jane", PASSWORD)
        await wait_for_screen(pilot, app, "TotpEnrolScreen")
        text = screen_text(app)
        assert "otpauth://totp/FlowPro:fp-jane" in text.replace("\n", "") or "otpauth" in text
        assert "█" in text and "▀" in text  # the QR code, drawn in the terminal
        assert app.screen.query_one("#confirm", Button).region.bottom <= 24  # fits 80x24
        key = str(app.screen.query_one("#secret").render()).replace(" ", "")
        raw = base64.b32decode(key + "=" * (-len(key) % 8))
        set_field(app, "code", mfa.code_at(raw, clock.now()))
        await press_button(pilot, app, "confirm")
        # Outside a support session a vendor can only ask for access: it lands on Support.
        await wait_for_screen(pilot, app, "SupportScreen")
    assert user_row(db, "fp-jane").totp_confirmed


async def test_idle_lock_and_unlock(runtime, db, clock) -> None:
    minutes = runtime.settings.security.idle_lock_minutes
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        clock.advance(minutes=minutes - 1)
        await pilot.pause(1.5)
        assert type(app.screen).__name__ == "UsersScreen"
        await pilot.press("down")  # input resets the idle time
        clock.advance(minutes=minutes - 1)
        await pilot.pause(1.5)
        assert type(app.screen).__name__ == "UsersScreen"
        clock.advance(minutes=1)
        await wait_for_screen(pilot, app, "LockScreen")
        text = screen_text(app)
        assert "is locked" in text and ADMIN_PASSWORD not in text
        assert "Username" not in text  # the users table is hidden
        app.screen.query_one("#unlock", Button).focus()
        await pilot.press("3")  # no way around the lock
        await settle(pilot, app)
        assert type(app.screen).__name__ == "LockScreen"
        set_field(app, "lock-password", "wrong-password-1")
        await press_button(pilot, app, "unlock")
        assert "Wrong password" in screen_text(app)
        set_field(app, "lock-password", ADMIN_PASSWORD)
        await press_button(pilot, app, "unlock")
        await wait_for_screen(pilot, app, "UsersScreen")
    assert details(last_event(db, "auth.idle_lock")) == {"idle_minutes": minutes}
    assert last_event(db, "auth.idle_lock").actor == ADMIN
    assert last_event(db, "auth.unlock").outcome == "ok"


@sqlite_only
async def test_disabled_user_is_thrown_out_mid_session(runtime, db, root) -> None:
    from console.users import disable_user

    add_user(runtime, db, "bob", "auditor")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, "bob", PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        disable_user(db, root, "bob", reason="left the company")
        await wait_for_screen(pilot, app, "LoginScreen")
        assert "disabled" in screen_text(app)


@sqlite_only
async def test_roles_screen_matrix_and_create(runtime, db) -> None:
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await log_in(pilot, app, ADMIN, ADMIN_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("3")
        await wait_for_screen(pilot, app, "RolesScreen")
        matrix = {r[0]: r for r in table_rows(app, "#matrix")}
        assert matrix["users.write"][1:5] == ["✓", "·", "·", "·"]  # admin only
        assert matrix["logs.read"][1:5] == ["✓", "✓", "·", "✓"]
        assert "Browse and search the processing logs" in matrix["logs.read"][-1]
        assert "See console users" in screen_text(app)  # the highlighted permission
        await pilot.press("a")
        await wait_for_screen(pilot, app, "RoleFormScreen")
        set_field(app, "role_name", "log-readers")
        set_field(app, "description", "Reads the processing logs")
        app.screen.query_one("#permissions", SelectionList).select("logs.read")
        await settle(pilot, app, 1)
        await press_button(pilot, app, "save")
        await wait_for_screen(pilot, app, "RolesScreen")
        assert "log-readers" in [r[0] for r in table_rows(app, "#roles-table")]
        matrix = {r[0]: r for r in table_rows(app, "#matrix")}
        assert matrix["logs.read"][5] == "✓" and matrix["pii.read"][5] == "·"
        await pilot.press("x")  # built-in admin is selected: deleting it is not offered
        await settle(pilot, app)
        assert type(app.screen).__name__ == "RolesScreen"
    event = last_event(db, "roles.add", target="role:log-readers")
    assert event.actor == ADMIN and details(event)["permissions"] == ["logs.read"]


@sqlite_only
async def test_screens_fit_80x24(runtime, db) -> None:
    for i in range(30):
        add_user(runtime, db, f"user{i:02d}", "auditor")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        # The table's header right under the nav bar (two lines once the areas wrap).
        assert any("Username" in line for line in lines[3:5]) and "Add" in lines[-1]
        assert any("last login" in line for line in lines[-6:])  # the detail panel
        await pilot.press("a")
        await wait_for_screen(pilot, app, "UserFormScreen")
        assert app.screen.query_one("#save", Button).region.bottom <= 24
        await pilot.press("escape")
        await pilot.press("3")
        await wait_for_screen(pilot, app, "RolesScreen")
        await pilot.press("e")
        await wait_for_screen(pilot, app, "RoleFormScreen")
        assert app.screen.query_one("#save", Button).region.bottom <= 24


@sqlite_only
async def test_actions_from_the_command_palette(runtime, db) -> None:
    from textual.command import CommandPalette

    add_user(runtime, db, "bob", "auditor")
    app = ConsoleApp(runtime, host="testhost")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_users(pilot, app)
        await select_user(pilot, app, "bob")
        await pilot.press("ctrl+p")
        await wait_for_screen(pilot, app, "CommandPalette")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        palette.query_one(Input).value = "disable bob"
        await pilot.pause(0.5)
        await settle(pilot, app)
        assert "Disable bob" in screen_text(app)
        assert "Enable bob" not in screen_text(app)  # bob is not disabled
        await pilot.press("down", "enter")
        await wait_for_screen(pilot, app, "ReasonScreen")
        assert "Disable bob?" in screen_text(app)
