"""`flowpro-console roles ...`: roles and their permissions, the same services as the
Roles screen."""

from __future__ import annotations

import click

from console.commands.base import CliState, emit_json, print_table, safe_text


def _permissions(value: str | None, option: str):
    """Parse 'a.b,c.d' into Permissions; a usage error (exit 2) names an unknown one."""
    from console.permissions import parse_permissions

    if value is None:
        return None
    try:
        return parse_permissions(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.group()
def roles() -> None:
    """Roles: named sets of permissions from the fixed catalog."""


@roles.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def roles_list(state: CliState, as_json: bool) -> None:
    """The roles with their permissions, members and TOTP requirement."""
    from console.roles import list_roles

    db = state.session()
    found = list_roles(db, state.principal(db), security=state.settings().security)
    if as_json:
        emit_json([{"name": r.name, "description": r.description, "builtin": r.builtin,
                    "requires_mfa": r.mfa_required, "requires_mfa_by_config": r.mfa_by_config,
                    "permissions": sorted(p.value for p in r.permissions),
                    "members": list(r.members)} for r in found])
        return
    print_table(("role", "built-in", "mfa", "members", "permissions"),
                [(r.name, "yes" if r.builtin else "no", "yes" if r.mfa_required else "no",
                  len(r.members), ",".join(sorted(p.value for p in r.permissions)) or "-")
                 for r in found])


@roles.command("permissions")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def roles_permissions(as_json: bool) -> None:
    """The catalog of permissions a role can hold, with what each allows."""
    from console.roles import permission_catalog

    catalog = permission_catalog()
    if as_json:
        emit_json([{"permission": p.value, "description": d} for p, d in catalog])
        return
    print_table(("permission", "allows"), [(p.value, d) for p, d in catalog])


@roles.command("add")
@click.argument("name")
@click.option("--permissions", "perms", required=True, metavar="P,P",
              help="Permissions of the role (see `roles permissions`).")
@click.option("--description", default="", help="What the role is for.")
@click.option("--require-mfa", is_flag=True, help="Members must use TOTP.")
@click.pass_obj
def roles_add(state: CliState, name: str, perms: str, description: str,
              require_mfa: bool) -> None:
    """Create a custom role."""
    from console.roles import create_role

    permissions = _permissions(perms, "--permissions")
    db = state.session()
    create_role(db, state.principal(db), name, permissions=permissions,
                description=description, requires_mfa=require_mfa)
    click.echo(f"added role {safe_text(name)}")


@roles.command("edit")
@click.argument("name")
@click.option("--rename", help="New name (custom roles only).")
@click.option("--description", help="New description.")
@click.option("--permissions", "perms", metavar="P,P", help="Replace the permissions.")
@click.option("--add", "add", metavar="P,P", help="Add these permissions.")
@click.option("--remove", "remove", metavar="P,P", help="Remove these permissions.")
@click.option("--require-mfa/--no-require-mfa", default=None,
              help="Whether members must use TOTP.")
@click.pass_obj
def roles_edit(state: CliState, name: str, rename: str | None, description: str | None,
               perms: str | None, add: str | None, remove: str | None,
               require_mfa: bool | None) -> None:
    """Rename a custom role, or change any role's description, permissions or TOTP rule."""
    from console.roles import update_role

    if perms is not None and (add or remove):
        raise click.UsageError("use either --permissions or --add/--remove")
    if all(v is None for v in (rename, description, perms, add, remove, require_mfa)):
        raise click.UsageError("nothing to change: see `roles edit --help`")
    permissions = _permissions(perms, "--permissions")
    adding = _permissions(add, "--add") or frozenset()
    removing = _permissions(remove, "--remove") or frozenset()
    db = state.session()
    update_role(db, state.principal(db), name, rename=rename, description=description,
                permissions=permissions, add=adding, remove=removing,
                requires_mfa=require_mfa)
    click.echo(f"updated role {safe_text(rename or name)}")


@roles.command("delete")
@click.argument("name")
@click.pass_obj
def roles_delete(state: CliState, name: str) -> None:
    """Delete a custom role that nobody holds."""
    from console.roles import delete_role

    db = state.session()
    delete_role(db, state.principal(db), name)
    click.echo(f"deleted role {safe_text(name)}")
