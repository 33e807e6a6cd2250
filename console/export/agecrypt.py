"""Encryption in the age format (age-encryption.org/v1), streamed, readable by `age -d`.

- To X25519 recipients (`age1...`): `pyrage.encrypt_io` / `decrypt_io`, which stream.
- To a passphrase: pyrage only encrypts whole byte strings with one, so the scrypt
  recipient is written here with `cryptography`'s primitives, exactly as the spec says:
  a 16-byte file key wrapped with ChaCha20-Poly1305 under scrypt(passphrase) (one
  `scrypt` stanza, nothing else), the header MAC (HMAC-SHA-256 under
  HKDF(file key, "header")), then the STREAM payload: 64 KiB chunks sealed with
  ChaCha20-Poly1305 under HKDF(nonce, file key, "payload"), the last chunk flagged.
  Tests check it both ways against pyrage and against the real `age` binary.

Nothing secret is logged or put in an error message.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from console.errors import ConsoleError, ValidationError
from console.export.purposes import check_recipient

MAGIC = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024
TAG = 16
_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
# scrypt work factors above this are refused when decrypting (as age does: a file could
# otherwise make us spend minutes and gigabytes).
MAX_WORK_FACTOR = 22


class Protection(StrEnum):
    RECIPIENTS = "recipients"
    PASSPHRASE = "passphrase"
    NONE = "none"


@dataclass(frozen=True)
class Encryption:
    """How a bundle is protected. `passphrase` never appears in a repr."""

    recipients: tuple[str, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    work_factor: int = 18

    @property
    def protection(self) -> Protection:
        if self.recipients:
            return Protection.RECIPIENTS
        return Protection.PASSPHRASE if self.passphrase else Protection.NONE


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class DecryptFailed(ConsoleError):
    """The encrypted file cannot be opened: wrong key or passphrase, or it was altered."""


def parse_recipients(values: Sequence[str]) -> tuple[str, ...]:
    """Validated, de-duplicated recipients in their order; ValidationError names a bad one."""
    out: list[str] = []
    for value in values:
        try:
            key = check_recipient(value)
        except ValueError as exc:
            raise ValidationError("recipient", str(exc)) from None
        if key not in out:
            out.append(key)
    if out:
        from pyrage import RecipientError, x25519

        for key in out:  # the checksum too, not only the shape
            try:
                x25519.Recipient.from_str(key)
            except RecipientError:
                raise ValidationError("recipient", f"{key[:12]}… is not a valid age "
                                      "recipient (its checksum is wrong)") from None
    return tuple(out)


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < 12:
        raise ValidationError("passphrase", "must be at least 12 characters (a few random "
                              "words are better than a short password)")
    return passphrase


# -- encrypting ---------------------------------------------------------------------------


def encrypt_stream(reader: BinaryIO, writer: BinaryIO, encryption: Encryption) -> None:
    """Encrypt everything `reader` yields into `writer` (both streams, memory stays flat)."""
    if encryption.recipients:
        import pyrage
        from pyrage import x25519

        keys = [x25519.Recipient.from_str(r) for r in encryption.recipients]
        pyrage.encrypt_io(reader, writer, keys)
    elif encryption.passphrase:
        scrypt_encrypt(reader, writer, encryption.passphrase, encryption.work_factor)
    else:
        raise ValueError("encrypt_stream needs recipients or a passphrase")


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    if b"=" in text or b"\r" in text:
        raise DecryptFailed("the age header is malformed (padded base64)")
    try:
        decoded = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise DecryptFailed("the age header is malformed (bad base64)") from None
    if _b64(decoded) != text:  # canonical encodings only, as the spec requires
        raise DecryptFailed("the age header is malformed (non-canonical base64)")
    return decoded


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(hashes.SHA256(), 32, salt=salt or None, info=info).derive(ikm)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, hmac

    mac = hmac.HMAC(_hkdf(file_key, b"", b"header"), hashes.SHA256())
    mac.update(header)
    return mac.finalize()


def _scrypt_key(passphrase: str, salt: bytes, work_factor: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=_SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8,
                  p=1).derive(passphrase.encode("utf-8"))


def _read_full(reader: BinaryIO, size: int) -> bytes:
    parts, left = [], size
    while left:
        data = reader.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def scrypt_encrypt(reader: BinaryIO, writer: Writable, passphrase: str,
                   work_factor: int = 18) -> None:
    """age with one scrypt recipient, streamed."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    file_key, salt = os.urandom(16), os.urandom(16)
    wrapped = ChaCha20Poly1305(_scrypt_key(passphrase, salt, work_factor)).encrypt(
        b"\x00" * 12, file_key, None)
    header = (MAGIC + b"-> scrypt " + _b64(salt) + b" " + str(work_factor).encode() + b"\n"
              + _b64(wrapped) + b"\n---")
    writer.write(header + b" " + _b64(_header_mac(file_key, header)) + b"\n")
    nonce = os.urandom(16)
    writer.write(nonce)
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    counter, chunk = 0, _read_full(reader, CHUNK)
    while True:
        following = _read_full(reader, CHUNK) if len(chunk) == CHUNK else b""
        last = not following
        writer.write(aead.encrypt(_nonce(counter, last), chunk, None))
        if last:
            return
        chunk, counter = following, counter + 1


# -- decrypting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    stanzas: tuple[tuple[str, ...], ...]  # (type, args...) of each recipient stanza

    @property
    def is_passphrase(self) -> bool:
        return any(s[0] == "scrypt" for s in self.stanzas)


def is_age(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def read_header(path: Path) -> Header:
    """The recipient types of an age file (to know whether it needs a passphrase)."""
    with open(path, "rb") as fh:
        stanzas, _bodies, _raw, _mac = _parse_header(fh)
    return Header(tuple(tuple(s) for s in stanzas))


def _parse_header(fh: BinaryIO) -> tuple[list[list[str]], list[bytes], bytes, bytes]:
    if fh.read(len(MAGIC)) != MAGIC:
        raise DecryptFailed("not an age file (it does not start with the age header)")
    raw = bytearray(MAGIC)
    stanzas: list[list[str]] = []
    bodies: list[bytes] = []
    while True:
        line = fh.readline(4096)
        if not line.endswith(b"\n"):
            raise DecryptFailed("the age header is malformed or cut short")
        if line.startswith(b"---"):
            if not line.startswith(b"--- "):
                raise DecryptFailed("the age header is malformed (MAC line)")
            raw += b"---"
            return stanzas, bodies, bytes(raw), _unb64(line[4:-1])
        raw += line
        if not line.startswith(b"-> "):
            raise DecryptFailed("the age header is malformed (expected a recipient stanza)")
        stanzas.append(line[3:-1].decode("ascii", "replace").split(" "))
        body = bytearray()
        while True:
            part = fh.readline(4096)
            if not part.endswith(b"\n") or len(part) > 65:
                raise DecryptFailed("the age header is malformed (stanza body)")
            raw += part
            body += part[:-1]
            if len(part) < 65:
                break
        bodies.append(_unb64(bytes(body)))


def scrypt_decrypt(reader: BinaryIO, writer: Writable, passphrase: str) -> None:
    """Decrypt a passphrase-encrypted age stream into `writer`. DecryptFailed says why."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    stanzas, bodies, raw, mac = _parse_header(reader)
    if len(stanzas) != 1 or stanzas[0][0] != "scrypt":
        raise DecryptFailed("this file is encrypted to age recipients, not a passphrase: "
                            "pass --identity KEYFILE")
    args = stanzas[0]
    if len(args) != 3 or not args[2].isdigit():
        raise DecryptFailed("the age header is malformed (scrypt stanza)")
    work_factor = int(args[2])
    if not 1 <= work_factor <= MAX_WORK_FACTOR:
        raise DecryptFailed(f"the scrypt work factor {work_factor} is out of range")
    salt = _unb64(args[1].encode())
    try:
        file_key = ChaCha20Poly1305(_scrypt_key(passphrase, salt, work_factor)).decrypt(
            b"\x00" * 12, bodies[0], None)
    except InvalidTag:
        raise DecryptFailed("wrong passphrase (or the file's header was altered)") from None
    if not std_hmac.compare_digest(_header_mac(file_key, raw), mac):
        raise DecryptFailed("the age header was altered (its MAC does not match)")
    nonce = _read_full(reader, 16)
    if len(nonce) != 16:
        raise DecryptFailed("the encrypted file is cut short (no payload)")
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    counter, sealed = 0, _read_full(reader, CHUNK + TAG)
    while True:
        following = _read_full(reader, CHUNK + TAG) if len(sealed) == CHUNK + TAG else b""
        last = not following
        try:
            plain = aead.decrypt(_nonce(counter, last), sealed, None)
        except InvalidTag:
            at = counter * CHUNK
            raise DecryptFailed(f"the encrypted data was altered or cut short (chunk at "
                                f"byte {at:,} of the plaintext fails authentication)") from None
        if last and not plain and counter:
            raise DecryptFailed("the encrypted file ends with an empty chunk (malformed)")
        writer.write(plain)
        if last:
            return
        sealed, counter = following, counter + 1


def load_identities(path: Path) -> list[object]:
    """X25519 identities from an `age-keygen` key file (comments and blank lines skipped)."""
    from pyrage import IdentityError, x25519

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError("identity", f"cannot read {path}: {exc}") from None
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            found.append(x25519.Identity.from_str(line))
        except IdentityError:
            raise ValidationError("identity", f"{path} holds a line that is not an age "
                                  "identity (AGE-SECRET-KEY-1...)") from None
    if not found:
        raise ValidationError("identity", f"{path} holds no age identity (AGE-SECRET-KEY-1...)")
    return found


def decrypt_stream(reader: BinaryIO, writer: Writable, *, identities: Sequence[object] = (),
                   passphrase: str | None = None) -> None:
    """Decrypt an age stream with X25519 identities or a passphrase. DecryptFailed."""
    if passphrase is not None:
        scrypt_decrypt(reader, writer, passphrase)
        return
    if not identities:
        raise DecryptFailed("the file is encrypted: pass --identity KEYFILE (or, for a "
                            "passphrase, --passphrase-stdin)")
    import pyrage

    sink = _Sink(writer)
    try:
        pyrage.decrypt_io(reader, sink, list(identities))
    except pyrage.DecryptError as exc:
        text = str(exc).lower()
        if "no matching keys" in text or "no identity" in text:
            raise DecryptFailed("none of the given identities can open this file (it was "
                                "encrypted to other recipients)") from None
        raise DecryptFailed("the encrypted file was altered or cut short (age could not "
                            "authenticate it)") from None
    except OSError:
        if sink.failure is not None:  # our own consumer failed, not the decryption
            raise sink.failure from None
        # pyrage reports a payload that fails authentication as an I/O error.
        raise DecryptFailed("the encrypted file was altered or cut short (age could not "
                            "authenticate it)") from None
    if sink.failure is not None:
        raise sink.failure


class _Sink(io.RawIOBase):
    """A writable file object around any `write` callable (pyrage wants a file object)."""

    def __init__(self, target: Writable) -> None:
        super().__init__()
        self.target = target
        self.failure: BaseException | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            self.target.write(bytes(data))
        except BaseException as exc:
            self.failure = exc
            raise
        return len(data)
