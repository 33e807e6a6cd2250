"""Running the `flowpro-console` entry point: in this process by default (the same
`console.cli.main` the installed script calls, without paying Python's start-up and imports
for every command), or as the real installed script in a subprocess (`subprocess=True`)."""

from __future__ import annotations

import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


def entry_point() -> list[str]:
    exe = Path(sys.executable).parent / "flowpro-console"
    return [str(exe)] if exe.exists() else [shutil.which("flowpro-console") or "flowpro-console"]


def run_cli(*args: str, config: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120,
            subprocess: bool = False) -> Result:
    if not subprocess:
        return _run_here([*(["--config", str(config)] if config else []), *args],
                         input=input, env=env)
    return _run_process(*args, config=config, input=input, env=env, timeout=timeout)


class _Text(io.StringIO):
    """A captured text stream that, like a pipe, is not a terminal."""

    def isatty(self) -> bool:
        return False


def _run_here(argv: list[str], *, input: str | None, env: dict[str, str] | None) -> Result:
    from console.cli import main

    saved_env = dict(os.environ)
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = _Text(), _Text()
    sys.stdin, sys.stdout, sys.stderr = _Text(input or ""), out, err
    for key in [k for k in os.environ if k.startswith(("FLOWPRO_", "SSH_"))]:
        del os.environ[key]
    os.environ.update(env or {})
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        os.environ.clear()
        os.environ.update(saved_env)
    return Result(code, out.getvalue(), err.getvalue())


def _run_process(*args: str, config: Path | None, input: str | None,
                 env: dict[str, str] | None, timeout: float) -> Result:
    import subprocess

    argv = [*entry_point(), *(["--config", str(config)] if config else []), *args]
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("FLOWPRO_", "SSH_"))}
    full_env.update(env or {})
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_config(installation, path: Path, *security: str, extra: str = "") -> Path:
    """A config file for an `installation` fixture's settings; `security` adds lines to
    [security], `extra` appends whole sections."""
    lines = ["[storage]", f'data_dir = "{installation.data_dir}"', "[security]",
             "argon2_time_cost = 1", "argon2_memory_kib = 8192", "argon2_parallelism = 1",
             *security]
    if installation.database.url:
        lines += ["[database]", f'url = "{installation.database.url}"']
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path
