"""SVG screenshots of every screen of the console, with the demo data, for the README.

Creates a demo installation (or reuses one given with --data-dir), opens the console
through Textual's test driver at a fixed size, logs in as the demo administrator and saves
the login screen, every area the administrator can open, and a FlowPro engineer's support
session (the banner, masked data) as `<name>.svg` in --out (default docs/screenshots).

    .venv/bin/python bench/screenshots.py [--out docs/screenshots] [--size 100x32]
        [--data-dir DIR] [--employees N --customers N --sales N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.app import AREAS, ConsoleApp  # noqa: E402
from console.config import load_settings  # noqa: E402
from console.demo import DEMO_ADMIN, DEMO_PASSWORD, DemoPlan, create_demo, demo_exists  # noqa: E402
from console.principal import system_principal  # noqa: E402
from console.runtime import Runtime, open_runtime  # noqa: E402
from tests.tuihelp import log_in, settle, wait_for_screen  # noqa: E402

HOST = "demo-server"  # fixed, so the pictures do not show the machine they were made on


def parse_size(text: str) -> tuple[int, int]:
    cols, _, rows = text.partition("x")
    return int(cols), int(rows)


async def admin_screens(runtime: Runtime, out: Path, size: tuple[int, int]) -> list[Path]:
    saved = []
    app = ConsoleApp(runtime, host=HOST)
    async with app.run_test(size=size) as pilot:
        await wait_for_screen(pilot, app, "LoginScreen")
        saved.append(Path(app.save_screenshot("login.svg", str(out))))
        await log_in(pilot, app, DEMO_ADMIN, DEMO_PASSWORD)
        await wait_for_screen(pilot, app, "DashboardScreen")
        for area in app.visible_areas():
            await pilot.press(area.key)
            await wait_for_screen(pilot, app, area.screen)
            await settle(pilot, app, rounds=6)  # and the counts that follow the first rows
            saved.append(Path(app.save_screenshot(f"{area.id}.svg", str(out))))
    return saved


async def engineer_screen(runtime: Runtime, out: Path, size: tuple[int, int]) -> Path:
    """fp-jane in a support session (as the SSH gate opens it), in the Logs area."""
    import secrets

    from sqlmodel import select

    from console import mfa
    from console.db import writing
    from console.support import create_grant
    from console.support_rules import active_grant
    from console.support_sessions import admit, open_session
    from models.identity import User

    source = "198.51.100.7:40022"
    with runtime.database.scope() as db:
        with writing(db):  # the engineer's authenticator, enrolled
            user = db.exec(select(User).where(User.username == "fp-jane")).one()
            mfa.store_secret(runtime.keys, user, secrets.token_bytes(20))
            user.totp_confirmed = True
            db.add(user)
        if active_grant(db, user.id or 0) is None:  # a reused demo keeps the earlier grant
            create_grant(db, system_principal("admin"), settings=runtime.settings.support,
                         engineer="fp-jane", scope="logs.read,jobs.read",
                         reason="Payroll export job fails", ticket="FP-1234", hours=2)
        principal = open_session(runtime.database, db, admit(db, "fp-jane", source=source),
                                 source=source)
    app = ConsoleApp(runtime, principal=principal, host=HOST, exit_on_session_end=True)
    async with app.run_test(size=size) as pilot:
        await wait_for_screen(pilot, app, "DashboardScreen")
        await pilot.press("4")
        await wait_for_screen(pilot, app, "LogsScreen")
        await settle(pilot, app, rounds=6)
        path = Path(app.save_screenshot("support-session.svg", str(out)))
        await pilot.press("ctrl+q")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--size", type=parse_size, default=(100, 32))
    parser.add_argument("--data-dir", type=Path, help="an existing demo installation")
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=50_000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flowpro-shots-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "demo"
        if demo_exists(data_dir):
            settings = load_settings(data_dir / "config.toml", env={})
        else:
            settings = create_demo(data_dir, DemoPlan(employees=args.employees,
                                                      customers=args.customers,
                                                      sales=args.sales))
        runtime = open_runtime(settings)
        try:
            saved = asyncio.run(admin_screens(runtime, args.out, args.size))
            saved.append(asyncio.run(engineer_screen(runtime, args.out, args.size)))
        finally:
            runtime.close()
    for path in saved:
        print(f"saved {path}")
    available = [a.id for a in AREAS if a.available]
    print(f"{len(saved)} screenshots ({len(available)} areas, the login screen and a "
          "support session)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
