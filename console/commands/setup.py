"""Setting up: init, demo, db upgrade/check, config check."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from console.commands.base import CliState, fail, read_secret


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database, keys and exports live (default: from the config).")
@click.option("--admin", default="admin", show_default=True, help="First administrator's name.")
@click.option("--password-stdin", is_flag=True, help="Read the admin password from stdin.")
@click.pass_obj
def init(state: CliState, data_dir: Path | None, admin: str, password_stdin: bool) -> None:
    """Create the data directory, keys, database and the first administrator.

    Run it once; run again it refuses and changes nothing.
    """
    from console.config import load_settings
    from console.install import initialize

    settings = load_settings(state.config_flag, required=False)
    if data_dir is not None:
        settings = settings.model_copy(update={"storage": settings.storage.model_copy(
            update={"data_dir": str(data_dir.resolve())})})
    password = read_secret(f"Password for {admin}: ", from_stdin=password_stdin, confirm=True)
    result = initialize(settings, admin=admin, password=password)
    click.echo(f"initialized {result.data_dir}")
    click.echo(f"database: {result.database}")
    click.echo(f"administrator: {result.admin} (log in with `flowpro-console`)")
    if result.config_written:
        click.echo(f"wrote {result.config_written}; use it with --config "
                   f"{result.config_written} or copy it to /etc/flowpro-console/config.toml")


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True, help="Demo data directory.")
@click.option("--employees", type=click.IntRange(1, 1_000_000), default=200, show_default=True)
@click.option("--customers", type=click.IntRange(1, 10_000_000), default=2000,
              show_default=True)
@click.option("--sales", type=click.IntRange(0, 100_000_000), default=50_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True, help="RNG seed.")
@click.option("--seed-only", is_flag=True, help="Create and seed, but do not open the console.")
@click.option("--reset", is_flag=True, help="Delete an existing demo directory first.")
@click.pass_obj
def demo(state: CliState, data_dir: Path, employees: int, customers: int, sales: int,
         seed: int, seed_only: bool, reset: bool) -> None:
    """Create a demo installation with realistic data and open the console on it."""
    from console.demo import DEMO_ADMIN, DEMO_PASSWORD, DemoPlan, create_demo, demo_exists

    data_dir = data_dir.resolve()
    config = data_dir / "config.toml"
    if reset and data_dir.exists():
        if not config.is_file() or "demo installation" not in config.read_text("utf-8"):
            fail(f"{data_dir} is not a demo directory; not deleting it", 2)
        shutil.rmtree(data_dir)
    if demo_exists(data_dir):
        click.echo(f"using the existing demo in {data_dir} (--reset to start over)")
    else:
        if data_dir.exists() and any(data_dir.iterdir()):
            fail(f"{data_dir} exists and is not a demo directory: choose another --data-dir", 2)
        plan = DemoPlan(employees=employees, customers=customers, sales=sales, seed=seed)
        click.echo(f"creating a demo installation in {data_dir} "
                   f"(about {plan.estimated_rows:,} rows)")
        if sys.stderr.isatty():
            with click.progressbar(length=plan.estimated_rows, label="seeding",
                                   file=sys.stderr, show_eta=True) as bar:
                last = [0]

                def progress(done: int, total: int, what: str) -> None:
                    bar.label = f"seeding {what:<10}"
                    bar.update(min(done, plan.estimated_rows) - last[0])
                    last[0] = min(done, plan.estimated_rows)

                create_demo(data_dir, plan, progress=progress)
        else:
            create_demo(data_dir, plan)
    click.echo(f"demo login: {DEMO_ADMIN} / {DEMO_PASSWORD}")
    click.echo(f"config: {config}  (flowpro-console --config {config} ...)")
    if not seed_only:
        from console.commands.tui import open_tui

        state.config_flag = str(config)
        open_tui(state)


@click.group()
def db() -> None:
    """The database schema: check it and upgrade it."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(state: CliState) -> None:
    """Apply pending schema migrations (back up the database first)."""
    from console.db import upgrade
    from console.errors import AccessDenied
    from console.install import is_trusted_os_user
    from console.runtime import open_runtime

    settings = state.settings()
    if not is_trusted_os_user(settings):
        raise AccessDenied("only the OS owner of the data directory may upgrade the schema")
    runtime = open_runtime(settings, check_schema=False)
    try:
        applied = upgrade(runtime.database)
    finally:
        runtime.close()
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}" if applied
               else "the schema is up to date; nothing to do")


@db.command("check")
@click.pass_obj
def db_check(state: CliState) -> None:
    """Report pending migrations; exit 1 when the schema is behind."""
    from console.db import schema_state
    from console.runtime import make_database

    database = make_database(state.settings())
    try:
        st = schema_state(database)
    finally:
        database.dispose()
    click.echo(f"database: {database.display_url}")
    if st.up_to_date:
        click.echo(f"schema up to date ({', '.join(sorted(st.current))})")
        return
    if st.empty:
        fail("the database is empty: run `flowpro-console init`", 1)
    if st.foreign:
        fail("the database holds tables FlowPro Console did not create", 1)
    if st.unknown:
        fail(f"the database is newer than this console ({', '.join(sorted(st.unknown))})", 1)
    pending = sorted(st.expected - st.current)
    fail(f"schema is behind: {len(pending)} head(s) pending ({', '.join(pending)}); "
         "run `flowpro-console db upgrade`", 1)


@click.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.pass_obj
def config_check(state: CliState) -> None:
    """Validate the configuration and show where it comes from."""
    settings = state.settings()
    from console.jobs.scheduler import check_schedules

    check_schedules(settings)
    click.echo(f"config: {settings.source or 'built-in defaults'}: valid")
    click.echo(f"data dir: {settings.data_dir}")
    enabled = [n for n, e in settings.schedules.items() if e.enabled]
    if settings.schedules:
        click.echo(f"schedules: {len(enabled)} enabled of {len(settings.schedules)} "
                   f"({', '.join(f'{n}: {settings.schedules[n].when}' for n in enabled)})")
    from console.db import Database

    click.echo(f"database: {Database(settings.database_url, settings.database).display_url}")
