"""Running the real `flowpro-console` entry point in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
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
            env: dict[str, str] | None = None, timeout: float = 120) -> Result:
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
