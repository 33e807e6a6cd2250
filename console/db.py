"""The database: engine (SQLite WAL by default, or PostgreSQL), sessions, write
transactions and schema migrations.

Write transactions on SQLite start with BEGIN IMMEDIATE: a deferred transaction that reads
and then writes can fail with SQLITE_BUSY whatever the busy timeout, because SQLite cannot
upgrade its read snapshot once another writer has committed.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

from console.config import DatabaseSettings
from console.errors import ConfigError, ConsoleError, SchemaOutdated, StorageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_IMMEDIATE = "flowpro_immediate"
_DEPTH = "flowpro_write_depth"


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use psycopg 3 for both."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Database:
    """One engine plus a session factory. Thread-safe; make one session per thread."""

    def __init__(self, url: str, settings: DatabaseSettings | None = None, *,
                 echo: bool = False) -> None:
        self.settings = settings or DatabaseSettings()
        self.url = normalize_url(url)
        try:
            parsed = make_url(self.url)
            self.backend = parsed.get_backend_name()
            if self.backend == "sqlite":
                self.engine = self._sqlite_engine(parsed.database, echo)
            elif self.backend == "postgresql":
                self.engine = self._postgres_engine(echo)
            else:
                raise ConfigError(f"[database] url: unsupported database {self.backend!r}: "
                                  "use sqlite:/// or postgresql://")
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            # Not the URL itself in the message: it may hold a password.
            raise ConfigError(f"[database] url is not a usable database URL "
                              f"({type(exc).__name__}: {str(exc)[:120]}); use "
                              "sqlite:///PATH or postgresql://USER@HOST/DB") from None
        self._info: dict[str, object] = {}
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)

    def configure_audit(self, keys: object | None, checkpoint_every: int) -> None:
        """Let audit appends sign a checkpoint every `checkpoint_every` events."""
        self._info = {"keys": keys, "checkpoint_every": checkpoint_every if keys else 0}

    # -- engines -----------------------------------------------------------------

    def _sqlite_engine(self, path: str | None, echo: bool) -> Engine:
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        timeout_ms = self.settings.busy_timeout_ms
        engine = create_engine(
            self.url, echo=echo,
            connect_args={"check_same_thread": False, "timeout": timeout_ms / 1000,
                          "isolation_level": None},
            poolclass=NullPool if path in (None, "", ":memory:") else None,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            # auto_vacuum can only be chosen before the first table exists.
            if cur.execute("PRAGMA page_count").fetchone()[0] == 0:
                cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # VACUUM, wal_checkpoint: must run outside any transaction
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE) else "BEGIN")

        return engine

    def _postgres_engine(self, echo: bool) -> Engine:
        s = self.settings
        connect_args: dict[str, str] = {"sslmode": s.sslmode.value}
        for key in ("sslrootcert", "sslcert", "sslkey"):
            if getattr(s, key):
                connect_args[key] = getattr(s, key)
        return create_engine(self.url, echo=echo, connect_args=connect_args,
                             pool_size=s.pool_size, pool_pre_ping=True)

    # -- sessions ------------------------------------------------------------------

    def session(self) -> Session:
        """A new session; the caller closes it (or use `scope()`)."""
        session = self._sessions()
        session.info.update(self._info)
        return session

    @contextlib.contextmanager
    def scope(self) -> Iterator[Session]:
        """A session closed on exit (an open transaction is rolled back); objects loaded
        through it stay readable afterwards."""
        session = self.session()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


@contextlib.contextmanager
def writing(db: Session) -> Iterator[Session]:
    """A write transaction: commits on success, rolls back on error.

    Nested uses join the outermost transaction. On SQLite the transaction starts with
    BEGIN IMMEDIATE; any read transaction still open on `db` is ended first.
    """
    depth = db.info.get(_DEPTH, 0)
    if depth:
        db.info[_DEPTH] = depth + 1
        try:
            yield db
        finally:
            db.info[_DEPTH] -= 1
        return
    if db.in_transaction():
        db.commit()
    db.info[_DEPTH] = 1
    try:
        _begin_write(db)
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.info[_DEPTH] = 0


# Database and disk faults a person can fix, by the words the drivers use for them, and
# whether running the same work again may succeed (a lock wait or a deadlock lost to a
# concurrent change: the service layer retries those itself).
_FAULTS: tuple[tuple[tuple[str, ...], str, bool], ...] = (
    (("database or disk is full", "no space left on device", "could not extend file",
      "disk full", "could not write to file"),
     "the disk holding the database is full: free some space (df -h) and run it again",
     False),
    (("readonly database", "read-only file system", "read-only database",
      "unable to open database file"),
     "the database cannot be opened for writing (read-only file system or permissions): "
     "make the data directory writable by this user and run it again", False),
    (("database is locked", "database table is locked", "database is busy",
      "lock timeout"),
     "the database stayed busy with another process longer than [database] "
     "busy_timeout_ms: run it again", True),
    (("deadlock detected", "could not serialize access"),
     "the change collided with a concurrent change (deadlock): run it again", True),
    (("disk i/o error",),
     "the disk under the database failed a read or write (full, or failing: check df -h "
     "and dmesg), then run it again", False),
    (("file is not a database", "database disk image is malformed"),
     "the database file is damaged or not a database: restore it from a backup", False),
)


def storage_error(exc: BaseException, where: str = "") -> StorageError | None:
    """A one-line StorageError for a database or disk fault a person can fix (full,
    read-only, busy, damaged); None for anything else (a bug, to be reported as such)."""
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig) if exc.orig is not None else str(exc)
    elif isinstance(exc, sqlite3.Error | OSError):
        detail = str(exc)
    else:
        return None
    low = detail.lower()
    for needles, advice, transient in _FAULTS:
        if any(n in low for n in needles):
            at = f" ({where})" if where else ""
            first = " ".join(detail.split())[:160]
            return StorageError(f"{advice}; the change in progress was rolled back{at} "
                                f"[{first}]", transient=transient)
    return None


def describe_bind(db: Session) -> str:
    try:
        return db.get_bind().url.render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used to word an error message
        return ""


BEGIN_ATTEMPTS = 3


def _begin_write(db: Session) -> None:
    """Start the write transaction. On SQLite, BEGIN IMMEDIATE waits up to the busy
    timeout for the write lock; SQLite's busy handler polls, so under many writers one can
    lose every race for that long. Nothing has run yet, so trying again is safe: a person
    waits longer rather than being told 'database is locked'."""
    for attempt in range(BEGIN_ATTEMPTS):
        try:
            db.connection(execution_options={_IMMEDIATE: True})
            return
        except OperationalError as exc:
            locked = "database is locked" in str(exc.orig).lower()
            if not locked or attempt == BEGIN_ATTEMPTS - 1:
                raise
            db.rollback()


def backend_of(db: Session) -> str:
    bind = db.get_bind()
    return bind.dialect.name


# -- migrations ---------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaState:
    current: frozenset[str]
    expected: frozenset[str]
    unknown: frozenset[str]  # revisions in the database that this version does not know
    foreign: bool  # tables exist but were not made by this console
    empty: bool

    @property
    def up_to_date(self) -> bool:
        return not self.empty and not self.foreign and not self.unknown and \
            self.current == self.expected


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


CORE_TABLES = frozenset({"users", "roles", "audit_events", "audit_checkpoints"})
_REVISION_RE = re.compile(r"^revision(?:: str)?\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_RE = re.compile(r"^down_revision(?:: [^=]+)?\s*=\s*(.+)$", re.M)


@functools.lru_cache(maxsize=1)
def script_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every revision, the heads) of this version's migrations, read from the files
    without importing Alembic: the check runs at every start-up."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        match = _REVISION_RE.search(source)
        if not match:
            continue
        revisions.add(match.group(1))
        down = _DOWN_RE.search(source)
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return frozenset(revisions), frozenset(revisions - parents)


def schema_state(database: Database) -> SchemaState:
    """Compare the database's migration heads with this version's."""
    known, expected = script_revisions()
    try:
        with database.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            current = frozenset(
                row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            ) if "alembic_version" in tables else frozenset()
    except DBAPIError as exc:
        fault = storage_error(exc, database.display_url)
        if fault is not None:
            raise fault from None
        raise ConsoleError(f"cannot open the database {database.display_url}: "
                           f"{' '.join(str(exc.orig).split())}") from None
    tables.discard("alembic_version")
    unknown = frozenset(current - known)
    # Another application's Alembic history: none of our revisions and none of our core
    # tables. (A newer console keeps at least the foundation's tables.)
    alien = bool(current) and unknown == current and not CORE_TABLES <= tables
    return SchemaState(
        current=current, expected=expected, unknown=frozenset() if alien else unknown,
        foreign=(bool(tables) and not current) or alien, empty=not tables and not current)


def ensure_current(database: Database) -> None:
    """Raise SchemaOutdated with the fix unless the schema is exactly this version's."""
    state = schema_state(database)
    if state.empty:
        raise SchemaOutdated(f"the database {database.display_url} is empty: run "
                             "`flowpro-console init` (or `flowpro-console db upgrade`)")
    if state.foreign:
        raise SchemaOutdated(f"the database {database.display_url} holds tables that "
                             "FlowPro Console did not create: point [database] url at an "
                             "empty database or a console database")
    if state.unknown:
        raise SchemaOutdated(f"the database {database.display_url} was upgraded by a newer "
                             "FlowPro Console (revision "
                             f"{', '.join(sorted(state.unknown))}): install that version")
    if state.current != state.expected:
        raise SchemaOutdated(f"the database {database.display_url} schema is behind this "
                             "version: back it up, then run `flowpro-console db upgrade`")


def upgrade(database: Database) -> list[str]:
    """Apply every pending migration; returns the revisions applied."""
    from alembic import command

    state = schema_state(database)
    if state.foreign:
        raise SchemaOutdated(f"refusing to migrate {database.display_url}: it holds tables "
                             "that FlowPro Console did not create")
    if state.unknown:
        raise SchemaOutdated(f"refusing to migrate {database.display_url}: it was upgraded "
                             "by a newer FlowPro Console")
    cfg = _alembic_config()
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    after = schema_state(database)
    return sorted(after.current - state.current)
