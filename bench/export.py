"""Export budgets: >= 400k rows/s to JSON Lines and >= 300k rows/s to CSV unencrypted,
hashing and age encryption costing < 20 % more, peak RSS the same at 100k and 1M rows.

Seeds two demo installations (SQLite; 100k and 1M sales rows, 200 employees) and prints
one figure per line next to `sqlite3 -json` and `sqlite3 -csv` dumping the same table in
the same run. Every measurement runs in a fresh process, so its peak RSS is its own.

    .venv/bin/python bench/export.py [--rows 1000000] [--small 100000] [--keep DIR]

Figures: JSON Lines alone and CSV alone (the database writes each line, Python joins
and writes them: the export's data phase for one format); the bundle's data phase (both
formats, as a bundle has them); sealing it (SHA-256 of every file, manifest, signature,
tar) with and without age encryption; the whole bundle as rows/s; a subject export of
one of the 200 employees (encrypted).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXE = str(Path(sys.executable).parent / "flowpro-console")
TABLE = "sales_transactions"


# -- child measurements (each in its own process) ---------------------------------------------


def _runtime(config: str):
    from console.config import load_settings
    from console.runtime import open_runtime

    return open_runtime(load_settings(config))


def child_format(config: str, fmt: str, out: str) -> dict:
    """One format of the sales table to a file, as the export's data phase writes it."""
    from console.catalog import category
    from console.export.rows import TablePart

    runtime = _runtime(config)
    part = TablePart(category("sales"), formats=(fmt,))
    start = time.perf_counter()
    rows, after = 0, None
    with runtime.database.scope() as db, open(out, "wb") as fh:
        while True:
            batch = part.fetch(db, after, 50_000)
            fh.write(batch.jsonl if fmt == "jsonl" else batch.csv)
            rows, after = rows + batch.count, batch.last
            if batch.done:
                break
    return {"rows": rows, "seconds": time.perf_counter() - start}


def child_bundle(config: str, recipient: str, out_dir: str) -> dict:
    """The bundle of the sales table: data phase (both formats), then sealing it."""
    from console import clock
    from console.catalog import category
    from console.export.agecrypt import Encryption
    from console.export.bundle import BundleInfo, Staging, seal
    from console.export.rows import TablePart

    runtime = _runtime(config)
    part = TablePart(category("sales"))
    staging = Staging(Path(out_dir), f"bench-{'age' if recipient else 'tar'}")
    start = time.perf_counter()
    rows, after = 0, None
    jsonl, csv = staging.prepare(part, 0, 0)
    with runtime.database.scope() as db:
        while True:
            batch = part.fetch(db, after, 50_000)
            jsonl, csv = staging.append(part, batch)
            rows, after = rows + batch.count, batch.last
            if batch.done:
                break
    data = time.perf_counter() - start
    info = BundleInfo(name=staging.name, kind="handover", purpose="handover",
                      created_at=clock.now(), created_by="bench",
                      encryption=Encryption(recipients=(recipient,) if recipient else ()),
                      packaging="tar", parts=[part], rows={part.name: rows})
    sealed = seal(staging, info, runtime.keys)
    total = time.perf_counter() - start
    staging.remove()
    return {"rows": rows, "data_seconds": data, "seal_seconds": total - data,
            "seconds": total, "bytes": sealed.size, "jsonl": jsonl, "csv": csv}


def child_subject(config: str, recipient: str, out_dir: str) -> dict:
    from console.catalog import SubjectKind
    from console.export.service import ExportSpec, export_now
    from console.principal import system_principal

    runtime = _runtime(config)
    actor = system_principal("bench")
    with runtime.database.scope() as db:
        start = time.perf_counter()
        export = export_now(runtime, db, actor, ExportSpec(
            kind="subject", subject=(SubjectKind.EMPLOYEE, 17), recipients=(recipient,),
            output_dir=Path(out_dir)))
        seconds = time.perf_counter() - start
    return {"rows": export.rows, "seconds": seconds, "bytes": export.size_bytes}


CHILDREN = {"format": child_format, "bundle": child_bundle, "subject": child_subject}


def run_child(name: str, *args: str) -> dict:
    """Run a measurement in a fresh process; returns its figures plus its peak RSS (MB)."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", name, *args],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {name} failed ({proc.returncode})")
    figures = json.loads(output)
    figures["rss_mb"] = usage.ru_maxrss / 1024
    return figures


def reference(db_path: Path, mode: str, out: Path) -> dict:
    """`sqlite3 -json|-csv` dumping the same table, with its peak RSS."""
    start = time.perf_counter()
    with open(out, "wb") as fh:
        proc = subprocess.Popen(["sqlite3", f"-{mode}", str(db_path),
                                 f"SELECT * FROM {TABLE}"], stdout=fh)
        _pid, _status, usage = os.wait4(proc.pid, 0)
    return {"seconds": time.perf_counter() - start, "rss_mb": usage.ru_maxrss / 1024}


# -- set-up -----------------------------------------------------------------------------------


def make_installation(where: Path, sales: int) -> Path:
    subprocess.run([EXE, "demo", "--seed-only", "--data-dir", str(where), "--employees",
                    "200", "--customers", "2000", "--sales", str(sales), "--seed", "5"],
                   check=True, capture_output=True)
    return where / "config.toml"


def recipient_key(where: Path) -> str:
    key = where / "bench-key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    return next(line.split(": ")[1] for line in key.read_text().splitlines()
                if line.startswith("# public key: "))


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Keep the installations in this directory "
                        "(made once, reused when present)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, *rest = args.child
        print(json.dumps(CHILDREN[name](*rest)))
        return
    for tool in ("sqlite3", "age-keygen"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (apt-get install sqlite3 age)")
    base = args.keep or Path(tempfile.mkdtemp(prefix="flowpro-bench-export-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        bench(base, args.rows, args.small)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


def bench(base: Path, rows_big: int, rows_small: int) -> None:
    installs = {}
    for label, rows in (("small", rows_small), ("big", rows_big)):
        where = base / f"{label}-{rows}"
        config = where / "config.toml"
        if not config.exists():
            print(f"# seeding {rows:,} sales rows (200 employees) in {where} ...", flush=True)
            make_installation(where, rows)
        installs[label] = (config, where / "console.db", rows)
    recipient = recipient_key(base)
    out = base / "out"
    out.mkdir(exist_ok=True)
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; SQLite; "
          f"table {TABLE}")
    results = {}
    for label, (config, db_path, rows) in installs.items():
        ref_json = reference(db_path, "json", out / "ref.json")
        ref_csv = reference(db_path, "csv", out / "ref.csv")
        jsonl = run_child("format", str(config), "jsonl", str(out / "sales.jsonl"))
        csv = run_child("format", str(config), "csv", str(out / "sales.csv"))
        plain = run_child("bundle", str(config), "", str(out))
        sealed = run_child("bundle", str(config), recipient, str(out))
        results[label] = (plain, sealed)
        n = f"{rows:,}"
        print(f"sqlite3 -json, {n} rows: {rate(rows, ref_json['seconds'])} "
              f"(reference), peak RSS {ref_json['rss_mb']:.0f} MB")
        print(f"sqlite3 -csv, {n} rows: {rate(rows, ref_csv['seconds'])} (reference), "
              f"peak RSS {ref_csv['rss_mb']:.0f} MB")
        print(f"export JSON Lines, {n} rows: {rate(jsonl['rows'], jsonl['seconds'])} "
              f"(budget >= 400,000; sqlite3 -json {rate(rows, ref_json['seconds'])})")
        print(f"export CSV, {n} rows: {rate(csv['rows'], csv['seconds'])} "
              f"(budget >= 300,000; sqlite3 -csv {rate(rows, ref_csv['seconds'])})")
        print(f"bundle data phase (JSON Lines + CSV), {n} rows: "
              f"{rate(plain['rows'], plain['data_seconds'])}")
        for name, fig in (("SHA-256 + tar", plain), ("SHA-256 + tar + age", sealed)):
            extra = fig["seal_seconds"] / fig["data_seconds"] * 100
            print(f"bundle sealed ({name}), {n} rows: {rate(fig['rows'], fig['seconds'])} "
                  f"overall; sealing adds {extra:.0f} % to the data phase (budget < 20 %); "
                  f"{fig['bytes']:,} bytes; peak RSS {fig['rss_mb']:.0f} MB")
    small, big = results["small"][1], results["big"][1]
    print(f"peak RSS of the encrypted bundle: {small['rss_mb']:.0f} MB at {rows_small:,} rows, "
          f"{big['rss_mb']:.0f} MB at {rows_big:,} rows (budget: the same)")
    subject = run_child("subject", str(installs["big"][0]), recipient, str(out))
    print(f"subject export (1 of 200 employees, all categories, age), {rows_big:,}-row "
          f"sales table: {subject['rows']:,} rows in {subject['seconds']:.2f} s "
          f"({rate(subject['rows'], subject['seconds'])}), peak RSS "
          f"{subject['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
