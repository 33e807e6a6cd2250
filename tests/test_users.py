"""The account lifecycle and its safety rules, on both backends."""

from __future__ import annotations

import pytest

from console import user_directory, users
from console.account import change_password
from console.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    SessionEnded,
    ValidationError,
)
from console.permissions import Permission
from console.user_directory import UserStatus
from console.users import AccountKind
from tests.conftest import ADMIN
from tests.idhelp import (
    OTHER_PASSWORD,
    PASSWORD,
    add_user,
    details,
    enrol,
    events,
    last_event,
    login,
    user_row,
)


def test_add_edit_list_and_audit(runtime, db, admin) -> None:
    sec = runtime.settings.security
    users.create_user(db, admin, "bob", security=sec, password=PASSWORD, roles=("auditor",),
                      display_name="Bob B", email="bob@client.example")
    event = last_event(db, "users.add", target="user:bob")
    assert event.actor == ADMIN and details(event)["roles"] == ["auditor"]
    users.edit_user(db, admin, "bob", display_name="Robert", email="robert@client.example")
    assert details(last_event(db, "users.edit"))["changed"] == ["display_name", "email"]
    listed = user_directory.list_users(db, admin, security=sec, text="ROBERT")
    assert [u.username for u in listed] == ["bob"]
    assert listed[0].roles == ("auditor",) and listed[0].status is UserStatus.ACTIVE
    assert [u.username for u in user_directory.list_users(db, admin, security=sec, role="admin")] == [ADMIN]
    assert user_directory.list_users(db, admin, security=sec, kind="vendor") == []
    with pytest.raises(ValidationError, match="email"):
        users.edit_user(db, admin, "bob", email="not an email")
    with pytest.raises(Conflict, match="exists"):
        users.create_user(db, admin, "bob", security=sec, password=PASSWORD)
    with pytest.raises(ValidationError, match="username"):
        users.create_user(db, admin, "Bad Name", security=sec, password=PASSWORD)


def test_weak_password_says_which_rule_and_the_suggestion(runtime, db, admin) -> None:
    sec = runtime.settings.security
    with pytest.raises(ValidationError, match="at least 12 characters"):
        users.create_user(db, admin, "carol", security=sec, password="short")
    with pytest.raises(ValidationError, match="must not contain the username"):
        users.create_user(db, admin, "carol", security=sec, password="carol-Lantern-Orbit-58")
    with pytest.raises(ValidationError) as err:
        users.create_user(db, admin, "carol", security=sec, password="password1234")
    assert "too easy to guess" in err.value.message and "needs 3" in err.value.message
    assert "common" in err.value.message.lower() or "add" in err.value.message.lower()
    assert "password1234" not in err.value.message
    refused = last_event(db, "users.add")
    assert refused.outcome == "error" and "password1234" not in refused.details


def test_disable_needs_a_reason_and_ends_the_session(runtime, db, admin) -> None:
    add_user(runtime, db, "bob", "auditor")
    bob = login(runtime, db, "bob")
    bob.require(Permission.AUDIT_READ)
    with pytest.raises(ValidationError, match="reason"):
        users.disable_user(db, admin, "bob", reason="")
    users.disable_user(db, admin, "bob", reason="left the company")
    event = last_event(db, "users.disable", target="user:bob")
    assert event.actor == ADMIN
    assert details(event) == {"reason": "left the company", "sessions_ended": 1}
    with pytest.raises(SessionEnded):
        bob.require(Permission.AUDIT_READ)
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        login(runtime, db, "bob")
    assert user_row(db, "bob").disabled_reason == "left the company"
    with pytest.raises(Conflict, match="already"):
        users.disable_user(db, admin, "bob", reason="again")
    users.enable_user(db, admin, "bob", reason="came back")
    assert details(last_event(db, "users.enable"))["reason"] == "came back"
    login(runtime, db, "bob").require(Permission.AUDIT_READ)


def test_delete_only_when_never_logged_in(runtime, db, admin) -> None:
    add_user(runtime, db, "typo")
    add_user(runtime, db, "bob")
    login(runtime, db, "bob")
    with pytest.raises(Conflict, match="disable the account instead"):
        users.delete_user(db, admin, "bob")
    users.delete_user(db, admin, "typo")
    assert last_event(db, "users.delete").target == "user:typo"
    with pytest.raises(Exception, match="no user named"):
        user_directory.user_info(db, admin, "typo", security=runtime.settings.security)


def test_reset_password_gives_a_temporary_one_that_must_be_changed(runtime, db, admin) -> None:
    sec = runtime.settings.security
    add_user(runtime, db, "bob", "auditor")
    temporary = users.reset_password(db, admin, "bob", security=sec)
    assert len(temporary) >= sec.password_min_length
    event = last_event(db, "users.reset_password", target="user:bob")
    assert event.actor == ADMIN and temporary not in event.details
    with pytest.raises(AuthenticationFailed):
        login(runtime, db, "bob", PASSWORD)
    bob = login(runtime, db, "bob", temporary)
    assert user_directory.user_info(db, admin, "bob", security=sec).status is UserStatus.MUST_CHANGE
    with pytest.raises(AccessDenied):  # nothing but the password change until it is done
        bob.require(Permission.AUDIT_READ)
    with pytest.raises(ValidationError, match="must differ"):
        change_password(db, bob, security=sec, new=temporary)
    change_password(db, bob, security=sec, new=OTHER_PASSWORD)
    assert details(last_event(db, "auth.password_change")) == {"forced": True}
    bob.require(Permission.AUDIT_READ)
    login(runtime, db, "bob", OTHER_PASSWORD)
    # A normal change needs the current password; a wrong one is counted.
    with pytest.raises(ValidationError, match="current password"):
        change_password(db, bob, security=sec, new=PASSWORD)
    with pytest.raises(ValidationError, match="not correct"):
        change_password(db, bob, security=sec, new=PASSWORD, current="wrong-wrong-wrong")
    assert user_row(db, "bob").failed_password_count == 1


def test_last_admin_cannot_be_disabled_demoted_or_deleted(runtime, db, root) -> None:
    from console import roles

    with pytest.raises(Conflict, match="no active administrator"):
        users.disable_user(db, root, ADMIN, reason="testing the guard")
    with pytest.raises(Conflict, match="no active administrator"):
        users.set_roles(db, root, ADMIN, ["auditor"])
    with pytest.raises(Conflict, match="no active administrator"):
        users.delete_user(db, root, ADMIN)  # never logged in, so only the guard stops it
    with pytest.raises(Conflict, match="no active administrator"):
        roles.update_role(db, root, "admin", permissions=frozenset(Permission)
                          - {Permission.USERS_WRITE})
    assert "error" == last_event(db, "roles.edit").outcome
    assert not user_row(db, ADMIN).disabled
    # With a second administrator, the first can go.
    add_user(runtime, db, "second", "admin")
    users.set_roles(db, root, ADMIN, ["auditor"])
    with pytest.raises(Conflict, match="no active administrator"):
        users.disable_user(db, root, "second", reason="testing the guard")


def test_last_admin_lockout_is_temporary_and_the_os_owner_unlocks(runtime, db, root,
                                                                  clock) -> None:
    sec = runtime.settings.security
    for _ in range(sec.lockout_threshold):
        with pytest.raises(AuthenticationFailed):
            login(runtime, db, ADMIN, "wrong-password-123")
    assert user_directory.user_info(db, root, ADMIN, security=sec).status is UserStatus.LOCKED
    with pytest.raises(ValidationError, match="reason"):
        users.unlock_user(db, root, ADMIN, reason="")
    users.unlock_user(db, root, ADMIN, reason="locked out by a typo")
    event = last_event(db, "users.unlock", target=f"user:{ADMIN}")
    assert event.actor == "os:root" and details(event)["reason"] == "locked out by a typo"
    admin = login(runtime, db, ADMIN, "Correct-Horse-Battery-77")
    admin.require(Permission.USERS_WRITE)
    with pytest.raises(Conflict, match="not locked"):
        users.unlock_user(db, root, ADMIN, reason="again")


def test_nobody_grants_a_permission_they_do_not_hold(runtime, db, root) -> None:
    from console import roles

    roles.create_role(db, root, "helpdesk", permissions=frozenset({
        Permission.USERS_READ, Permission.USERS_WRITE, Permission.ROLES_WRITE,
        Permission.LOGS_READ, Permission.AUDIT_READ, Permission.JOBS_READ,
        Permission.RETENTION_READ}))
    add_user(runtime, db, "helen", "helpdesk")
    add_user(runtime, db, "bob")
    helen = login(runtime, db, "helen")
    users.set_roles(db, helen, "bob", ["auditor"])  # within what helen holds
    for attempt in (lambda: users.set_roles(db, helen, "bob", ["auditor", "admin"]),
                    lambda: users.set_roles(db, helen, "bob", ["operator"]),
                    lambda: users.set_roles(db, helen, ADMIN, []),  # taking is giving's twin
                    lambda: users.create_user(db, helen, "eve", security=runtime.settings
                                              .security, password=PASSWORD, roles=("admin",)),
                    lambda: roles.create_role(db, helen, "sneaky",
                                              permissions=frozenset({Permission.PII_READ})),
                    lambda: roles.update_role(db, helen, "helpdesk", permissions=frozenset(
                        Permission))):
        with pytest.raises(AccessDenied, match="does not hold"):
            attempt()
        denied = events(db, "users.set_roles") + events(db, "users.add") + \
            events(db, "roles.add") + events(db, "roles.edit")
        assert any(e.outcome == "denied" and e.actor == "helen" for e in denied)
    with pytest.raises(AccessDenied, match="their own account"):
        users.set_roles(db, helen, "helen", ["helpdesk", "auditor"])
    assert user_row(db, "bob") and [u.roles for u in user_directory.list_users(
        db, root, security=runtime.settings.security, text="bob")] == [("auditor",)]


def test_vendor_never_holds_admin_or_administration(runtime, db, root) -> None:
    from console import roles

    add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    for wanted in (["admin"], ["operator"], ["support", "auditor", "admin"]):
        with pytest.raises(Conflict, match="vendor account 'fp-jane' can never hold"):
            users.set_roles(db, root, "fp-jane", wanted)
    with pytest.raises(Conflict, match="can never hold"):
        users.create_user(db, root, "fp-joe", security=runtime.settings.security,
                          password=PASSWORD, kind=AccountKind.VENDOR, roles=("admin",))
    with pytest.raises(Conflict, match="ceiling"):
        roles.update_role(db, root, "support", permissions=frozenset(
            {Permission.LOGS_READ, Permission.USERS_READ}))
    roles.create_role(db, root, "vendor-logs", permissions=frozenset({Permission.LOGS_READ}))
    users.set_roles(db, root, "fp-jane", ["vendor-logs"])
    with pytest.raises(Conflict, match="held by vendor account"):
        roles.update_role(db, root, "vendor-logs", permissions=frozenset(
            {Permission.LOGS_READ, Permission.SUPPORT_GRANT}))
    roles.update_role(db, root, "vendor-logs", permissions=frozenset(
        {Permission.LOGS_READ, Permission.AUDIT_READ}))
    assert last_event(db, "roles.edit").outcome == "ok"


def test_separation_of_duties_on_ones_own_account(runtime, db, admin) -> None:
    sec = runtime.settings.security
    enrol(runtime, db, ADMIN)
    for attempt in (lambda: users.disable_user(db, admin, ADMIN, reason="testing myself"),
                    lambda: users.reset_password(db, admin, ADMIN, security=sec),
                    lambda: users.reset_mfa(db, admin, ADMIN, reason="lost phone"),
                    lambda: users.set_roles(db, admin, ADMIN, ["admin", "auditor"]),
                    lambda: users.delete_user(db, admin, ADMIN)):
        with pytest.raises(AccessDenied, match="their own account"):
            attempt()
    assert all(e.actor == ADMIN for e in events(db, "users.reset_password"))
    assert events(db, "users.reset_password")[-1].outcome == "denied"


def test_mfa_reset_makes_the_user_enrol_again(runtime, db, admin) -> None:
    from console.auth import LoginStep, begin_login

    add_user(runtime, db, "fp-jane", "support", kind=AccountKind.VENDOR)
    enrol(runtime, db, "fp-jane")
    sec = runtime.settings.security
    assert begin_login(runtime.database, db, sec, "fp-jane", PASSWORD).step is LoginStep.TOTP
    with pytest.raises(ValidationError, match="reason"):
        users.reset_mfa(db, admin, "fp-jane", reason=" ")
    users.reset_mfa(db, admin, "fp-jane", reason="lost her phone")
    assert details(last_event(db, "users.mfa_reset")) == {"reason": "lost her phone"}
    assert user_row(db, "fp-jane").totp_secret is None
    assert begin_login(runtime.database, db, sec, "fp-jane", PASSWORD).step is LoginStep.ENROL
    info = user_directory.user_info(db, admin, "fp-jane", security=sec)
    assert info.mfa == "due"
    with pytest.raises(Conflict, match="no TOTP"):
        users.reset_mfa(db, admin, "fp-jane", reason="again")


def test_reading_and_writing_need_their_permissions(runtime, db) -> None:
    add_user(runtime, db, "audrey", "auditor")
    audrey = login(runtime, db, "audrey")
    with pytest.raises(AccessDenied, match="users.read"):
        user_directory.list_users(db, audrey, security=runtime.settings.security)
    with pytest.raises(AccessDenied, match="users.write"):
        users.disable_user(db, audrey, ADMIN, reason="mutiny")
    event = last_event(db, "users.disable")
    assert event.outcome == "denied" and event.actor == "audrey"
    assert event.target == f"user:{ADMIN}"


def test_temporary_passwords_pass_the_policy(runtime) -> None:
    from console.passwords import check_policy

    sec = runtime.settings.security
    seen = {users.temporary_password(sec, "bob") for _ in range(5)}
    assert len(seen) == 5
    for value in seen:
        check_policy(sec, value, username="bob")


def test_two_admins_demoting_each_other_at_once_leave_one(runtime, db, root,
                                                          monkeypatch) -> None:
    """Write skew: both changes check 'another admin remains' before either commits. The
    guard serializes them, so the second sees the first and is refused."""
    import threading

    from console import safety

    add_user(runtime, db, "second", "admin")
    barrier = threading.Barrier(2)
    original = safety.active_administrators
    waited: set[int] = set()

    def slow_count(session):
        found = original(session)
        if threading.get_ident() not in waited:  # after the "before" count, wait for the other
            waited.add(threading.get_ident())
            try:
                barrier.wait(timeout=1.5)
            except threading.BrokenBarrierError:
                pass  # the other is blocked behind our lock: carry on alone
        return found

    monkeypatch.setattr(safety, "active_administrators", slow_count)
    outcomes: dict[str, str] = {}

    def demote(name: str) -> None:
        with runtime.database.scope() as session:
            try:
                users.set_roles(session, root, name, ["auditor"])
                outcomes[name] = "ok"
            except Conflict:
                outcomes[name] = "refused"

    threads = [threading.Thread(target=demote, args=(n,)) for n in (ADMIN, "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["ok", "refused"]
    monkeypatch.setattr(safety, "active_administrators", original)
    db.rollback()
    assert len(safety.active_administrators(db)) == 1
