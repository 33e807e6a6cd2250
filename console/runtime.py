"""The opened installation: settings, database and keys, checked before use.

The CLI and the TUI both start here, so both refuse the same things with the same words:
an insecure key file, a missing data directory, a schema that is behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console.config import Settings
from console.errors import ConfigError
from console.keys import KeyStore

if TYPE_CHECKING:  # the database layer (SQLAlchemy) loads only when a database opens
    from console.db import Database


@dataclass
class Runtime:
    settings: Settings
    database: Database
    keys: KeyStore

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def close(self) -> None:
        self.database.dispose()


def make_database(settings: Settings, keys: KeyStore | None = None) -> Database:
    from console.db import Database

    database = Database(settings.database_url, settings.database)
    database.configure_audit(keys, settings.audit.checkpoint_every)
    return database


RESTORING = "RESTORE-IN-PROGRESS"  # in the data dir while a restore is not finished


def precheck(settings: Settings, *, restoring: bool = False) -> KeyStore:
    """What can be refused without touching the database: a missing data directory, a
    missing or insecure key file, a restore that has not finished (its database may
    still hold people erased since the backup)."""
    data_dir = settings.data_dir
    if not data_dir.is_dir():
        where = f" (from {settings.source})" if settings.source else ""
        raise ConfigError(f"data directory {data_dir}{where} does not exist: run "
                          f"`flowpro-console init --data-dir {data_dir}` first")
    keys = KeyStore(data_dir)
    keys.check_permissions()
    if not restoring and (data_dir / RESTORING).exists():
        raise ConfigError(f"a database restore in {data_dir} has not finished, so the "
                          "erasure ledger is not re-applied yet: run `flowpro-console "
                          "requests reapply-erasures` (or the restore again)")
    return keys


def open_runtime(settings: Settings, *, check_schema: bool = True,
                 restoring: bool = False) -> Runtime:
    """Open an initialized installation. Raises ConfigError / SchemaOutdated with the fix.
    `restoring`: the restore and `requests reapply-erasures` may open it mid-restore."""
    keys = precheck(settings, restoring=restoring)
    database = make_database(settings, keys)
    if check_schema:
        from console.db import ensure_current

        try:
            ensure_current(database)
        except BaseException:
            database.dispose()
            raise
    return Runtime(settings=settings, database=database, keys=keys)
