"""Start-up budgets: `flowpro-console --help` < 0.3 s, login screen painted < 0.8 s; and
the exit when the terminal goes away (SIGHUP of a logged-in console) < 2 s.

Prints one figure per line next to a reference measured in the same run on the same
machine: the time Python takes to `import textual.app` (DESIGN.md: ~0.3 s here).

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ptyhelp import PtyProcess  # noqa: E402

EXE = str(Path(sys.executable).parent / "flowpro-console")


def timed(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def login_painted(config: Path, runs: int) -> float:
    samples = []
    env = {**os.environ, "TERM": "xterm-256color"}
    for _ in range(runs):
        start = time.perf_counter()
        console = PtyProcess([EXE, "--config", str(config)], env)
        console.wait_for("Username", timeout=30)
        samples.append(time.perf_counter() - start)
        console.kill()
    return statistics.median(samples)


def exit_on_hangup(config: Path, runs: int) -> float:
    """Seconds from SIGHUP to the exit of a logged-in console (logout recorded first)."""
    from console.demo import DEMO_ADMIN, DEMO_PASSWORD

    samples = []
    env = {**os.environ, "TERM": "xterm-256color"}
    for _ in range(runs):
        console = PtyProcess([EXE, "--config", str(config)], env)
        console.wait_for("Username", timeout=30)
        console.send(DEMO_ADMIN + "\r")
        time.sleep(0.5)
        console.send(DEMO_PASSWORD + "\r")
        console.wait_for("Data under governance", timeout=60)
        start = time.perf_counter()
        os.kill(console.proc.pid, 1)
        console.proc.wait()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    reference = timed([sys.executable, "-c", "import textual.app"], args.runs)
    bare = timed([sys.executable, "-c", "pass"], args.runs)
    help_time = timed([EXE, "--help"], args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([EXE, "demo", "--seed-only", "--data-dir", f"{tmp}/demo",
                        "--employees", "5", "--customers", "5", "--sales", "10"],
                       capture_output=True, check=True)
        login = login_painted(Path(tmp) / "demo" / "config.toml", max(3, args.runs // 2))
        hangup = exit_on_hangup(Path(tmp) / "demo" / "config.toml", 3)
    print(f"reference: python -c 'import textual.app'   {reference:.3f} s (bare python {bare:.3f} s)")
    print(f"flowpro-console --help                   {help_time:.3f} s  budget < 0.300 s  "
          f"{'OK' if help_time < 0.3 else 'OVER'}")
    print(f"login screen painted (pty)               {login:.3f} s  budget < 0.800 s  "
          f"{'OK' if login < 0.8 else 'OVER'}")
    print(f"exit after the terminal hangs up          {hangup:.3f} s  budget < 2.000 s  "
          f"{'OK' if hangup < 2.0 else 'OVER'}")


if __name__ == "__main__":
    main()
