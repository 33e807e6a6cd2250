"""Tar archives as streams: written from files without building the archive anywhere, and
read as bytes arrive (from disk or out of an age decryption) without extracting it.

The writer makes plain POSIX ustar members (what `tar -xf` and every archiver read), all
under one top directory so that extracting never scatters files. The scanner reads ustar,
GNU and PAX archives (a bundle re-packed by another tool still verifies).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = 512
RECORD = 20 * BLOCK
READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Member:
    name: str  # path inside the archive, below the top directory
    path: Path | None = None  # a file to copy ...
    data: bytes | None = None  # ... or its content

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size


def _header(name: str, size: int, mtime: int, *, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = mtime
    info.mode = 0o700 if directory else 0o600
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="utf-8", errors="strict")


def tar_chunks(top: str, members: Iterable[Member], mtime: int,
               on_data: Callable[[Member, bytes], None] | None = None) -> Iterator[bytes]:
    """The archive's bytes, in pieces of at most ~1 MiB. `on_data(member, chunk)` sees every
    piece of member content as it goes out (for hashing and counting)."""
    written = 0
    directories: set[str] = set()

    def emit(chunk: bytes) -> bytes:
        nonlocal written
        written += len(chunk)
        return chunk

    yield emit(_header(f"{top}/", 0, mtime, directory=True))
    for member in members:
        parent = member.name.rpartition("/")[0]
        if parent and parent not in directories:
            directories.add(parent)
            yield emit(_header(f"{top}/{parent}/", 0, mtime, directory=True))
        size = member.size
        yield emit(_header(f"{top}/{member.name}", size, mtime))
        sent = 0
        if member.data is not None:
            if on_data:
                on_data(member, member.data)
            sent = len(member.data)
            yield emit(member.data)
        else:
            assert member.path is not None
            with open(member.path, "rb") as fh:
                while sent < size:
                    chunk = fh.read(min(READ_SIZE, size - sent))
                    if not chunk:
                        raise OSError(f"{member.path} shrank while it was being archived")
                    if on_data:
                        on_data(member, chunk)
                    sent += len(chunk)
                    yield emit(chunk)
        if size % BLOCK:
            yield emit(b"\0" * (BLOCK - size % BLOCK))
    end = b"\0" * (2 * BLOCK)
    total = written + len(end)
    yield emit(end + b"\0" * (-total % RECORD))


class ChunkReader(io.RawIOBase):
    """A readable file object over an iterator of byte strings (for `encrypt_io`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def buffered(chunks: Iterator[bytes]) -> io.BufferedReader:
    return io.BufferedReader(ChunkReader(chunks), buffer_size=READ_SIZE)


# -- reading ------------------------------------------------------------------------------


class TarError(Exception):
    """The archive is malformed."""


class MemberSink:
    """What the scanner feeds one member's content to (subclass)."""

    def data(self, chunk: bytes) -> None:  # noqa: B027 - optional hook
        pass

    def end(self) -> None:  # noqa: B027 - optional hook
        pass


class TarScanner:
    """Push parser: `feed()` bytes as they come, `close()` at the end.

    `open_member(name, size)` returns a MemberSink for a regular file (or None to skip it);
    names are given without the archive's top directory when there is one.
    """

    def __init__(self, open_member: Callable[[str, int], MemberSink | None]) -> None:
        self.open_member = open_member
        self._pending = bytearray()
        self._need = BLOCK
        self._state = "header"
        self._left = 0
        self._pad = 0
        self._sink: MemberSink | None = None
        self._long_name: str | None = None
        self._pax_path: str | None = None
        self._meta = bytearray()
        self._meta_kind = ""
        self._zero_blocks = 0
        self.ended = False
        self.top: str | None = None
        self.names: list[str] = []

    def write(self, data: bytes) -> int:
        self.feed(data)
        return len(data)

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._state == "data":
                take = min(len(view), self._left)
                self._content(bytes(view[:take]))
                view = view[take:]
                self._left -= take
                if self._left == 0:
                    self._finish_member()
                continue
            if self._state == "pad":
                take = min(len(view), self._pad)
                view = view[take:]
                self._pad -= take
                if self._pad == 0:
                    self._state = "header"
                continue
            if self._state == "trailer":
                if any(view):
                    raise TarError("data after the end of the archive")
                return
            take = min(len(view), BLOCK - len(self._pending))
            self._pending += view[:take]
            view = view[take:]
            if len(self._pending) == BLOCK:
                block = bytes(self._pending)
                self._pending.clear()
                self._header(block)

    def _content(self, chunk: bytes) -> None:
        if self._meta_kind:
            self._meta += chunk
            if len(self._meta) > 1 << 20:
                raise TarError("an archive header extension is too large")
        elif self._sink is not None:
            self._sink.data(chunk)

    def _finish_member(self) -> None:
        if self._meta_kind == "L":
            self._long_name = bytes(self._meta).rstrip(b"\0").decode("utf-8", "replace")
        elif self._meta_kind == "x":
            self._pax_path = _pax_path(bytes(self._meta))
        elif self._sink is not None:
            self._sink.end()
        self._meta_kind, self._sink = "", None
        self._meta.clear()
        self._state = "pad" if self._pad else "header"

    def _header(self, block: bytes) -> None:
        if block == b"\0" * BLOCK:
            self._zero_blocks += 1
            if self._zero_blocks == 2:
                self.ended = True
                self._state = "trailer"
            return
        if self._zero_blocks:
            raise TarError("a lone zero block in the middle of the archive")
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise TarError(f"a damaged member header ({exc})") from None
        size = info.size
        self._left, self._pad = size, (-size) % BLOCK
        name = self._pax_path or self._long_name or info.name
        kind = info.type
        if kind in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.XGLTYPE):
            self._meta_kind = {tarfile.GNUTYPE_LONGNAME: "L", tarfile.XHDTYPE: "x"}.get(kind, "g")
        else:
            self._long_name = self._pax_path = None
            relative = self._relative(name, directory=info.isdir())
            if info.isreg() and relative is not None:
                self.names.append(relative)
                self._sink = self.open_member(relative, size)
        self._state = "data" if size else ("pad" if self._pad else "header")
        if size == 0 and self._sink is not None:
            self._sink.end()
            self._sink = None

    def _relative(self, name: str, *, directory: bool) -> str | None:
        while name.startswith("./"):
            name = name[2:]
        name = name.strip("/") if name != "." else ""
        if not name:
            return None
        top, _, rest = name.partition("/")
        if self.top is None:
            self.top = top if (directory or rest) else ""
        if self.top and top == self.top:
            return rest or None
        return name

    def close(self) -> None:
        if self._state in ("data", "pad") or self._pending:
            raise TarError("the archive is cut short (a member's content is missing)")
        if not self.ended:
            raise TarError("the archive is cut short (no end-of-archive marker)")


def _pax_path(data: bytes) -> str | None:
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        record = data[space + 1: pos + length - 1]
        key, _, value = record.partition(b"=")
        if key == b"path":
            return value.decode("utf-8", "surrogateescape")
        pos += length
    return None
