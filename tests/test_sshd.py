"""The SSH gate with a real OpenSSH sshd on 127.0.0.1: a test OS account and key, the
README's `Match User` block, the console's `ssh authorized-keys` as AuthorizedKeysCommand.

Before the grant the key is refused; during it `ssh -tt` gets in and the forced command
(the console, after TOTP) runs instead of the command asked for; a revoke closes the open
session, and a new connection is refused."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from console import mfa
from console.config import load_settings
from console.install import initialize
from console.principal import system_principal
from console.runtime import open_runtime
from console.sshkeys import add_key
from console.support import create_grant, revoke_grant
from models.support import SupportReceipt, SupportSession
from tests.conftest import ADMIN_PASSWORD, IN_CI
from tests.ptyhelp import PtyProcess
from tests.supporthelp import GOOD, TOTP_SECRET, add_engineer

pytestmark = pytest.mark.integration

SSHD, SSH, KEYGEN = "/usr/sbin/sshd", shutil.which("ssh"), shutil.which("ssh-keygen")
ROOT = Path(__file__).resolve().parent.parent


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}; .ci/run must provide it")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kwargs)


class SshdWorld:
    """A test OS account sharing the console like `flowpro-support`, an installation it
    owns, the console wrapper sshd may run, and sshd itself."""

    def __init__(self) -> None:
        self.user = f"fpsup{os.getpid()}"[:32]
        # sshd accepts an AuthorizedKeysCommand only if it and every directory above it are
        # root-owned and not writable by others: so not under /tmp (and /run may be noexec).
        self.base = Path(tempfile.mkdtemp(prefix="flowpro-sshd-", dir="/var/lib"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.sshd: subprocess.Popen[bytes] | None = None
        self.created_user = False

    # -- set-up ----------------------------------------------------------------------

    def create_user(self) -> None:
        run("useradd", "--create-home", "--shell", "/bin/sh", self.user)
        self.created_user = True
        # No password, but not "locked" either: without PAM sshd refuses locked accounts.
        run("usermod", "-p", "*", self.user)

    def as_user(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["su", "-s", "/bin/sh", self.user, "-c", command],
                              capture_output=True, text=True, cwd="/")

    def python_for_user(self) -> tuple[str, str]:
        """An interpreter and PYTHONPATH with which the test account runs this checkout's
        console (this venv's packages), copying them if the account cannot read them."""
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        pythons = [str(Path(sys.executable).resolve()), f"/usr/bin/{version}",
                   f"/usr/local/bin/{version}"]
        packages = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
        trees = [":".join(dict.fromkeys([*packages, str(ROOT)]))]
        probe = "import console.cli, console.app, textual.app, sqlmodel, cryptography"
        for attempt in range(2):
            for python in pythons:
                for path in trees:
                    if Path(python).exists() and self.as_user(
                            f"PYTHONPATH={shlex.quote(path)} {shlex.quote(python)} -c "
                            f"{shlex.quote(probe)}").returncode == 0:
                        return python, path
            if attempt == 0:  # not readable by the account (e.g. under /root): copy them
                copy = self.base / "lib"
                for index, source in enumerate(dict.fromkeys(packages)):
                    shutil.copytree(source, copy / f"site{index}", symlinks=True)
                for package in ("console", "models", "screens"):
                    shutil.copytree(ROOT / package, copy / "src" / package)
                trees = [":".join([*(str(copy / f"site{i}") for i in
                                     range(len(dict.fromkeys(packages)))), str(copy / "src")])]
        unavailable(f"no Python {version} that the test account {self.user} can run with "
                    "this checkout's packages")
        raise AssertionError("unreachable")

    def install_console(self) -> Path:
        python, path = self.python_for_user()
        bindir = self.base / "bin"
        bindir.mkdir(mode=0o755)
        wrapper = bindir / "flowpro-console"
        wrapper.write_text("#!/bin/sh\n"
                           f"PYTHONPATH={shlex.quote(path)} PYTHONNOUSERSITE=1 "
                           f"PYTHONDONTWRITEBYTECODE=1 exec {shlex.quote(python)} -P -m console "
                           '"$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def create_installation(self, console: Path) -> Path:
        data = self.base / "data"
        config = self.base / "config.toml"
        config.write_text(f'[storage]\ndata_dir = "{data}"\n'
                          "[security]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\n"
                          "argon2_parallelism = 1\n"
                          f'[support]\nos_user = "{self.user}"\n'
                          f'console_command = "{console}"\n')
        config.chmod(0o644)
        initialize(load_settings(config, env={}), admin="admin", password=ADMIN_PASSWORD,
                   actor=system_principal("test"))
        return config

    def give_data_to_user(self) -> None:
        run("chown", "-R", f"{self.user}:", str(self.base / "data"))

    def start_sshd(self, console: Path, config: Path) -> None:
        run(KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(self.base / "host_key"))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        sshd_config = self.base / "sshd_config"
        sshd_config.write_text(f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.base}/host_key
PidFile {self.base}/sshd.pid
UsePAM no
StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
LogLevel VERBOSE

Match User {self.user}
    AuthorizedKeysFile none
    AuthorizedKeysCommand {console} --config {config} ssh authorized-keys %u
    AuthorizedKeysCommandUser {self.user}
    AuthenticationMethods publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    DisableForwarding yes
    PermitTunnel no
    PermitUserRC no
    PermitTTY yes
""")
        checked = subprocess.run([SSHD, "-t", "-f", str(sshd_config)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, f"sshd -t refused the config: {checked.stderr}"
        self.log = open(self.base / "sshd.log", "wb")  # noqa: SIM115
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(sshd_config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"sshd did not start:\n{self.sshd_log()}")

    def client_key(self) -> tuple[Path, str]:
        key = self.base / "client_key"
        run(KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "jane@laptop", "-f", str(key))
        return key, Path(f"{key}.pub").read_text()

    # -- use -------------------------------------------------------------------------

    def ssh_argv(self, key: Path, *extra: str) -> list[str]:
        return [SSH or "ssh", "-i", str(key), "-p", str(self.port), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", *extra, f"{self.user}@127.0.0.1"]

    def ssh(self, key: Path, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.ssh_argv(key), command], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    def sshd_log(self) -> str:
        path = self.base / "sshd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        if self.sshd is not None:
            self.sshd.terminate()
            try:
                self.sshd.wait(5)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
            self.log.close()
        if self.created_user:
            subprocess.run(["pkill", "-KILL", "-u", self.user], capture_output=True)
            subprocess.run(["userdel", "-r", self.user], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def world() -> Iterator[SshdWorld]:
    missing = [name for name, path in (("sshd", SSHD), ("ssh", SSH), ("ssh-keygen", KEYGEN))
               if not path or not os.access(path, os.X_OK)]
    if missing:
        unavailable(f"OpenSSH is not installed ({', '.join(missing)} missing)")
    if os.geteuid() != 0:
        unavailable("the sshd test needs root (to run sshd and create a test account)")
    created = SshdWorld()
    try:
        yield created
    finally:
        created.close()


def test_key_works_only_during_the_grant(world: SshdWorld) -> None:
    world.create_user()
    console = world.install_console()
    config = world.create_installation(console)
    settings = load_settings(config, env={})
    runtime = open_runtime(settings)
    try:
        key, public = world.client_key()
        with runtime.database.scope() as db:
            add_engineer(runtime, db)
            add_key(db, system_principal("test"), "fp-jane", public)
        world.give_data_to_user()
        world.start_sshd(console, config)

        before = world.ssh(key, "echo SHELL-ACCESS")
        assert before.returncode == 255, before
        assert "Permission denied (publickey)" in before.stderr
        assert "SHELL-ACCESS" not in before.stdout

        with runtime.database.scope() as db:
            grant = create_grant(db, system_principal("admin"), settings=settings.support,
                                 engineer="fp-jane", scope="logs.read", **GOOD)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root",
               "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        session = PtyProcess([*world.ssh_argv(key, "-tt"), "echo SHELL-ACCESS"], env)
        try:
            session.wait_for("TOTP code", timeout=60)
            session.send(mfa.code_at(TOTP_SECRET, _now()) + "\r")
            session.wait_for("SUPPORT ACCESS", timeout=60)  # the console, as fp-jane
            assert f"SUPPORT ACCESS #{grant.id} · logs.read" in session.text()
            assert "SHELL-ACCESS" not in session.text()  # the forced command ran instead
            with runtime.database.scope() as db:
                revoke_grant(db, system_principal("admin"), grant.id, reason="all done")
            session.wait_for("Support session ended: support access ended", timeout=30)
            assert session.proc.wait(30) == 0
        finally:
            session.kill()

        after = world.ssh(key, "echo SHELL-ACCESS")
        assert after.returncode == 255 and "Permission denied (publickey)" in after.stderr

        with runtime.database.scope() as db:
            record = db.exec(select(SupportSession)).one()
            assert record.engineer == "fp-jane" and record.grant_id == grant.id
            assert record.source and record.source.startswith("127.0.0.1:")
            assert "revoked" in record.end_reason
            assert db.exec(select(SupportReceipt)).one().session_id == record.id
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- sshd log ---\n{world.sshd_log()}") from None
    finally:
        runtime.close()


def _now():
    from console import clock

    return clock.now()

