"""The SSH gate: `flowpro-console ssh authorized-keys OSUSER`, sshd's AuthorizedKeysCommand.

sshd runs it on every connection attempt to the shared support account and reads its
stdout as an authorized_keys file. It prints one line per key of each engineer holding an
active grant right now:

    restrict,pty,expiry-time="YYYYMMDDHHMMSSZ",command="<console> --config <file>
    support-session --as <engineer>" <key type> <key>

`restrict` turns off forwarding and ~/.ssh/rc, `pty` gives the console its terminal, the
expiry (UTC) refuses the key once the grant's window is over, and the forced command opens
only the console as that engineer, never a shell. No active grant, no lines.

Because it runs on every attempt it stays light: config.toml is read with tomllib for the
few keys the gate needs, and the database is queried with sqlite3 (or psycopg), without
pydantic, SQLAlchemy or cryptography. Nothing but key lines is ever written to stdout.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# Kept in step with console.config (importing it costs ~0.3 s of pydantic);
# tests/test_sshgate.py checks that both read a config file the same way.
ENV_CONFIG = "FLOWPRO_CONSOLE_CONFIG"
ENV_DATABASE_URL = "FLOWPRO_DATABASE_URL"
SYSTEM_CONFIG = Path("/etc/flowpro-console/config.toml")
DEFAULT_OS_USER = "flowpro-support"

_KEY = re.compile(r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}")
_ENGINEER = re.compile(r"[a-z][a-z0-9._-]{1,63}")
# Only grants that are not ended and whose window holds now; only enabled vendor accounts.
_QUERY = """
SELECT u.username, k.public_key, g.ends_at
FROM support_grants g
JOIN users u ON u.id = g.engineer_id
JOIN ssh_keys k ON k.user_id = u.id
WHERE g.ended_at IS NULL AND g.starts_at <= {p} AND g.ends_at > {p}
  AND u.kind = 'vendor' AND NOT u.disabled
ORDER BY u.username, k.id
"""


class GateError(Exception):
    """Why the gate cannot answer (printed on stderr; sshd then offers no keys)."""


@dataclass(frozen=True)
class GateConfig:
    source: Path
    database_url: str  # '' means SQLite at sqlite_path
    sqlite_path: Path
    busy_timeout_ms: int
    sslmode: str
    os_user: str
    console_command: str


def _find(flag: str | None, env: Mapping[str, str]) -> Path:
    if flag:
        path = Path(flag)
    elif env.get(ENV_CONFIG):
        path = Path(env[ENV_CONFIG])
    elif (Path.cwd() / "config.toml").is_file():
        path = Path.cwd() / "config.toml"
    elif SYSTEM_CONFIG.is_file():
        path = SYSTEM_CONFIG
    else:
        raise GateError(f"no config.toml found (looked in ./config.toml and {SYSTEM_CONFIG}); "
                        "pass --config PATH in AuthorizedKeysCommand")
    if not path.is_file():
        raise GateError(f"config file {path} does not exist")
    return path.resolve()


def _value(doc: dict, section: str, key: str, default: object, kind: type) -> object:
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise GateError(f"config error: [{section}] must be a table")
    value = table.get(key, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GateError(f"config error: [{section}] {key} must be a {kind.__name__}")
    return value


def load_config(flag: str | None, env: Mapping[str, str] | None = None) -> GateConfig:
    """The few settings the gate needs, read the way console.config reads them."""
    env = os.environ if env is None else env
    path = _find(flag, env)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise GateError(f"config file {path} cannot be read: {exc}") from None
    data_dir = Path(str(_value(doc, "storage", "data_dir", "var", str))).expanduser()
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    url = env.get(ENV_DATABASE_URL) or str(_value(doc, "database", "url", "", str))
    command = str(_value(doc, "support", "console_command", "", str))
    if command and (not command.startswith("/") or any(c in command for c in '"\\\n\r')):
        raise GateError("config error: [support] console_command must be an absolute path "
                        "without quotes or backslashes")
    return GateConfig(
        source=path, database_url=url, sqlite_path=data_dir / "console.db",
        busy_timeout_ms=int(_value(doc, "database", "busy_timeout_ms", 5000, int)),  # type: ignore[call-overload]
        sslmode=str(_value(doc, "database", "sslmode", "prefer", str)),
        os_user=str(_value(doc, "support", "os_user", DEFAULT_OS_USER, str)),
        console_command=command)


def _sqlite_url_path(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            return Path(url[len(prefix):].split("?", 1)[0])
    return None


def _rows(config: GateConfig, now: datetime) -> list[tuple[str, str, object]]:
    naive = now.astimezone(UTC).replace(tzinfo=None)
    path = config.sqlite_path if not config.database_url else _sqlite_url_path(
        config.database_url)
    if path is not None:
        import sqlite3

        if not path.is_file():
            raise GateError(f"database {path} does not exist: run `flowpro-console init`")
        try:
            conn = sqlite3.connect(path, timeout=config.busy_timeout_ms / 1000)
            try:
                conn.execute("PRAGMA query_only = ON")
                # As SQLAlchemy stores DateTime on SQLite, so text order is time order.
                stamp = naive.strftime("%Y-%m-%d %H:%M:%S.%f")
                return conn.execute(_QUERY.format(p="?"), (stamp, stamp)).fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise GateError(f"cannot read the database {path}: {exc} (is the schema current? "
                            "`flowpro-console db check`)") from None
    try:
        import psycopg
    except ImportError:
        raise GateError("PostgreSQL configured but psycopg is not installed") from None
    url = config.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    url = url.replace("postgres://", "postgresql://", 1)
    try:
        with psycopg.connect(url, sslmode=config.sslmode, connect_timeout=5) as conn:
            return conn.execute(_QUERY.format(p="%s"), (naive, naive)).fetchall()  # type: ignore[arg-type]
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GateError(f"cannot read the PostgreSQL database: {first}") from None


def console_command(config: GateConfig, argv0: str | None = None) -> str:
    """The flowpro-console to force: configured, or the one running this gate."""
    if config.console_command:
        return config.console_command
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    if Path(argv0).name == "flowpro-console":
        return os.path.abspath(argv0)
    beside = Path(sys.executable).parent / "flowpro-console"  # the same installation
    if beside.is_file():
        return str(beside)
    found = shutil.which("flowpro-console")
    if found:
        return os.path.abspath(found)
    raise GateError("cannot tell where flowpro-console is installed: set [support] "
                    "console_command")


def _expiry(value: object) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise GateError("unexpected grant end in the database")
    when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # Whole seconds, rounded down: the key never outlives the grant.
    return when.strftime("%Y%m%d%H%M%SZ")


def key_lines(config: GateConfig, os_user: str, now: datetime, *,
              argv0: str | None = None) -> list[str]:
    """The authorized_keys lines for `os_user` at `now` (none for any other account)."""
    if os_user != config.os_user:
        return []
    rows = _rows(config, now)
    if not rows:
        return []
    prefix = f"{console_command(config, argv0)} --config {shlex.quote(str(config.source))}"
    if '"' in prefix or "\\" in prefix or "\n" in prefix:
        raise GateError(f"the path {config.source} cannot be quoted in authorized_keys")
    lines = []
    for engineer, public_key, ends_at in rows:
        if not _ENGINEER.fullmatch(engineer) or not _KEY.fullmatch(public_key):
            print(f"warning: skipped a malformed key of {engineer!r}", file=sys.stderr)
            continue
        command = f"{prefix} support-session --as {engineer}"
        lines.append(f'restrict,pty,expiry-time="{_expiry(ends_at)}",command="{command}" '
                     f"{public_key} {engineer}")
    return lines


def authorized_keys(flag: str | None, os_user: str, *, now: datetime | None = None,
                    env: Mapping[str, str] | None = None) -> list[str]:
    """Read the config and answer for `os_user`. Raises GateError."""
    config = load_config(flag, env)
    if now is None:
        from console import clock

        now = clock.now()
    return key_lines(config, os_user, now)
