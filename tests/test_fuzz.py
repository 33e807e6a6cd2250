"""Bad input, generated (hypothesis): the config loader, every log parser and the time,
level and search syntaxes, every form validator (and the services behind the forms), and
every CLI command's argument parsing. Nothing escapes as a traceback; invalid input gets a
ConsoleError (ConfigError naming the key, ValidationError naming the field)."""

from __future__ import annotations

import json
import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.config import ConfigError, Settings, load_settings, parse_settings, parse_when
from console.errors import ConsoleError, ValidationError
from tests.fuzzhelp import TRIED, tried

REPORT = os.environ.get("FLOWPRO_FUZZ_REPORT")

# -- strategies ----------------------------------------------------------------------

HOSTILE_CHARS = st.sampled_from(["\x00", "\x1b", "\n", "\r", "\t", "[", "]", "%", "_", "'",
                                 '"', "*", "-", "\u202e", "\ufeff", "/", "\\", ":", "=", " "])
TEXT = st.one_of(st.text(max_size=40), st.lists(st.one_of(HOSTILE_CHARS, st.characters()),
                                                 max_size=30).map("".join))
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(1 << 63),
                   max_value=(1 << 63) - 1), st.floats(allow_nan=True), TEXT)
TOML_SCALAR = st.one_of(st.booleans(), st.integers(min_value=-(1 << 63),
                        max_value=(1 << 63) - 1), st.floats(), TEXT,
                        st.datetimes(), st.dates())
TOML_VALUE = st.recursive(TOML_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def _section_keys() -> dict[str, list[str]]:
    keys = {}
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            keys[name] = list(annotation.model_fields)
    keys["schedules"] = ["kind", "when", "params", "enabled"]
    return keys


SECTIONS = _section_keys()


@st.composite
def config_docs(draw) -> dict:
    """A TOML document: mostly real sections and keys with wrong or odd values."""
    doc: dict = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "bogus"]), max_size=4,
                                 unique=True)):
        if section == "bogus" or draw(st.integers(0, 9)) == 0:
            doc[section] = draw(TOML_VALUE)
            continue
        keys = SECTIONS[section] + ["unknown_key"]
        body = {k: draw(TOML_VALUE) for k in draw(st.lists(st.sampled_from(keys),
                                                            max_size=4, unique=True))}
        if section == "schedules":
            body = {draw(TEXT): body}
        if section == "keys":
            body = {draw(TEXT): draw(TOML_VALUE)}
        doc[section] = body
    return doc


# -- the config loader ---------------------------------------------------------------


@given(doc=config_docs())
def test_config_documents_give_settings_or_a_config_error(doc) -> None:
    tried("config: documents")
    try:
        settings = parse_settings(doc, env={})
    except ConfigError as exc:
        text = str(exc)
        assert text.startswith("config error in ") and "\n" not in text
        if doc:
            # the error names a section of the document (or the key inside it)
            assert any(f"[{s}]" in text or f"{s}:" in text or s in text for s in doc), text
        return
    # Whatever was accepted is usable: paths and URLs resolve without raising.
    assert isinstance(settings.data_dir, Path)
    assert settings.database_url


@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))))
def test_config_files_of_any_text_give_settings_or_a_config_error(text, tmp_path) -> None:
    tried("config: files")
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        assert str(path) in str(exc)


def test_config_file_that_is_not_utf8_or_a_directory(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"[ui]\ntheme = \"\xff\xfe\"\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path, env={})


@given(when=TEXT)
def test_schedule_times_parse_or_say_what_is_accepted(when) -> None:
    tried("config: schedule times")
    try:
        parse_when(when)
    except ValueError as exc:
        assert "use one of" in str(exc)


KEYED_DIR = Path(__import__("tempfile").mkdtemp(prefix="fuzz-data-"))
(KEYED_DIR / "keys").mkdir(mode=0o700)

# SQLite paths stay relative to the test's own working directory (no '/', '~' or '..').
CONFINED = TEXT.map(lambda t: t.replace("..", "").lstrip("/~"))
URLS = st.one_of(TEXT, st.tuples(st.sampled_from(
    ["sqlite://", "sqlite:///", "postgresql://", "postgres://u:p@h:", "sqlite+pysqlite:///",
     "postgresql+psycopg://root@/x?host=", "postgresql://[::1", "sqlite+nodriver:///"]),
    CONFINED).map("".join))


@given(url=URLS, data_dir=CONFINED)
def test_storage_and_database_settings_never_crash_the_precheck(url, data_dir) -> None:
    tried("config: paths and urls")
    from console.runtime import make_database, precheck

    for where in (data_dir or "x", str(KEYED_DIR)):
        try:
            settings = parse_settings({"storage": {"data_dir": where},
                                       "database": {"url": url}}, env={})
            precheck(settings)
            database = make_database(settings)
        except ConsoleError as exc:
            assert "\n" not in str(exc)
            continue
        try:
            if not url.startswith("postgres"):  # no network connections from a fuzzer
                from console.db import schema_state

                schema_state(database)
        except ConsoleError:
            pass
        finally:
            database.dispose()


# -- log parsers -----------------------------------------------------------------------

LOG_PIECES = st.sampled_from([
    "<34>", "<999>", "<>", "1 ", "2026-11-22T01:02:03Z ", "2026-13-45T99:99:99+99:99 ",
    "Nov 22 01:02:03 ", "Feb 30 25:61:61 ", "host ", "app[12]: ", "[-] ", "[x@1 a=\"b\\\"\"] ",
    '127.0.0.1 - - [22/Nov/2026:01:02:03 +0100] "GET / HTTP/1.1" 200 5 "-" "ua"',
    "[Sun Nov 22 01:02:03.123456 2026] [core:error] [pid 1] ",
    "2026-11-22 01:02:03,456 ERROR name: ", '{"ts": ', '"msg": ', "}", "{", "[", "\x1b[31m",
    "\x00", "\t", " ", "error", "Traceback (most recent call last):", '{"ts": 1e300}',
    '{"time": -1}', '{"ts": "9999-99-99T99:99:99"}', '{"level": [1]}', '{"host": {"a": 1}}',
])
LOG_LINES = st.one_of(st.text(max_size=120), st.lists(st.one_of(LOG_PIECES, TEXT),
                                                       max_size=8).map("".join))


@given(line=LOG_LINES)
def test_every_log_parser_reads_any_line_without_raising(line) -> None:
    tried("logs: parser lines")
    from console.logs.common import Format
    from console.logs.formats import make_parser

    for fmt in Format:
        if fmt == Format.AUTO:
            continue
        parser = make_parser(fmt, UTC, datetime(2026, 11, 22, tzinfo=UTC), "host")
        parsed = parser.parse(line)
        if parsed is not None:
            assert isinstance(parsed.message, str)
            assert parsed.ts is None or parsed.ts >= 0
        assert isinstance(parser.fields(line), dict)


@given(lines=st.lists(LOG_LINES, max_size=20))
def test_format_detection_and_assembly_take_any_lines(lines) -> None:
    tried("logs: detect and assemble")
    from console.logs.common import Format
    from console.logs.formats import make_parser
    from console.logs.reader import Assembler, Chunk, detect

    ref = datetime(2026, 11, 22, tzinfo=UTC)
    parsers = {f: make_parser(f, UTC, ref, "h") for f in Format if f != Format.AUTO}
    fmt = detect(lines, parsers)
    chunk = Chunk()
    Assembler(parsers[fmt], fmt, 0).feed(lines, 1, chunk)
    assert len(chunk.entries) + len(chunk.leading) <= max(1, len(lines)) * 2


@given(text=st.one_of(TEXT, st.sampled_from([
    "[a b=\"c\"]", "[a b=\"c\\\"d\"][e f=\"\"] m", "[", "[a", "[a b=", "[a b=\"", "-",
    "[a b=\"c\" d=\"e\"", "[@ x=\"y\"]"])))
def test_structured_data_parser_takes_anything(text) -> None:
    tried("logs: structured data")
    from console.logs.formats import parse_structured_data

    data, rest = parse_structured_data(text)
    assert isinstance(data, dict)


@given(value=st.one_of(TEXT, st.sampled_from([
    "99999999999999999999d", "9999999999w", "-1h", "1x", "last 5m", "now", "2026-02-30",
    "0000-01-01", "9999-12-31 23:59:59", "2026-11-22T01:02:03+25:00", "1e9s"])))
def test_log_time_filter_parses_or_gives_a_value_error(value) -> None:
    tried("logs: --since/--until")
    from console.logs.common import parse_when as parse_log_when

    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    try:
        parsed = parse_log_when(value, now, UTC)
    except ValueError as exc:
        assert "is not a time" in str(exc)
        return
    assert parsed.tzinfo is not None


@given(value=st.one_of(TEXT, st.sampled_from(["error,warn", "warn+", "+", ",,", "debug+,x"])))
def test_level_filter_parses_or_gives_a_value_error(value) -> None:
    tried("logs: --level")
    from console.logs.common import parse_levels

    try:
        parse_levels(value)
    except ValueError as exc:
        assert "unknown level" in str(exc)


@given(query=st.one_of(TEXT, st.lists(st.sampled_from(
    ['"', "-", "*", "NEAR(", "OR", "AND", "NOT", "(", ")", "a", "b", " ", "%", "_", "'", ":*",
     "^", "{", "}", "&", "|", "!", "<->"]), max_size=12).map("".join)),
       regex=st.one_of(st.just(""), TEXT))
def test_search_text_and_regex_validate_or_name_the_field(query, regex) -> None:
    tried("logs: --text/--regex")
    from console.logs.query import LogFilter, check_filter
    from console.logs.text import checker, fts5_query, matcher, parse_text, tsquery

    try:
        check_filter(LogFilter(text=query, regex=regex))
    except ValidationError as exc:
        assert exc.field in ("text", "regex")
        return
    terms = parse_text(query)
    if terms:
        fts5_query(terms), tsquery(terms), checker(terms)
    matcher(query)("some text")


# -- form validators (pure) ------------------------------------------------------------


@given(value=TEXT)
def test_account_and_role_field_validators_name_their_field(value) -> None:
    tried("forms: field validators")
    from console import roles, support_rules, users
    from console.config import SupportSettings

    checks = [("username", users.validate_username), ("display name",
              users.validate_display_name), ("email", users.validate_email),
              ("reason", users.validate_reason), ("role name", roles.validate_role_name),
              ("description", roles.validate_description),
              ("scope", support_rules.parse_scope), ("hours", support_rules.parse_hours),
              ("ticket", lambda v: support_rules.check_ticket(SupportSettings(), v)),
              ("reason", lambda v: support_rules.check_text("reason", v))]
    for field, check in checks:
        try:
            check(value)
        except ValidationError as exc:
            assert exc.field == field and "\n" not in str(exc)


@given(hours=st.one_of(st.floats(), st.none()))
def test_grant_window_validator(hours) -> None:
    tried("forms: grant hours")
    from console.config import SupportSettings
    from console.support_rules import window_minutes

    try:
        minutes = window_minutes(SupportSettings(), hours)
    except ValidationError as exc:
        assert exc.field == "hours"
        return
    assert 1 <= minutes <= 8 * 60


@given(key=st.one_of(TEXT, st.lists(st.sampled_from(
    ["ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp256 ", "AAAAC3NzaC1lZDI1NTE5", "AAAA", "==",
     " comment", "\n", "\x00", "QUJD", "AAAAB3NzaC1yc2E"]), max_size=6).map("".join)))
def test_ssh_public_key_validator(key) -> None:
    tried("forms: ssh keys")
    from console.sshkeys import parse_public_key

    try:
        parse_public_key(key)
    except ValidationError as exc:
        assert exc.field == "key"


@given(password=TEXT, username=TEXT)
def test_password_policy_validator(password, username) -> None:
    tried("forms: password policy")
    from console.config import SecuritySettings
    from console.passwords import check_policy

    try:
        check_policy(SecuritySettings(), password, username=username)
    except ValidationError as exc:
        assert exc.field == "password"


@given(items=st.lists(TEXT, max_size=4))
def test_job_param_arguments(items) -> None:
    tried("forms: job params")
    from console.jobs import get_kind
    from console.jobs.service import parse_param_args

    try:
        params = parse_param_args(items)
    except ValidationError as exc:
        assert exc.field == "--param"
        return
    for name in ("db-maintenance", "audit-checkpoint"):
        try:
            get_kind(name).parse(params)
        except ValidationError as exc:
            assert exc.field


# -- services behind the forms (SQLite; the same validation runs on both backends) ------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@given(username=TEXT, display=TEXT, email=TEXT, role=TEXT, description=TEXT, reason=TEXT,
       scope=TEXT, ticket=TEXT, hours=TEXT)
def test_service_forms_accept_or_name_the_field(db, admin, runtime, username, display, email,
                                                role, description, reason, scope, ticket,
                                                hours) -> None:
    tried("forms: services")
    from console import roles, support, users
    from console.permissions import Permission
    from console.support_rules import parse_hours

    sec = runtime.settings.security
    calls = [
        lambda: users.create_user(db, admin, username, security=sec, password=None,
                                  display_name=display, email=email),
        lambda: users.create_user(db, admin, "fz" + username.lower()[:20], security=sec,
                                  password=None, display_name=display, email=email),
        lambda: users.edit_user(db, admin, "admin", display_name=display, email=email),
        lambda: users.disable_user(db, admin, username, reason=reason),
        lambda: roles.create_role(db, admin, role, permissions=frozenset(
            {Permission.LOGS_READ}), description=description),
        lambda: support.create_grant(db, admin, settings=runtime.settings.support,
                                     engineer=username, scope=scope, reason=reason,
                                     ticket=ticket, hours=parse_hours(hours)),
    ]
    for call in calls:
        try:
            call()
        except ConsoleError as exc:
            assert "\n" not in str(exc)
            if isinstance(exc, ValidationError):
                assert exc.field
        finally:
            db.rollback()


# -- every CLI command's arguments -------------------------------------------------------

# Commands that run until stopped or open a terminal UI are fuzzed with --help only.
LONG_RUNNING = {("scheduler",), ("tui",), ("support-session",), ("demo",), ("init",)}
PATH_PARAMS = {"output", "key_file", "data_dir", "paths"}


def _leaf_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    from console.cli import cli

    ctx = click.Context(cli)
    found = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), (*path, name))
        else:
            found.append((path, cmd))
    walk(cli, ())
    return found


LEAVES = _leaf_commands()


@st.composite
def cli_args(draw) -> list[str]:
    path, cmd = draw(st.sampled_from(LEAVES))
    args = list(path)
    if path in LONG_RUNNING:
        return [*args, draw(st.sampled_from(["--help", "--bogus", "-h"]))]
    for param in draw(st.lists(st.sampled_from(cmd.params), max_size=5)) if cmd.params else []:
        value = draw(st.one_of(TEXT, st.integers(-5, 10 ** 12).map(str), st.sampled_from(
            ["", "-1", "0", "1", "abc", "1e9", "error+", "2026-13-01", "NEAR(", "%", "'"])))
        if param.name in PATH_PARAMS:
            value = "fz-" + "".join(c for c in value if c.isalnum())[:20]
        if param.name == "follow" or param.name == "f":
            continue
        if isinstance(param, click.Argument):
            args.append(value)
        elif param.is_flag:
            args.append(param.opts[0])
        else:
            args += [param.opts[0], value]
    if draw(st.booleans()):
        args.append(draw(st.sampled_from(["--bogus", "--limit", "-x", "--", "extra"])))
    return args


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@given(args=cli_args())
def test_cli_arguments_never_give_a_traceback(installation, tmp_path, args) -> None:
    tried("cli: argument lists")
    from tests.clihelp import run_cli, write_config

    config = write_config(installation, tmp_path / "config.toml")
    result = run_cli(*args, config=config, input="")
    assert "Traceback" not in result.err, (args, result.err)
    assert result.code in (0, 1, 2, 3, 130), (args, result.code, result.err)
    if result.code and result.err.startswith("error:"):
        assert result.err.count("\n") == 1, (args, result.err)


def test_toml_datetimes_are_named_not_crashed() -> None:
    doc = tomllib.loads("[ui]\ntimezone = 2026-11-22T01:02:03Z\n")
    with pytest.raises(ConfigError, match=r"\[ui\] timezone"):
        parse_settings(doc, env={})


def teardown_module() -> None:
    if REPORT:
        Path(REPORT).write_text(json.dumps(dict(TRIED)), encoding="utf-8")

