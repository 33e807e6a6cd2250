"""`flowpro-console users ...`: console accounts, the same services as the Users screen.

Passwords come only from a prompt or --password-stdin, never from an argument (arguments
end up in shell history and in `ps`).
"""

from __future__ import annotations

import click

from console.commands.base import CliState, emit_json, print_table, read_secret, safe_text

KINDS = ("staff", "vendor", "service")
STATUSES = ("active", "disabled", "locked", "temp-password", "no-password")


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _iso(value) -> str | None:
    return value.isoformat() if value else None


@click.group()
def users() -> None:
    """Console accounts: add, change, disable, unlock, reset passwords, assign roles."""


@users.command("list")
@click.option("--filter", "text", default="", help="Only names, display names or emails "
              "containing this.")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind of account.")
@click.option("--status", type=click.Choice(STATUSES), help="Only accounts in this state.")
@click.option("--role", help="Only holders of this role.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def users_list(state: CliState, text: str, kind: str | None, status: str | None,
               role: str | None, as_json: bool) -> None:
    """The accounts, with kind, roles, status, last login (UTC) and TOTP state."""
    from console.user_directory import list_users

    db = state.session()
    found = list_users(db, state.principal(db), security=state.settings().security,
                       text=text, kind=kind, status=status, role=role)
    if as_json:
        emit_json([{"username": u.username, "display_name": u.display_name,
                    "email": u.email, "kind": u.kind, "roles": list(u.roles),
                    "status": u.status.value, "mfa": u.mfa,
                    "disabled_reason": u.disabled_reason, "locked_until": _iso(u.locked_until),
                    "last_login_at": _iso(u.last_login_at), "created_at": _iso(u.created_at),
                    "created_by": u.created_by} for u in found])
        return
    print_table(("username", "kind", "roles", "status", "last login", "mfa", "name"),
                [(u.username, u.kind, ",".join(u.roles) or "-", u.status.value,
                  _when(u.last_login_at) or "never", u.mfa, u.display_name) for u in found])


@users.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default="staff", show_default=True)
@click.option("--roles", default="", metavar="R,R", help="Roles to give (comma-separated).")
@click.option("--display-name", default="", help="Full name shown in the console.")
@click.option("--email", default="", help="Contact address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--temporary", is_flag=True,
              help="Generate a temporary password and print it once.")
@click.option("--must-change/--no-must-change", default=True, show_default=True,
              help="The user must change the password at the first login.")
@click.pass_obj
def users_add(state: CliState, name: str, kind: str, roles: str, display_name: str,
              email: str, password_stdin: bool, temporary: bool, must_change: bool) -> None:
    """Add an account (asks for its password unless --temporary)."""
    from console.users import create_user, temporary_password

    if temporary and password_stdin:
        raise click.UsageError("use either --temporary or --password-stdin")
    security = state.settings().security
    db = state.session()
    actor = state.principal(db)
    password = (temporary_password(security, name) if temporary
                else read_secret(f"Password for {name}: ", from_stdin=password_stdin,
                                 confirm=True))
    create_user(db, actor, name, security=security, password=password, kind=kind,
                roles=_names(roles), display_name=display_name, email=email,
                must_change_password=must_change or temporary)
    given = ", ".join(_names(roles)) or "no roles"
    click.echo(f"added {safe_text(name)} ({kind}; {safe_text(given)})")
    if temporary:
        click.echo(f"temporary password (shown once; to be changed at the first login): "
                   f"{password}")


@users.command("edit")
@click.argument("name")
@click.option("--display-name", help="New display name.")
@click.option("--email", help="New email ('' to clear).")
@click.pass_obj
def users_edit(state: CliState, name: str, display_name: str | None,
               email: str | None) -> None:
    """Change an account's display name or email."""
    from console.users import edit_user

    if display_name is None and email is None:
        raise click.UsageError("nothing to change: give --display-name and/or --email")
    db = state.session()
    edit_user(db, state.principal(db), name, display_name=display_name, email=email)
    click.echo(f"updated {safe_text(name)}")


def _reason_option(fn):
    return click.option("--reason", required=True,
                        help="Why (recorded in the audit trail).")(fn)


@users.command("disable")
@click.argument("name")
@_reason_option
@click.pass_obj
def users_disable(state: CliState, name: str, reason: str) -> None:
    """Disable an account: no more logins; its open sessions end at their next action."""
    from console.users import disable_user

    db = state.session()
    disable_user(db, state.principal(db), name, reason=reason)
    click.echo(f"disabled {safe_text(name)}")


@users.command("enable")
@click.argument("name")
@_reason_option
@click.pass_obj
def users_enable(state: CliState, name: str, reason: str) -> None:
    """Enable a disabled account again."""
    from console.users import enable_user

    db = state.session()
    enable_user(db, state.principal(db), name, reason=reason)
    click.echo(f"enabled {safe_text(name)}")


@users.command("unlock")
@click.argument("name")
@_reason_option
@click.pass_obj
def users_unlock(state: CliState, name: str, reason: str) -> None:
    """Lift a lockout after failed logins now (the OS owner can always do this)."""
    from console.users import unlock_user

    db = state.session()
    unlock_user(db, state.principal(db), name, reason=reason)
    click.echo(f"unlocked {safe_text(name)}")


@users.command("reset-password")
@click.argument("name")
@click.pass_obj
def users_reset_password(state: CliState, name: str) -> None:
    """Give an account a temporary password (printed once; changed at the next login)."""
    from console.users import reset_password

    db = state.session()
    password = reset_password(db, state.principal(db), name, security=state.settings().security)
    click.echo(f"temporary password for {safe_text(name)} (shown once; to be changed at the "
               f"next login): {password}")


@users.command("set-roles")
@click.argument("name")
@click.argument("roles", metavar="R[,R]")
@click.pass_obj
def users_set_roles(state: CliState, name: str, roles: str) -> None:
    """Replace an account's roles ('' removes them all)."""
    from console.users import set_roles

    db = state.session()
    set_roles(db, state.principal(db), name, _names(roles))
    click.echo(f"{safe_text(name)} now has: {safe_text(', '.join(_names(roles)) or 'no roles')}")


@users.command("mfa-reset")
@click.argument("name")
@_reason_option
@click.pass_obj
def users_mfa_reset(state: CliState, name: str, reason: str) -> None:
    """Remove an account's TOTP (lost phone); it enrols again at the next login."""
    from console.users import reset_mfa

    db = state.session()
    reset_mfa(db, state.principal(db), name, reason=reason)
    click.echo(f"TOTP removed from {safe_text(name)}")


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def users_delete(state: CliState, name: str, yes: bool) -> None:
    """Delete an account that never logged in (others: disable them)."""
    import sys

    from console.users import delete_user

    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("no terminal to confirm on: pass --yes")
        click.confirm(f"Delete the account {safe_text(name)}?", abort=True)
    db = state.session()
    delete_user(db, state.principal(db), name)
    click.echo(f"deleted {safe_text(name)}")


@users.command("passwd")
@click.option("--password-stdin", is_flag=True,
              help="Read the current and the new password from stdin, one per line.")
@click.pass_obj
def users_passwd(state: CliState, password_stdin: bool) -> None:
    """Change your own password (with --user NAME)."""
    from console.account import change_password

    if not state.as_user:
        raise click.UsageError("say whose password: flowpro-console --user NAME users passwd")
    db = state.session()
    actor = state.principal(db)
    current = read_secret("Current password: ", from_stdin=password_stdin)
    new = read_secret("New password: ", from_stdin=password_stdin, confirm=not password_stdin)
    change_password(db, actor, security=state.settings().security, new=new, current=current)
    click.echo("password changed")


# `users ssh-key ...`: the SSH keys of vendor accounts (console/commands/sshkeys.py).
from console.commands.sshkeys import ssh_key  # noqa: E402

users.add_command(ssh_key)
