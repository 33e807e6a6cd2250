"""The end-to-end world: a real sshd, an installation owned by the support OS account with
processing logs holding personal data, root's key for the administrator, and people at
terminals (tmux) running `ssh -tt` to the console."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from console import clock
from console.config import load_settings
from console.logs.ingest import ingest
from console.principal import os_principal
from console.runtime import Runtime, open_runtime
from tests.conftest import ADMIN_PASSWORD
from tests.sshdhelp import ROOT, SSH, SshdWorld, sshd_world
from tests.tmuxhelp import Tmux, require_tmux

# Personal data in the logs that a support engineer without pii.read must never see.
PII_EMAIL = "maria.lopez@example.com"
PII_PHONE = "+49 151 2345 6789"
SIZES = ((80, 24), (120, 40), (200, 60))
TERMINALS = ("xterm-256color", "screen", "NO_COLOR")


def write_logs(path: Path, extra: list[dict] | None = None) -> Path:
    """A FlowPro JSON Lines file: some ordinary entries, one with personal data."""
    now = clock.now()
    rows = [{"ts": (now - timedelta(minutes=50 - i)).isoformat(), "level": level,
             "system": "payroll", "host": "app01", "logger": "payroll.run",
             "message": f"payroll run {i} step finished"}
            for i, level in enumerate(["info", "warn", "info", "error", "info"])]
    rows.append({"ts": (now - timedelta(minutes=20)).isoformat(), "level": "error",
                 "system": "hrm", "host": "app02", "logger": "hrm.mail",
                 "message": f"payslip bounced for {PII_EMAIL}, call {PII_PHONE}"})
    rows.extend(extra or [])
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


class E2eWorld:
    """sshd + installation + keys; `admin_terminal` and `engineer_terminal` open people's
    terminals. Everything the installation needs is made before the data goes to the
    support OS account."""

    def __init__(self, world: SshdWorld, tmp: Path) -> None:
        self.world = world
        self.tmp = tmp
        world.create_user()
        self.console = world.install_console()
        self.config = world.create_installation(self.console)
        self.settings = load_settings(self.config, env={})
        self.admin_key, admin_public = world.client_key("admin_key", "admin@desk")
        self.engineer_key, self.engineer_public = world.client_key("jane_key", "jane@laptop")
        self.terminals: list[Tmux] = []
        self._runtime: Runtime | None = None

    def ingest(self, path: Path) -> None:
        with self.runtime().database.scope() as db:
            ingest(db, os_principal("root"), [path])

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = open_runtime(self.settings)
        return self._runtime

    def start(self) -> None:
        self.world.give_data_to_user()
        self.world.start_sshd(self.console, self.config,
                              admin_key=(self.world.base / "admin_key.pub").read_text())

    def terminal(self, name: str, argv: list[str], *, size: tuple[int, int] = (80, 24),
                 term: str = "xterm-256color", record: bool = False) -> Tmux:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
               "LANG": "C.UTF-8"}
        if term == "NO_COLOR":
            env |= {"TERM": "xterm-256color", "NO_COLOR": "1"}
        else:
            env["TERM"] = term
        tmux = Tmux(name, argv, cols=size[0], rows=size[1], env=env,
                    record=self.tmp / f"{name}.bytes" if record else None)
        self.terminals.append(tmux)
        return tmux

    def admin_terminal(self, name: str = "admin", **kwargs) -> Tmux:
        """`ssh -tt root@server` then the console, as an administrator does."""
        argv = [*self.world.ssh_argv(self.admin_key, "-tt", user="root"),
                f"exec {self.console} --config {self.config}"]
        return self.terminal(name, argv, **kwargs)

    def admin_terminal_with_test_jobs(self, name: str = "admin-jobs", **kwargs) -> Tmux:
        """The same, with the test job kinds (tests/jobkinds.py) installed in the console."""
        start = ("import sys, tests.jobkinds; from console.cli import main; "
                 "sys.argv[0] = 'flowpro-console'; main()")
        remote = (f"cd {shlex.quote(str(ROOT))} && PYTHONPATH={shlex.quote(str(ROOT))} exec "
                  f"{shlex.quote(sys.executable)} -c {shlex.quote(start)} --config {self.config}")
        argv = [*self.world.ssh_argv(self.admin_key, "-tt", user="root"), remote]
        return self.terminal(name, argv, **kwargs)

    def engineer_terminal(self, name: str = "engineer", **kwargs) -> Tmux:
        """`ssh -tt fp-support@server` with the engineer's key: the gate's forced command."""
        return self.terminal(name, [*self.world.ssh_argv(self.engineer_key, "-tt")], **kwargs)

    def ssh_pid(self, tmux: Tmux) -> int:
        """The ssh client in that terminal (env execs it: the pane shell's child)."""
        pid = tmux.program_pid()
        exe = os.readlink(f"/proc/{pid}/exe")
        assert Path(exe).name == Path(SSH or "ssh").name, exe
        return pid

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A failure carries the sshd log and the console's error log."""
        try:
            yield
        except AssertionError as exc:
            log = self.world.base / "data" / "console.log"
            errors = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            gate = self.world.as_user(f"{self.console} --config {self.config} "
                                      f"ssh authorized-keys {self.world.user}")
            files = subprocess.run(["ls", "-la", str(self.world.base / "data")],
                                   capture_output=True, text=True).stdout
            files += "\n".join(map(str, _rows(self.world.base / "data" / "console.db")))
            raise AssertionError(f"{exc}\n--- sshd log ---\n{self.world.sshd_log()}"
                                 f"\n--- console.log ---\n{errors}\n--- the gate now ---\n"
                                 f"{gate.returncode} {gate.stdout}{gate.stderr}\n"
                                 f"--- data ---\n{files}") from None

    def close(self) -> None:
        for tmux in self.terminals:
            tmux.close()
        if self._runtime is not None:
            self._runtime.close()


def _rows(path: Path) -> list[tuple]:
    """Grants, keys and accounts as the database holds them (for a failure's report)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [*conn.execute("SELECT id, engineer_id, scope, starts_at, ends_at, ended_at "
                              "FROM support_grants"),
                *conn.execute("SELECT id, user_id FROM ssh_keys"),
                *conn.execute("SELECT id, username, kind, disabled FROM users")]


def audit_verify(e2e: E2eWorld) -> subprocess.CompletedProcess[str]:
    """`flowpro-console audit verify` through the installed console, as root."""
    return subprocess.run([str(e2e.console), "--config", str(e2e.config), "audit", "verify"],
                          capture_output=True, text=True, timeout=120)


def log_in(tmux: Tmux, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
    tmux.wait_for("Username", "Password", timeout=60)
    tmux.type(username)
    tmux.keys("Enter")
    tmux.type(password)
    tmux.keys("Enter")
    return tmux.wait_for("1 Home", timeout=60)


@contextlib.contextmanager
def started_world(tmp: Path, prepare: Callable[[E2eWorld], None] = lambda _w: None
                  ) -> Iterator[E2eWorld]:
    """A real sshd with the console installed in `tmp`, `prepare`d (data, users), then
    started; everything stopped and removed afterwards. For a fixture:
    `with started_world(tmp_path, prepare) as world: yield world`."""
    require_tmux()
    for world in sshd_world():
        made = E2eWorld(world, tmp)
        try:
            prepare(made)
            made.start()
            yield made
        finally:
            made.close()
