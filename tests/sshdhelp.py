"""A real OpenSSH sshd on 127.0.0.1 for the SSH tests: a test OS account sharing the
console like `flowpro-support` (keys from the console's AuthorizedKeysCommand, the README's
`Match User` block), root's own key for the administrator, an installation that account
owns, and the console wrapper sshd may run.

Used by test_sshd.py (the gate alone) and test_e2e_ssh.py (the console as its users meet
it, through `ssh -tt` inside tmux)."""

from __future__ import annotations

import itertools
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

from console.config import load_settings
from console.install import initialize
from console.principal import system_principal
from tests.conftest import ADMIN_PASSWORD, IN_CI

SSHD, SSH, KEYGEN = "/usr/sbin/sshd", shutil.which("ssh"), shutil.which("ssh-keygen")
ROOT = Path(__file__).resolve().parent.parent
# What the client may pass to the console through ssh (sshd's AcceptEnv): colour choice.
CLIENT_ENV = ("NO_COLOR",)
_WORLDS = itertools.count(1)


def unavailable(reason: str) -> None:
    """A missing real component skips on a developer's machine and fails under CI=true."""
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
        # Unique per world: a worker may hold two at once (a module's shared one and a test's).
        self.user = f"fpsup{os.getpid()}x{next(_WORLDS)}"[:32]
        # sshd accepts an AuthorizedKeysCommand only if it and every directory above it are
        # root-owned and not writable by others: so not under /tmp (and /run may be noexec).
        self.base = Path(tempfile.mkdtemp(prefix="flowpro-sshd-", dir="/var/lib"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.sshd: subprocess.Popen[bytes] | None = None
        self.created_user = False
        self.console: Path | None = None
        self.config: Path | None = None

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
        self.console = wrapper
        return wrapper

    def create_installation(self, console: Path, extra_config: str = "") -> Path:
        data = self.base / "data"
        config = self.base / "config.toml"
        config.write_text(f'[storage]\ndata_dir = "{data}"\n'
                          "[security]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\n"
                          "argon2_parallelism = 1\n"
                          f'[support]\nos_user = "{self.user}"\n'
                          f'console_command = "{console}"\n' + extra_config)
        config.chmod(0o644)
        initialize(load_settings(config, env={}), admin="admin", password=ADMIN_PASSWORD,
                   actor=system_principal("test"))
        self.config = config
        return config

    def give_data_to_user(self) -> None:
        run("chown", "-R", f"{self.user}:", str(self.base / "data"))

    def start_sshd(self, console: Path, config: Path, *, admin_key: str | None = None) -> None:
        """Start sshd; `admin_key` (a public key line) lets root in with it, the way an
        administrator reaches the server to run the console."""
        run(KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(self.base / "host_key"))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        admin_block = ""
        if admin_key:
            keys = self.base / "admin_authorized_keys"
            keys.write_text(admin_key)
            keys.chmod(0o600)
            admin_block = f"""
Match User root
    AuthorizedKeysFile {keys}
    PermitRootLogin prohibit-password
    AuthenticationMethods publickey
"""
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
AcceptEnv {' '.join(CLIENT_ENV)}
LogLevel VERBOSE
{admin_block}
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

    def client_key(self, name: str = "client_key",
                   comment: str = "jane@laptop") -> tuple[Path, str]:
        key = self.base / name
        run(KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key))
        return key, Path(f"{key}.pub").read_text()

    # -- use -------------------------------------------------------------------------

    def ssh_argv(self, key: Path, *extra: str, user: str | None = None) -> list[str]:
        return [SSH or "ssh", "-i", str(key), "-p", str(self.port), "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", *(f"-oSendEnv={name}" for name in CLIENT_ENV),
                *extra, f"{user or self.user}@127.0.0.1"]

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


def require_sshd() -> None:
    missing = [name for name, path in (("sshd", SSHD), ("ssh", SSH), ("ssh-keygen", KEYGEN))
               if not path or not os.access(path, os.X_OK)]
    if missing:
        unavailable(f"OpenSSH is not installed ({', '.join(missing)} missing)")
    if os.geteuid() != 0:
        unavailable("the sshd tests need root (to run sshd and create a test account)")


def sshd_world() -> Iterator[SshdWorld]:
    """For a fixture: `yield from sshd_world()`."""
    require_sshd()
    created = SshdWorld()
    try:
        yield created
    finally:
        created.close()
