"""How fast the SSH gate answers sshd (`flowpro-console ssh authorized-keys`).

sshd runs it on every connection attempt to the support account. Prints the median of
N runs next to references measured on the same machine in the same run: the same query
through the sqlite3 CLI, a bare Python start, and `flowpro-console --help`.

    .venv/bin/python bench/ssh_gate.py [--runs 20] [--engineers 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_SECONDS = 0.25


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def setup(base: Path, engineers: int) -> tuple[Path, Path]:
    from console.config import load_settings
    from console.install import initialize
    from console.principal import system_principal
    from console.runtime import open_runtime
    from console.sshkeys import add_key
    from console.support import create_grant
    from console.users import AccountKind, create_user

    config = base / "config.toml"
    config.write_text(f'[storage]\ndata_dir = "{base / "data"}"\n[security]\n'
                      "argon2_time_cost = 1\nargon2_memory_kib = 8192\nargon2_parallelism = 1\n")
    settings = load_settings(config, env={})
    password = "Correct-Horse-Battery-77"
    initialize(settings, admin="admin", password=password, actor=system_principal("bench"))
    runtime = open_runtime(settings)
    actor = system_principal("bench")
    with runtime.database.scope() as db:
        for i in range(engineers):
            name = f"fp-eng{i}"
            create_user(db, actor, name, security=settings.security, password=password,
                        kind=AccountKind.VENDOR, roles=("support",))
            for k in range(2):
                key = base / f"{name}-{k}"
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                               check=True)
                add_key(db, actor, name, Path(f"{key}.pub").read_text())
            if i % 2 == 0:  # half of them hold an active grant
                create_grant(db, actor, settings=settings.support, engineer=name,
                             scope="logs.read", reason="benchmark", ticket="FP-1")
    runtime.close()
    return config, base / "data" / "console.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--engineers", type=int, default=5)
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "flowpro-console")
    with tempfile.TemporaryDirectory() as tmp:
        config, db = setup(Path(tmp), args.engineers)
        gate = [exe, "--config", str(config), "ssh", "authorized-keys", "flowpro-support"]
        lines = subprocess.run(gate, check=True, capture_output=True, text=True).stdout
        from console.sshgate import _QUERY

        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        query = _QUERY.format(p=f"'{now}'")
        sqlite = shutil.which("sqlite3")
        figures = [("ssh authorized-keys "
                    f"({args.engineers} engineers, {lines.count(chr(10))} key lines)",
                    median_seconds(gate, args.runs))]
        if sqlite:
            figures.append(("reference: the same query via the sqlite3 CLI",
                            median_seconds([sqlite, str(db), query], args.runs)))
        figures.append(("reference: bare python start",
                        median_seconds([sys.executable, "-c", "pass"], args.runs)))
        figures.append(("reference: flowpro-console --help",
                        median_seconds([exe, "--help"], args.runs)))
    for label, seconds in figures:
        print(f"{label:<62} {seconds * 1000:8.1f} ms")
    verdict = "within" if figures[0][1] < BUDGET_SECONDS else "OVER"
    print(f"{'budget for the gate':<62} {BUDGET_SECONDS * 1000:8.1f} ms ({verdict})")


if __name__ == "__main__":
    main()
