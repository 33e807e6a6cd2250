"""SSH keys of vendor accounts: real keys from ssh-keygen, fingerprints as ssh-keygen
prints them, weak and malformed keys refused (both backends), and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from console.errors import Conflict, NotFound, ValidationError
from console.sshkeys import add_key, list_keys, parse_public_key, remove_key
from tests.clihelp import run_cli, write_config
from tests.conftest import IN_CI
from tests.supporthelp import CLI_ONE_BACKEND, add_engineer, add_user


def keygen(tmp_path: Path, kind: str, bits: int | None = None, comment: str = "jane@laptop"
           ) -> tuple[str, str]:
    """(public key line, fingerprint as ssh-keygen -lf prints it)."""
    exe = shutil.which("ssh-keygen")
    if exe is None:
        if IN_CI:
            pytest.fail("CI=true and ssh-keygen is missing; .ci/run installs openssh-client")
        pytest.skip("ssh-keygen is not installed")
    path = tmp_path / f"key-{kind}-{bits}"
    args = [exe, "-q", "-t", kind, "-N", "", "-C", comment, "-f", str(path)]
    if bits:
        args += ["-b", str(bits)]
    subprocess.run(args, check=True, capture_output=True)
    listed = subprocess.run([exe, "-lf", f"{path}.pub"], check=True, capture_output=True,
                            text=True).stdout.split()
    return Path(f"{path}.pub").read_text(), listed[1]


@pytest.mark.parametrize("kind, bits, size", [("ed25519", None, 256), ("ecdsa", 256, 256),
                                              ("ecdsa", 384, 384), ("rsa", 3072, 3072)])
def test_accepted_keys_and_fingerprints(tmp_path: Path, kind: str, bits: int | None,
                                        size: int) -> None:
    line, fingerprint = keygen(tmp_path, kind, bits)
    parsed = parse_public_key(line)
    assert parsed.fingerprint == fingerprint
    assert parsed.bits == size and parsed.comment == "jane@laptop"
    assert parsed.line == " ".join(line.split()[:2])


def test_weak_or_malformed_keys_are_refused(tmp_path: Path) -> None:
    weak, _ = keygen(tmp_path, "rsa", 2048)
    ed, _ = keygen(tmp_path, "ed25519")
    algorithm, blob, *_ = ed.split()
    cases = {
        weak: "at least 3072 bits",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP== old": "DSA keys are too weak",
        f'command="sh" {ed}': "options are not accepted",
        f"ssh-rsa {blob}": "not a valid ssh-rsa public key",
        f"{algorithm} {blob[:-8]}": "not a valid",
        f"{algorithm} not*base64": "not a valid",
        f"{ed}\n{ed}": "exactly one public key",
        "": "exactly one public key",
        "ssh-ed25519": "missing",
    }
    for text, message in cases.items():
        with pytest.raises(ValidationError, match=message):
            parse_public_key(text)


def test_keys_belong_to_vendor_accounts_only_once(runtime, db, admin, tmp_path: Path) -> None:
    add_engineer(runtime, db)
    add_engineer(runtime, db, "fp-joe")
    add_user(runtime, db, "bob")
    line, fingerprint = keygen(tmp_path, "ed25519")
    with pytest.raises(ValidationError, match="not a FlowPro"):
        add_key(db, admin, "bob", line)
    added = add_key(db, admin, "fp-jane", line)
    assert added.fingerprint == fingerprint and added.added_by == "admin"
    with pytest.raises(Conflict, match="registered already \\(for fp-jane\\)"):
        add_key(db, admin, "fp-joe", line)
    assert [k.fingerprint for k in list_keys(db, admin, "fp-jane")] == [fingerprint]
    assert list_keys(db, admin, "fp-joe") == []
    with pytest.raises(NotFound):
        remove_key(db, admin, "fp-joe", fingerprint)
    remove_key(db, admin, "fp-jane", fingerprint.removeprefix("SHA256:"))
    assert list_keys(db, admin) == []


@CLI_ONE_BACKEND
def test_ssh_key_cli(installation, runtime, db, tmp_path: Path) -> None:
    add_engineer(runtime, db)
    cfg = write_config(installation, tmp_path / "c.toml")
    line, fingerprint = keygen(tmp_path, "ed25519")
    pub = tmp_path / "jane.pub"
    pub.write_text(line)
    added = run_cli("users", "ssh-key", "add", "fp-jane", "--key-file", str(pub), config=cfg)
    assert added.code == 0 and fingerprint in added.out, added.err
    listed = run_cli("users", "ssh-key", "list", "fp-jane", "--json", config=cfg)
    assert [k["fingerprint"] for k in json.loads(listed.out)] == [fingerprint]
    private = tmp_path / "key-ed25519-None"
    refused = run_cli("users", "ssh-key", "add", "fp-jane", "--key-file", str(private), config=cfg)
    assert refused.code == 2 and "private key" in refused.err
    assert "PRIVATE" not in refused.err
    weak = run_cli("users", "ssh-key", "add", "fp-jane", "--key-file", "-", config=cfg,
                   input=keygen(tmp_path, "rsa", 2048)[0])
    assert weak.code == 2 and "3072" in weak.err and weak.err.count("\n") == 1
    removed = run_cli("users", "ssh-key", "remove", "fp-jane", fingerprint, config=cfg)
    assert removed.code == 0 and "removed" in removed.out
    assert json.loads(run_cli("users", "ssh-key", "list", "--json", config=cfg).out) == []
