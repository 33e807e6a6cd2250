"""`export verify`: check a bundle (a directory, a `.tar` or a `.tar.age`) without
unpacking it: the manifest's signature, every checksum (the manifest's and SHA256SUMS),
every row count, and that no file is missing or extra. Reads the bundle once, streaming
(an encrypted one is decrypted on the fly), so memory stays flat whatever its size."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from console.export.agecrypt import DecryptFailed, decrypt_stream, is_age, read_header
from console.export.bundle import BACKUP_FORMAT, FORMAT, FileFigures, data_rows
from console.export.tarstream import MemberSink, TarError, TarScanner
from console.keys import KeyStore

SMALL = {"manifest.json", "manifest.sig", "signing-key.pub", "SHA256SUMS", "README.txt"}
SMALL_LIMIT = 8 << 20


@dataclass
class VerifyReport:
    path: str
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    form: str = ""  # directory | tar | tar.age
    manifest: dict[str, Any] | None = None
    key_id: str = ""
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        head = f"{self.path}: " + ("OK" if self.ok else "FAILED")
        out = [head]
        if self.manifest and self.manifest.get("format") == BACKUP_FORMAT:
            m = self.manifest
            out.append(f"  backup {m.get('backup')} of the {m.get('backend')} database, made "
                       f"{m.get('created_at')} by {m.get('created_by')}")
        elif self.manifest:
            m = self.manifest
            out.append(f"  bundle {m.get('bundle')}: {m.get('kind')} export for "
                       f"{m.get('purpose')}, made {m.get('created_at')} by {m.get('created_by')}")
        if self.key_id:
            out.append(f"  signed by key {self.key_id}")
        for name, rows in self.rows.items():
            out.append(f"  {name}: {rows:,} rows")
        out += [f"  problem: {p}" for p in self.problems]
        return out


class _Collected(MemberSink):
    def __init__(self, name: str, copy_to: Path | None = None) -> None:
        self.name = name
        self.figures = FileFigures(csv=name.endswith(".csv"))
        self.keep = name in SMALL
        self.buffer = bytearray()
        self.too_big = False
        self.copy = None
        if copy_to is not None:
            fd = os.open(copy_to, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self.copy = os.fdopen(fd, "wb")

    def end(self) -> None:
        if self.copy is not None:
            self.copy.flush()
            os.fsync(self.copy.fileno())
            self.copy.close()
            self.copy = None

    def data(self, chunk: bytes) -> None:
        self.figures.data(chunk)
        if self.copy is not None:
            self.copy.write(chunk)
        if self.keep:
            if len(self.buffer) + len(chunk) > SMALL_LIMIT:
                self.too_big, self.keep = True, False
                self.buffer.clear()
            else:
                self.buffer += chunk


class _Collector:
    def __init__(self, extract: dict[str, Path] | None = None) -> None:
        self.members: dict[str, _Collected] = {}
        self.duplicates: list[str] = []
        self.extract = extract or {}

    def open(self, name: str, size: int) -> MemberSink:
        if name in self.members:
            self.duplicates.append(name)
        member = _Collected(name, self.extract.get(name))
        self.members[name] = member
        return member


def verify_bundle(path: Path, *, identities: list[object] | None = None,
                  passphrase: str | None = None, keys: KeyStore | None = None,
                  extract: dict[str, Path] | None = None) -> VerifyReport:
    """Verify the bundle (or backup) at `path`; `keys` (this installation's) also checks
    who signed it; `extract` copies the named members to files as they stream past (a
    restore uses what it verified, never a second read). Never raises for a bad bundle:
    every problem found is in the report."""
    report = VerifyReport(str(path))
    if path.name.endswith(".partial"):
        report.problems.append("this is an unfinished bundle (.partial): it was never "
                               "completed; resume its job or export again")
        return report
    collector = _Collector(extract)
    try:
        if path.is_dir():
            report.form = "directory"
            _read_directory(path, collector)
        elif not path.is_file():
            report.problems.append("no such file or directory")
            return report
        elif is_age(path):
            report.form = "tar.age"
            if passphrase is None and read_header(path).is_passphrase and not identities:
                report.problems.append("the bundle is encrypted with a passphrase: pass "
                                       "--passphrase-stdin")
                return report
            scanner = TarScanner(collector.open)
            with open(path, "rb") as fh:
                decrypt_stream(fh, scanner, identities=identities or (), passphrase=passphrase)
            scanner.close()
        else:
            report.form = "tar"
            scanner = TarScanner(collector.open)
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    scanner.feed(chunk)
            scanner.close()
    except DecryptFailed as exc:
        report.problems.append(f"cannot decrypt: {exc.message}")
        return report
    except TarError as exc:
        report.problems.append(f"the archive is damaged: {exc}")
        return report
    except OSError as exc:
        report.problems.append(f"cannot read it: {exc.strerror or exc}")
        return report
    _check(report, collector, keys)
    report.ok = not report.problems
    return report


def _read_directory(root: Path, collector: _Collector) -> None:
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        sink = collector.open(file.relative_to(root).as_posix(), file.stat().st_size)
        with open(file, "rb") as fh:
            while chunk := fh.read(1 << 20):
                sink.data(chunk)


def _check(report: VerifyReport, collector: _Collector, keys: KeyStore | None) -> None:
    members = collector.members
    problems = report.problems
    report.files = len(members)
    for name in collector.duplicates:
        problems.append(f"{name} appears twice in the archive")
    for name in ("manifest.json", "manifest.sig", "signing-key.pub", "SHA256SUMS"):
        if name not in members:
            problems.append(f"{name} is missing")
        elif members[name].too_big:
            problems.append(f"{name} is far too large to be genuine")
    manifest_member = members.get("manifest.json")
    manifest_bytes = bytes(manifest_member.buffer) if manifest_member else b""
    manifest: dict[str, Any] | None = None
    if manifest_member and not manifest_member.too_big:
        try:
            loaded = orjson.loads(manifest_bytes)
            manifest = loaded if isinstance(loaded, dict) else None
        except orjson.JSONDecodeError:
            manifest = None
        if manifest is None or manifest.get("format") not in (FORMAT, BACKUP_FORMAT):
            problems.append("manifest.json is not a FlowPro export manifest (unreadable or "
                            "another format)")
            manifest = None
    report.manifest = manifest
    _check_signature(report, members, manifest_bytes, manifest, keys)
    listed = _check_sums(report, members)
    if manifest is None:
        return
    mentioned = {"manifest.json", "manifest.sig", "SHA256SUMS"}
    for name, expected in (manifest.get("files") or {}).items():
        mentioned.add(name)
        _compare(problems, members, name, expected, "the manifest")
    for category in manifest.get("categories") or []:
        name = str(category.get("name"))
        rows = category.get("rows")
        report.rows[name] = rows if isinstance(rows, int) else -1
        for kind, expected in (category.get("files") or {}).items():
            file_name = str(expected.get("path"))
            mentioned.add(file_name)
            member = _compare(problems, members, file_name, expected, "the manifest")
            if member is None:
                continue
            found = data_rows(member.figures)
            if found != rows:
                problems.append(f"{file_name} holds {found:,} rows but the manifest says "
                                f"{rows:,} ({kind})")
    for name in sorted(set(members) - mentioned - listed):
        problems.append(f"{name} is not part of the bundle (neither the manifest nor "
                        "SHA256SUMS lists it)")


def _compare(problems: list[str], members: dict[str, _Collected], name: str,
             expected: dict[str, Any], where: str) -> _Collected | None:
    member = members.get(name)
    if member is None:
        problems.append(f"{name} is missing ({where} lists it)")
        return None
    if member.figures.hexdigest != expected.get("sha256"):
        problems.append(f"{name} was changed: its SHA-256 is {member.figures.hexdigest[:16]}… "
                        f"but {where} says {str(expected.get('sha256'))[:16]}…")
    elif "bytes" in expected and member.figures.size != expected["bytes"]:
        problems.append(f"{name} is {member.figures.size:,} bytes but {where} says "
                        f"{expected['bytes']:,}")
    return member


def _check_signature(report: VerifyReport, members: dict[str, _Collected], manifest: bytes,
                     parsed: dict[str, Any] | None, keys: KeyStore | None) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from console.keys import verify_signature

    sig_member, key_member = members.get("manifest.sig"), members.get("signing-key.pub")
    if not (sig_member and key_member and "manifest.json" in members):
        return
    try:
        public = serialization.load_pem_public_key(bytes(key_member.buffer))
    except ValueError:
        report.problems.append("signing-key.pub is not a PEM public key")
        return
    if not isinstance(public, Ed25519PublicKey):
        report.problems.append("signing-key.pub is not an Ed25519 key")
        return
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    report.key_id = hashlib.sha256(raw).hexdigest()[:16]
    if not verify_signature(public, bytes(sig_member.buffer), manifest):
        report.problems.append("the signature does not match manifest.json: the manifest "
                               "(or manifest.sig) was changed after signing")
    if parsed is not None and parsed.get("signing_key_id") != report.key_id:
        report.problems.append(f"the manifest names signing key {parsed.get('signing_key_id')}"
                               f" but signing-key.pub is key {report.key_id}")
    if keys is not None and keys.key_id != report.key_id:
        report.problems.append(f"signed by key {report.key_id}, not by this installation's "
                               f"key {keys.key_id}: the bundle was re-signed or comes from "
                               "another console")


def _check_sums(report: VerifyReport, members: dict[str, _Collected]) -> set[str]:
    sums = members.get("SHA256SUMS")
    listed: set[str] = set()
    if sums is None or sums.too_big:
        return listed
    for number, line in enumerate(bytes(sums.buffer).decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep:
            digest, sep, name = line.partition(" *")
        if not sep or len(digest) != 64:
            report.problems.append(f"SHA256SUMS line {number} is malformed")
            continue
        listed.add(name)
        _compare(report.problems, members, name, {"sha256": digest}, "SHA256SUMS")
    for name in members:
        if name != "SHA256SUMS" and name not in listed and name in SMALL | {"manifest.json"}:
            report.problems.append(f"SHA256SUMS does not list {name}")
    return listed
