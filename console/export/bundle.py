"""Writing a bundle: a `.partial` staging directory filled a batch at a time, then sealed
into one `.tar` (or `.tar.age`, or a directory), verified on the way, and renamed into
place only when complete.

Layout (inside the archive, under one top directory named after the bundle):

    README.txt         what each file is, and the commands that check and read them
    signing-key.pub    the console's Ed25519 public key (PEM)
    data/<c>.jsonl     one JSON object per line, per category
    data/<c>.csv       the same rows as CSV (header row, RFC 4180)
    manifest.json      what, who, when, why, for whom; per category its files, row count,
                       columns and types, and every file's SHA-256
    manifest.sig       Ed25519 signature of manifest.json (64 raw bytes)
    SHA256SUMS         `sha256sum -c` format, every other file

Sealing reads each staged file once: it is hashed and its rows counted as it streams into
the archive, and a count that differs from what was written fails the run (resumable)
instead of producing a bundle that lies. The manifest is built from those figures, signed,
the signature checked, and only then is the finished file renamed from `.partial`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from console.export import readme
from console.export.agecrypt import Encryption, encrypt_stream
from console.export.rows import Batch, Part
from console.export.tarstream import Member, buffered, tar_chunks
from console.keys import KeyStore, verify_signature

FORMAT = "flowpro-export"
BACKUP_FORMAT = "flowpro-backup"
FORMAT_VERSION = 1
SUFFIXES = {"tar": ".tar", "tar.age": ".tar.age", "directory": ""}


class Stopped(Exception):
    """Sealing was asked to stop (cancel, shutdown); nothing finished was left behind."""


class StagedCountMismatch(Exception):
    """A staged file does not hold the rows that were written into it."""


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _open_private(path: Path, mode: str) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if "w" in mode else 0), 0o600)
    return os.fdopen(fd, mode)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- staging --------------------------------------------------------------------------------


class Staging:
    """The `<name>.partial/` directory a bundle is written into (mode 0700)."""

    def __init__(self, output_dir: Path, name: str) -> None:
        self.output_dir = output_dir
        self.name = name
        self.root = output_dir / f"{name}.partial"

    def files(self, part: Part) -> tuple[Path, Path]:
        data = self.root / "data"
        return data / f"{part.name}.jsonl", data / f"{part.name}.csv"

    def prepare(self, part: Part, jsonl_bytes: int, csv_bytes: int) -> tuple[int, int]:
        """Make the part's files hold exactly what the checkpoint says (a crash may have
        left more); start them afresh when they hold less (or nothing). Returns the sizes."""
        private_dir(self.root)  # 0700 both: the staged data is in the clear
        private_dir(self.root / "data")
        jsonl, csv = self.files(part)
        fresh = jsonl_bytes == 0 or not (jsonl.exists() and csv.exists()) or \
            jsonl.stat().st_size < jsonl_bytes or csv.stat().st_size < csv_bytes
        if fresh:
            header = part.csv_header()
            with _open_private(jsonl, "wb"):
                pass
            with _open_private(csv, "wb") as fh:
                fh.write(header)
            return 0, len(header)
        for path, size in ((jsonl, jsonl_bytes), (csv, csv_bytes)):
            with open(path, "r+b") as fh:
                fh.truncate(size)
        return jsonl_bytes, csv_bytes

    def append(self, part: Part, batch: Batch) -> tuple[int, int]:
        jsonl, csv = self.files(part)
        sizes = []
        for path, data in ((jsonl, batch.jsonl), (csv, batch.csv)):
            with open(path, "ab") as fh:
                fh.write(data)
                sizes.append(fh.tell())
        return sizes[0], sizes[1]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- counting and hashing ---------------------------------------------------------------------


_NOT_QUOTE_OR_BREAK = bytes(b for b in range(256) if b not in b'"\n')


@dataclass
class FileFigures:
    """SHA-256, size and record count of one file, fed as it streams."""

    csv: bool = False
    sha: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    newlines: int = 0
    _in_quotes: bool = False

    def data(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.size += len(chunk)
        if not self.csv:
            self.newlines += chunk.count(b"\n")
            return
        # A CSV record ends at a line break outside quotes. Only quotes and line breaks
        # matter, so keep just those (in C, not per field in Python), drop adjacent quote
        # pairs (two toggles with no break between change nothing), then keep the text
        # outside quotes (every other piece between quote characters) and count breaks.
        pieces = chunk.translate(None, _NOT_QUOTE_OR_BREAK).replace(b'""', b"").split(b'"')
        start = 1 if self._in_quotes else 0
        self.newlines += b"".join(pieces[start::2]).count(b"\n")
        if len(pieces) % 2 == 0:
            self._in_quotes = not self._in_quotes

    def end(self) -> None:
        pass

    @property
    def hexdigest(self) -> str:
        return self.sha.hexdigest()

    @property
    def records(self) -> int:
        return self.newlines


def data_rows(figures: FileFigures) -> int:
    """Rows of data in a staged file (a CSV's header row is not one)."""
    return figures.records - 1 if figures.csv else figures.records


# -- the manifest ----------------------------------------------------------------------------


@dataclass
class BundleInfo:
    """Everything the manifest says that is not measured from the files."""

    name: str
    kind: str
    purpose: str
    created_at: datetime
    created_by: str
    encryption: Encryption
    packaging: str  # tar | directory
    parts: list[Part]
    rows: dict[str, int]
    export_id: int | None = None
    reference: str = ""
    disclosed_to: str = ""
    subject: dict[str, Any] | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    masked: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def suffix(self) -> str:
        if self.packaging == "directory":
            return ""
        return ".tar.age" if self.encryption.protection.value != "none" else ".tar"

    @property
    def final_name(self) -> str:
        return self.name + self.suffix


def _utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_manifest(info: BundleInfo, keys: KeyStore, figures: dict[str, FileFigures],
                   extras: dict[str, FileFigures]) -> bytes:
    categories = []
    for part in info.parts:
        jsonl, csv = figures[f"data/{part.name}.jsonl"], figures[f"data/{part.name}.csv"]
        entry: dict[str, Any] = {
            "name": part.name, "title": part.title, "rows": info.rows.get(part.name, 0),
            "columns": [c.describe() for c in part.columns],
            "files": {
                "jsonl": {"path": f"data/{part.name}.jsonl", "sha256": jsonl.hexdigest,
                          "bytes": jsonl.size},
                "csv": {"path": f"data/{part.name}.csv", "sha256": csv.hexdigest,
                        "bytes": csv.size, "header_row": True}}}
        if part.notes:
            entry["notes"] = list(part.notes)
        categories.append(entry)
    encryption = info.encryption
    document: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "bundle": info.name,
        "export_id": info.export_id, "kind": info.kind, "purpose": info.purpose,
        "reference": info.reference, "disclosed_to": info.disclosed_to,
        "created_at": _utc(info.created_at), "created_by": info.created_by,
        "signing_key_id": keys.key_id,
        "encryption": {"protection": encryption.protection.value,
                       "recipients": list(encryption.recipients)},
        "subject": info.subject, "filters": info.filters, "masked": info.masked,
        "total_rows": sum(info.rows.get(p.name, 0) for p in info.parts),
        "categories": categories,
        "files": {name: {"sha256": f.hexdigest, "bytes": f.size}
                  for name, f in extras.items()},
        "notes": list(info.notes),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def sums_file(entries: dict[str, str]) -> bytes:
    return "".join(f"{digest}  {name}\n" for name, digest in entries.items()).encode()


# -- sealing ----------------------------------------------------------------------------------


@dataclass
class Sealed:
    path: Path
    manifest_sha256: str
    size: int
    rows: int


def seal(staging: Staging, info: BundleInfo, keys: KeyStore, *,
         should_stop: Callable[[], bool] = lambda: False) -> Sealed:
    """Pack, verify and place the bundle. Raises StagedCountMismatch (resumable: the data
    is written again) or Stopped; never leaves a finished-looking file on failure."""
    readme_bytes = readme.text(info).encode()
    public = keys.public_key_pem()
    extras = {"README.txt": FileFigures(), "signing-key.pub": FileFigures()}
    figures: dict[str, FileFigures] = {}
    data_members: list[Member] = []
    for part in info.parts:
        jsonl, csv = staging.files(part)
        for path, is_csv in ((jsonl, False), (csv, True)):
            name = f"data/{path.name}"
            figures[name] = FileFigures(csv=is_csv)
            data_members.append(Member(name, path=path))
    manifest_box: dict[str, bytes] = {}

    def finish() -> list[Member]:
        _check_counts(info, figures)
        manifest = build_manifest(info, keys, figures, extras)
        signature = keys.sign(manifest)
        if not verify_signature(keys.public_key(), signature, manifest):
            raise RuntimeError("the manifest signature does not verify with this key")
        manifest_box["manifest"] = manifest
        sums = {name: f.hexdigest for name, f in {**extras, **figures}.items()}
        sums["manifest.json"] = hashlib.sha256(manifest).hexdigest()
        sums["manifest.sig"] = hashlib.sha256(signature).hexdigest()
        return [Member("manifest.json", data=manifest), Member("manifest.sig", data=signature),
                Member("SHA256SUMS", data=sums_file(sums))]

    if info.packaging == "directory":
        return _seal_directory(staging, info, readme_bytes, public, extras, figures,
                               data_members, finish, manifest_box, should_stop)

    def members() -> Iterator[Member]:
        yield Member("README.txt", data=readme_bytes)
        yield Member("signing-key.pub", data=public)
        yield from data_members
        yield from finish()

    def feed(member: Member, chunk: bytes) -> None:
        target = extras.get(member.name) or figures.get(member.name)
        if target is not None:
            target.data(chunk)

    def chunks() -> Iterator[bytes]:
        mtime = int(info.created_at.timestamp())
        for chunk in tar_chunks(info.name, members(), mtime, on_data=feed):
            if should_stop():
                raise Stopped()
            yield chunk

    final = staging.output_dir / info.final_name
    partial = staging.output_dir / f"{info.final_name}.partial"
    try:
        with _open_private(partial, "wb") as out:
            if info.encryption.protection.value == "none":
                for chunk in chunks():
                    out.write(chunk)
            else:
                encrypt_stream(buffered(chunks()), out, info.encryption)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    fsync_dir(staging.output_dir)
    manifest = manifest_box["manifest"]
    return Sealed(final, hashlib.sha256(manifest).hexdigest(), final.stat().st_size,
                  sum(info.rows.values()))


def _check_counts(info: BundleInfo, figures: dict[str, FileFigures]) -> None:
    for part in info.parts:
        expected = info.rows.get(part.name, 0)
        for suffix in ("jsonl", "csv"):
            found = data_rows(figures[f"data/{part.name}.{suffix}"])
            if found != expected:
                raise StagedCountMismatch(
                    f"data/{part.name}.{suffix} holds {found} rows but {expected} were "
                    "written into it")


def _seal_directory(staging: Staging, info: BundleInfo, readme_bytes: bytes, public: bytes,
                    extras: dict[str, FileFigures], figures: dict[str, FileFigures],
                    data_members: list[Member], finish: Callable[[], list[Member]],
                    box: dict[str, bytes], should_stop: Callable[[], bool]) -> Sealed:
    root = staging.root
    final = staging.output_dir / info.final_name
    if not root.exists() and final.exists():
        # Killed after the rename below but before the run recorded it: take the directory
        # back and seal it again, checking every file as the first time.
        os.replace(final, root)
    for name, data in (("README.txt", readme_bytes), ("signing-key.pub", public)):
        with _open_private(root / name, "wb") as fh:
            fh.write(data)
        extras[name].data(data)
    for member in data_members:
        assert member.path is not None
        with open(member.path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                if should_stop():
                    raise Stopped()
                figures[member.name].data(chunk)
            os.fsync(fh.fileno())
    for member in finish():
        assert member.data is not None
        with _open_private(root / member.name, "wb") as fh:
            fh.write(member.data)
            fh.flush()
            os.fsync(fh.fileno())
    if final.exists():  # a leftover under the finished name is never this run's bundle
        shutil.rmtree(final)
    os.replace(root, final)
    fsync_dir(staging.output_dir)
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    return Sealed(final, hashlib.sha256(box["manifest"]).hexdigest(), size,
                  sum(info.rows.values()))
