"""`flowpro-console init`: a data directory, its keys, the database and the first admin."""

from __future__ import annotations

import getpass
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from console import audit
from console.config import Settings
from console.db import schema_state, upgrade, writing
from console.errors import ConfigError, Conflict
from console.keys import KeyStore
from console.passwords import check_policy
from console.principal import Principal, system_principal
from console.roles import ensure_builtin_roles
from console.runtime import make_database
from console.users import AccountKind, create_user, validate_username

MINIMAL_CONFIG = """\
# FlowPro Console configuration, written by `flowpro-console init`.
# Every other key has a safe default; see config.toml in the source for all of them.
[storage]
# Holds the database, the keys and the exports. Relative paths resolve against this file.
data_dir = "."
"""


@dataclass
class InitResult:
    data_dir: Path
    database: str
    admin: str
    config_written: Path | None


def initialize(settings: Settings, *, admin: str, password: str,
               actor: Principal | None = None) -> InitResult:
    """Create the installation described by `settings`.

    Refuses (Conflict) and changes nothing when the data directory already holds keys or
    the database already holds a console. Validates the admin name and password before
    creating anything; removes what it created if a later step fails.
    """
    validate_username(admin)
    check_policy(settings.security, password, username=admin)
    data_dir = settings.data_dir
    keys = KeyStore(data_dir)
    if keys.dir.exists() and any(keys.dir.iterdir()):
        raise Conflict(f"{data_dir} is already initialized (it has keys); nothing changed. "
                       "To start over, move that directory away first")
    database = make_database(settings)
    try:
        state = schema_state(database)
        if not state.empty:
            raise Conflict(f"the database {database.display_url} already holds "
                           f"{'a console' if not state.foreign else 'other tables'}; "
                           "nothing changed")
    finally:
        database.dispose()

    created_dir = not data_dir.exists()
    config_written: Path | None = None
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys.create()
        database = make_database(settings, keys)
        try:
            upgrade(database)
            actor = actor or system_principal(f"os:{getpass.getuser()}")
            with database.scope() as db:
                with writing(db):
                    ensure_builtin_roles(db)
                    audit.record(db, actor, "console.init",
                                 details={"data_dir": str(data_dir),
                                          "database": database.display_url})
                create_user(db, actor, admin, security=settings.security, password=password,
                            kind=AccountKind.STAFF, roles=("admin",),
                            display_name="Administrator")
        finally:
            database.dispose()
        if settings.source is None:
            config_written = data_dir / "config.toml"
            if not config_written.exists():
                config_written.write_text(MINIMAL_CONFIG, encoding="utf-8")
            else:
                config_written = None
    except BaseException:
        if created_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            shutil.rmtree(keys.dir, ignore_errors=True)
        raise
    return InitResult(data_dir, database.display_url, admin, config_written)


def is_trusted_os_user(settings: Settings) -> bool:
    """Root, or the OS account that owns the data directory, acts without logging in
    (like PostgreSQL peer authentication)."""
    if not settings.security.trust_os_owner:
        return False
    uid = os.geteuid()
    if uid == 0:
        return True
    try:
        return settings.data_dir.stat().st_uid == uid
    except OSError:
        raise ConfigError(f"data directory {settings.data_dir} cannot be read") from None

