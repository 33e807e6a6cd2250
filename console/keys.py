"""The console's local keys, kept in `<data_dir>/keys/`, mode 0600.

- `signing.key`: Ed25519, signs audit checkpoints, support receipts and export manifests.
- `secrets.key`: 32 random bytes, AES-256-GCM for secrets at rest (TOTP seeds).
- `pseudonym.key`: 32 random bytes, keys the pseudonyms of anonymization and the erasure
  ledger; never exported, so a pseudonym cannot be reversed outside this installation.

Like ssh, the console refuses to use a key file that others can read.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from console.errors import ConfigError, ConsoleError

KEY_FILES = ("signing.key", "secrets.key", "pseudonym.key")


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start (never briefly world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyStore:
    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "keys"
        self._signing: Ed25519PrivateKey | None = None
        self._cache: dict[str, bytes] = {}

    def exists(self) -> bool:
        return all((self.dir / name).exists() for name in KEY_FILES)

    def create(self) -> None:
        """Create the keys that do not exist yet (never overwrites one)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        signing = self.dir / "signing.key"
        if not signing.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
            write_private(signing, pem)
        for name in ("secrets.key", "pseudonym.key"):
            path = self.dir / name
            if not path.exists():
                write_private(path, base64.b64encode(os.urandom(32)) + b"\n")

    def check_permissions(self) -> None:
        """Raise ConfigError naming the file and the chmod that fixes it, as ssh does."""
        if not self.dir.is_dir():
            raise ConfigError(f"key directory {self.dir} is missing: run `flowpro-console init`")
        for name in KEY_FILES:
            path = self.dir / name
            try:
                mode = path.stat().st_mode
            except FileNotFoundError:
                raise ConfigError(f"key file {path} is missing: restore it from your backup "
                                  "or run `flowpro-console init` on a new data directory") from None
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(
                    f"key file {path} is accessible by others (mode {stat.S_IMODE(mode):04o}); "
                    f"refusing to use it. Fix: chmod 600 {path}")

    def _read(self, name: str) -> bytes:
        if name not in self._cache:
            path = self.dir / name
            try:
                self._cache[name] = path.read_bytes()
            except OSError as exc:
                raise ConsoleError(f"cannot read key file {path}: {exc.strerror}") from None
        return self._cache[name]

    def _raw32(self, name: str) -> bytes:
        raw = base64.b64decode(self._read(name).strip())
        if len(raw) != 32:
            raise ConsoleError(f"key file {self.dir / name} is damaged: restore it from backup")
        return raw

    # -- signing ----------------------------------------------------------------

    def signing_key(self) -> Ed25519PrivateKey:
        if self._signing is None:
            key = serialization.load_pem_private_key(self._read("signing.key"), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ConsoleError(f"{self.dir / 'signing.key'} is not an Ed25519 key")
            self._signing = key
        return self._signing

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def public_key_pem(self) -> bytes:
        return self.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def key_id(self) -> str:
        raw = self.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, payload: bytes) -> bytes:
        return self.signing_key().sign(payload)

    # -- secrets at rest -----------------------------------------------------------

    def encrypt_secret(self, plaintext: bytes, *, context: str) -> bytes:
        """AES-256-GCM; `context` (e.g. 'totp:alice') is bound as associated data."""
        nonce = os.urandom(12)
        return nonce + AESGCM(self._raw32("secrets.key")).encrypt(nonce, plaintext,
                                                                   context.encode())

    def decrypt_secret(self, blob: bytes, *, context: str) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return AESGCM(self._raw32("secrets.key")).decrypt(blob[:12], blob[12:],
                                                               context.encode())
        except InvalidTag:
            raise ConsoleError("a stored secret cannot be decrypted with this installation's "
                               "secrets.key (was the key replaced?)") from None

    def pseudonym_key(self) -> bytes:
        return self._raw32("pseudonym.key")


def verify_signature(public_key: Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True
