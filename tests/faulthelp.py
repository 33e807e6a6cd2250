"""Faults the tests inject for real: a small tmpfs that fills up, a read-only bind mount
(or, for a non-root user, a directory without write permission).

Mounting needs root. Under CI=true (where .ci/run runs as root) a mount that cannot be made
fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {why}; .ci/run runs as root so this must work")
    pytest.skip(why)


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode:
        _unavailable(f"mount {' '.join(args)} failed: {proc.stderr.strip()}")


def _umount(path: Path) -> None:
    for _ in range(50):
        if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
            return
        subprocess.run(["sync"], check=False)
        import time

        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def small_tmpfs(path: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of `size_kib` KiB mounted on `path` (created) for the block."""
    if os.geteuid() != 0:
        _unavailable("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(path))
    try:
        yield path
    finally:
        _umount(path)


def fill(directory: Path, name: str = "filler") -> Path:
    """Write a file in `directory` until the file system is full; returns it."""
    filler = directory / name
    block = b"\0" * 4096
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    # Small writes can still fit in the last partial page: take those too.
    with open(filler, "ab", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0")
    return filler


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """`path` read-only for the block: a read-only bind mount as root, chmod a-w for
    another user. Yields how ('bind' or 'chmod')."""
    if os.geteuid() == 0:
        _mount("--bind", str(path), str(path))
        try:
            proc = subprocess.run(["mount", "-o", "remount,ro,bind", str(path)],
                                  capture_output=True, text=True)
            if proc.returncode:
                _unavailable(f"remount read-only failed: {proc.stderr.strip()}")
            yield "bind"
        finally:
            _umount(path)
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        yield "chmod"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
