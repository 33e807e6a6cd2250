"""The console as its users meet it: a real OpenSSH sshd on 127.0.0.1, `ssh -tt` inside
tmux, the screen read with `capture-pane`.

An administrator logs in over SSH, creates the FlowPro engineer's account and grants
support access; the engineer connects with their key through the gate, sees the banner and
browses the logs with personal data masked; the administrator revokes; the engineer's
session ends and the key stops working. Then every area at every terminal size and type:
nothing cut off so that an action can no longer be reached."""

from __future__ import annotations

import importlib
import pwd
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from textual.binding import Binding

from console import mfa
from console.app import AREAS, Area
from console.db import writing
from console.permissions import SUPPORT_CEILING
from console.principal import system_principal
from console.sshkeys import add_key
from models.identity import User
from models.support import SupportGrant, SupportSession
from tests.e2ehelp import (
    PII_EMAIL,
    PII_PHONE,
    SIZES,
    TERMINALS,
    E2eWorld,
    log_in,
    started_world,
    write_logs,
)
from tests.supporthelp import TOTP_SECRET
from tests.tmuxhelp import Tmux

pytestmark = pytest.mark.integration


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[E2eWorld]:
    with started_world(tmp_path, lambda w: w.ingest(write_logs(tmp_path / "app.jsonl"))) as made:
        yield made


def pick(tmux: Tmux, names: list[str], wanted: str) -> None:
    """In a focused SelectionList listing `names` in order: move to `wanted`, toggle it."""
    for _ in range(names.index(wanted)):
        tmux.keys("Down")
    tmux.keys("space")


def listed(screen: str, pattern: str) -> list[str]:
    """Names in a selection list as the screen shows them, top to bottom."""
    return re.findall(pattern, screen)


def create_engineer_account(admin: Tmux) -> None:
    admin.keys("2")
    admin.wait_for("Username", "Kind")
    admin.keys("a")
    form = admin.wait_for("Add a user", "Save")
    admin.type("fp-jane")
    admin.keys("Tab")
    admin.type("Jane Engineer")
    admin.keys("Tab", "Tab", "Enter")  # email left empty; the kind opens
    admin.wait_for("vendor", "service")
    admin.keys("Down", "Enter")  # staff -> vendor
    admin.wait_for("service", absent=True)  # the list of kinds closed
    admin.keys("Tab")  # the roles
    pick(admin, listed(form, r"▌ (\w+)  "), "support")
    admin.wait_for("Add a user", "vendor")
    admin.keys("Tab", "Enter")  # Save
    admin.wait_for("Temporary password for fp-jane", timeout=30)  # shown once
    admin.keys("Escape")
    users = admin.wait_for("Shown once", absent=True)
    assert re.search(r"fp-jane +vendor +support +temp-password", users), users


def engineer_enrols(e2e: E2eWorld) -> None:
    """What the engineer does apart from the console (TOTP on their phone) and the admin on
    the command line (`users ssh-key add`): done through the same services here."""
    runtime = e2e.runtime()
    with runtime.database.scope() as db:
        with writing(db):
            user = db.exec(select(User).where(User.username == "fp-jane")).one()
            mfa.store_secret(runtime.keys, user, TOTP_SECRET)
            user.totp_confirmed = True
            db.add(user)
        add_key(db, system_principal("test"), "fp-jane", e2e.engineer_public)


def grant_support(admin: Tmux) -> None:
    admin.keys("5")
    admin.wait_for("Waiting (0) (w)")  # loaded: "n" needs to know who is asking
    admin.keys("n")
    form = admin.wait_for("Hours", "Ticket")
    admin.type("fp-jane")
    admin.keys("Tab")
    scopes = sorted(p.value for p in SUPPORT_CEILING)
    assert listed(form, r"▌ ([a-z]+\.[a-z]+)  ") == scopes, form
    pick(admin, scopes, "logs.read")
    admin.wait_for("name at least one permission", absent=True, timeout=10)
    admin.keys("Tab", "Tab")  # hours: the default
    admin.type("Payroll export job fails")
    admin.keys("Tab")
    admin.type("FP-4242")
    admin.keys("Enter")
    admin.wait_for("Grant fp-jane access now?")
    admin.keys("Enter")
    admin.wait_for("Grant fp-jane access now?", absent=True)
    admin.keys("g")
    admin.wait_for("Active (1)")


def revoke_from_support_screen(admin: Tmux) -> float:
    admin.keys("g")
    admin.wait_for("Active (1)")
    admin.keys("r")
    admin.wait_for("Why does this access end now?")
    admin.type("ticket solved")
    admin.keys("Enter")
    admin.wait_for("now?", "Revoke now")
    admin.keys("Enter")
    return time.monotonic()


def test_admin_grants_engineer_browses_admin_revokes(e2e: E2eWorld) -> None:
    with e2e.explained():
        scenario(e2e)


def scenario(e2e: E2eWorld) -> None:
    admin = e2e.admin_terminal()
    log_in(admin)
    create_engineer_account(admin)
    engineer_enrols(e2e)
    refused = e2e.world.ssh(e2e.engineer_key, "echo SHELL")
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
    grant_support(admin)

    engineer = e2e.engineer_terminal()
    engineer.wait_for("TOTP code", timeout=60)
    engineer.type(mfa.code_at(TOTP_SECRET, _now()))
    engineer.keys("Enter")
    banner = engineer.wait_for("SUPPORT ACCESS", "logs.read", timeout=60)
    grant_id = _grant_id(e2e)
    assert f"SUPPORT ACCESS #{grant_id} · logs.read" in banner
    engineer.keys("4")
    logs = engineer.wait_for("payslip bounced", "payroll run 4")
    assert PII_EMAIL not in logs and PII_PHONE not in logs
    assert "•" in next(line for line in logs.splitlines() if "payslip bounced" in line)

    revoked_at = revoke_from_support_screen(admin)
    ended = engineer.wait_for("Support session ended", timeout=15)
    took = time.monotonic() - revoked_at
    print(f"engineer's session ended {took:.2f} s after the revoke was confirmed")
    assert "revoked" in ended
    engineer.wait_until(lambda _s: engineer.dead(), "the ssh client exiting", timeout=15)
    after = e2e.world.ssh(e2e.engineer_key, "echo SHELL")
    assert after.returncode == 255 and "Permission denied (publickey)" in after.stderr

    with e2e.runtime().database.scope() as db:
        session = db.exec(select(SupportSession)).one()
        assert session.engineer == "fp-jane" and "revoked" in (session.end_reason or "")
        assert session.source and session.source.startswith("127.0.0.1:")
    admin.keys("C-q")
    admin.wait_until(lambda _s: admin.dead(), "the admin's console quitting")
    assert admin.exit_status() == 0
    # Root ran the console first: its error log still belongs to the support account.
    log = e2e.world.base / "data" / "console.log"
    assert log.stat().st_uid == pwd.getpwnam(e2e.world.user).pw_uid


def _grant_id(e2e: E2eWorld) -> int:
    with e2e.runtime().database.scope() as db:
        return db.exec(select(SupportGrant)).one().id


def _now():
    from console import clock

    return clock.now()


# Every area at each size and in each terminal type. Whether the key bar fits depends on
# the width, so the smallest size is walked in every terminal type (the full scenario
# above runs at 80x24, xterm); each larger size once, in a type that draws differently.
WALKS = [((80, 24), term) for term in TERMINALS if term != "xterm-256color"] + [
    ((120, 40), "screen"), ((200, 60), "NO_COLOR")]
assert {size for size, _term in WALKS} | {(80, 24)} == set(SIZES)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2eWorld]:
    """One world for the read-only walks (each walk its own ssh session and terminal)."""
    tmp = tmp_path_factory.mktemp("e2e-walk")
    with started_world(tmp, lambda w: w.ingest(write_logs(tmp / "app.jsonl"))) as made:
        yield made


def area_marker(area: Area) -> str:
    """A footer label only that area's screen shows: its first binding in the footer."""
    module = importlib.import_module(f"screens.{area.module}")
    screen = getattr(module, area.screen)
    return next(b.description for b in screen.BINDINGS
                if isinstance(b, Binding) and b.show)


@pytest.mark.parametrize(("size", "term"), WALKS, ids=[f"{w}x{h}-{t}" for (w, h), t in WALKS])
def test_every_area_and_its_keys_fit_the_terminal(shared: E2eWorld, size: tuple[int, int],
                                                 term: str) -> None:
    """Every area opens from its number key, and its whole key bar is on the screen: the
    last key (the app's Quit) and the command palette are visible, so nothing before them
    was cut off. With NO_COLOR no colour reaches the terminal (Textual then draws in
    shades of grey: monochrome, as no-color.org asks)."""
    cols, rows = size
    admin = shared.admin_terminal(f"walk-{cols}-{term}", size=size, term=term,
                                  record=term == "NO_COLOR")
    with shared.explained():
        home = log_in(admin)
        areas = [a for a in AREAS if a.available]
        nav = "\n".join(home.split("\n")[:3])
        for area in areas:
            assert f"{area.key} {area.title}" in nav, nav
        for area in areas:
            admin.keys(area.key)
            marker = area_marker(area)
            screen = admin.wait_until(
                lambda s, marker=marker: marker in _footer(s, rows), f"the {area.title} "
                f"area's key bar ({marker!r})")
            footer = _footer(screen, rows)
            assert "Quit" in footer and "^p" in footer, \
                f"{area.title} at {cols}x{rows}: the key bar is cut off:\n{screen}"
            assert len(screen.split("\n")[0].rstrip()) <= cols
        admin.keys("C-q")
        admin.wait_until(lambda _s: admin.dead(), "the console quitting")
        if term == "NO_COLOR":
            hues = chromatic_colours(admin.raw())
            assert not hues, f"NO_COLOR=1 but colours were sent: {hues[:5]}"


def _footer(screen: str, rows: int) -> str:
    """The key bar: the bottom lines (it wraps onto up to four)."""
    return "\n".join(screen.split("\n")[:rows][-4:])


GREYS_256 = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def chromatic_colours(raw: bytes) -> list[str]:
    """SGR colours in `raw` that are not black, white or grey."""
    found = []
    for params in re.findall(rb"\x1b\[([0-9;]*)m", raw):
        codes = [int(c) for c in params.split(b";") if c.isdigit()]
        i = 0
        while i < len(codes):
            code = codes[i]
            if code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 5:
                if i + 2 < len(codes) and codes[i + 2] not in GREYS_256:
                    found.append(f"{code};5;{codes[i + 2]}")
                i += 3
            elif code in (38, 48) and i + 1 < len(codes) and codes[i + 1] == 2:
                rgb = codes[i + 2:i + 5]
                if len(set(rgb)) > 1:
                    found.append(f"{code};2;{rgb}")
                i += 5
            else:
                if 31 <= code <= 36 or 41 <= code <= 46 or 91 <= code <= 96 or 101 <= code <= 106:
                    found.append(str(code))
                i += 1
    return found
