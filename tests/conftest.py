"""Shared fixtures: an isolated environment, a controllable clock, and an initialized
installation on SQLite or PostgreSQL (each test its own database, cloned from a template
made once per run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from console import clock as clock_module
from console.clock import FrozenClock
from console.config import Settings, parse_settings
from console.principal import Principal, os_principal
from tests.pgpool import PREFIX, ClonePool, orphans

ADMIN = "admin"
ADMIN_PASSWORD = "Correct-Horse-Battery-77"
PG_SOCKET = "/var/run/postgresql"
PG_ADMIN_URL = os.environ.get(
    "FLOWPRO_TEST_PG_URL", f"postgresql+psycopg://root@/postgres?host={PG_SOCKET}")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Fast argon2 for tests; the production defaults are exercised in test_passwords.py.
FAST_SECURITY = {"argon2_time_cost": 1, "argon2_memory_kib": 8192, "argon2_parallelism": 1}


# -- isolation -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No developer config, env or terminal settings leak into a test."""
    for var in ("FLOWPRO_CONSOLE_CONFIG", "FLOWPRO_DATABASE_URL", "NO_COLOR", "TEXTUAL_THEME",
                "TEXTUAL_COLOR_SYSTEM", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("console.config.SYSTEM_CONFIG", tmp_path / "no-system-config.toml")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """A frozen clock installed for the test; advance it instead of sleeping."""
    frozen = FrozenClock()
    previous = clock_module.install(frozen)
    yield frozen
    clock_module.install(previous)


# -- backends --------------------------------------------------------------------------


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with psycopg.connect(host=PG_SOCKET, dbname="postgres", user="root",
                             connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL is not reachable at {PG_SOCKET}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def pg_status() -> str | None:
    return _pg_available()


def require_pg(pg_status: str | None) -> None:
    if pg_status is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {pg_status}; .ci/run must start PostgreSQL")
    pytest.skip(pg_status)


def _pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_SOCKET, dbname="postgres", user="root",
                         autocommit=True) as conn:
        conn.execute(sql)


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://root@/{dbname}?host={PG_SOCKET}"


def _test_db_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    assert name and name.startswith("flowpro_"), url
    return name


def drop_pg(url: str) -> None:
    """Drop the test database of `url` (a `pg_url`), ending its connections."""
    _pg_exec(f'DROP DATABASE IF EXISTS "{_test_db_name(url)}" WITH (FORCE)')


def _drop_orphans() -> None:
    import psycopg

    with psycopg.connect(host=PG_SOCKET, dbname="postgres", user="root") as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (PREFIX,))]
    for name in orphans(names):
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(data_dir: Path, database_url: str = "", **sections: dict) -> Settings:
    doc: dict = {"storage": {"data_dir": str(data_dir)},
                 "security": {**FAST_SECURITY, **sections.pop("security", {})}}
    if database_url:
        doc["database"] = {"url": database_url}
    doc.update(sections)
    return parse_settings(doc, env={})


class Template:
    """An initialized installation to clone: a data dir (keys, SQLite db) and, for
    PostgreSQL, a template database."""

    def __init__(self, root: Path, backend: str) -> None:
        from console.install import initialize
        from console.principal import system_principal

        self.backend = backend
        self.data_dir = root / f"template-{backend}"
        self.pg_name = f"flowpro_tmpl_{os.getpid()}" if backend == "postgresql" else ""
        self.pool: ClonePool | None = None
        if self.pg_name:
            _drop_orphans()
            _pg_exec(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
            _pg_exec(f'CREATE DATABASE "{self.pg_name}"')
        settings = make_settings(self.data_dir, pg_url(self.pg_name) if self.pg_name else "")
        initialize(settings, admin=ADMIN, password=ADMIN_PASSWORD,
                   actor=system_principal("test"))
        if self.pg_name:
            self.pool = ClonePool(self.pg_name, _pg_exec)

    def clone(self, target: Path) -> str:
        """Copy into `target`; returns the database URL ('' = SQLite in target)."""
        shutil.copytree(self.data_dir, target)
        for suffix in ("-wal", "-shm"):
            (target / f"console.db{suffix}").unlink(missing_ok=True)
        if self.pool is None:
            return ""
        return pg_url(self.pool.take())

    def release(self, url: str) -> None:
        """Drop a clone's database (in the background)."""
        if self.pool is not None and url:
            self.pool.give_back(_test_db_name(url))

    def drop(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.pg_name:
            _pg_exec(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Template]]:
    made: dict[str, Template] = {}
    yield made
    for template in made.values():
        template.drop()


def _template(templates: dict[str, Template], backend: str,
              factory: pytest.TempPathFactory) -> Template:
    if backend not in templates:
        templates[backend] = Template(factory.mktemp("templates"), backend)
    return templates[backend]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, pg_status: str | None) -> str:
    """Run the test once per database backend."""
    if request.param == "postgresql":
        require_pg(pg_status)
    return request.param


@pytest.fixture
def installation(backend: str, templates: dict[str, Template], tmp_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a fresh, initialized installation (admin / ADMIN_PASSWORD)."""
    template = _template(templates, backend, tmp_path_factory)
    data_dir = tmp_path / "data"
    url = template.clone(data_dir)
    settings = make_settings(data_dir, url)
    yield settings
    template.release(url)


@pytest.fixture
def runtime(installation: Settings):
    from console.runtime import open_runtime

    rt = open_runtime(installation)
    yield rt
    rt.close()


@pytest.fixture
def db(runtime):
    session = runtime.database.session()
    yield session
    session.close()


@pytest.fixture
def root() -> Principal:
    """The trusted OS owner."""
    return os_principal("root")


@pytest.fixture
def admin(runtime, db) -> Principal:
    """The first administrator, logged in (a real user principal with live checks)."""
    from console.auth import authenticate

    return authenticate(runtime.database, db, runtime.settings.security, ADMIN,
                        ADMIN_PASSWORD, channel="cli")
