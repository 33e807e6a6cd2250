"""Shared set-up for export, backup and request tests: data, real tools, unpacking."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from console import clock
from console.demo import DemoPlan, Seeder
from tests.conftest import IN_CI

SMALL = DemoPlan(employees=6, customers=12, sales=400, years=1, seed=11)
ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])


def need(*tools: str) -> None:
    """The real tools a test checks bundles with: missing fails under CI, else skips."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (.ci/run installs them)"
    if IN_CI:
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def seed(runtime, plan: DemoPlan = SMALL) -> None:
    Seeder(plan, clock.now().date() if clock.now() else date.today(), None).run(
        runtime.database.engine)


def keypair(tmp_path: Path, name: str = "key") -> tuple[Path, str]:
    """An age identity made by the real age-keygen, and its recipient."""
    need("age-keygen")
    path = tmp_path / f"{name}.txt"
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in path.read_text().splitlines()
                     if line.startswith("# public key: "))
    return path, recipient


def run(*argv: str, cwd: Path | None = None, input: bytes | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(argv), cwd=cwd, input=input, capture_output=True, timeout=120)


def unpack(bundle: Path, into: Path, identity: Path | None = None) -> Path:
    """Decrypt (the real `age`) and untar (the real `tar`); returns the bundle directory."""
    into.mkdir(parents=True, exist_ok=True)
    tar = bundle
    if bundle.name.endswith(".age"):
        need("age")
        assert identity is not None
        tar = into / bundle.name.removesuffix(".age")
        done = run("age", "-d", "-i", str(identity), "-o", str(tar), str(bundle))
        assert done.returncode == 0, done.stderr.decode()
    done = run("tar", "-xf", str(tar), "-C", str(into))
    assert done.returncode == 0, done.stderr.decode()
    name = bundle.name.split(".tar")[0]
    return into / name


def jsonl(directory: Path, category: str) -> list[dict]:
    text = (directory / "data" / f"{category}.jsonl").read_text(encoding="utf-8")
    # Lines end at "\n" only: str.splitlines() would also split at U+2028 inside a value.
    return [json.loads(line) for line in text.split("\n") if line]


def manifest(directory: Path) -> dict:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
