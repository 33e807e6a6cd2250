"""README.txt of a bundle: what each file is and the exact commands that check and read it
with standard tools (age, tar, sha256sum, openssl, jq, any CSV reader)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.export.bundle import BundleInfo

PURPOSES = {
    "data-subject-request": "a data-subject request (access / portability)",
    "handover": "a handover of the client's data (termination or change of vendor)",
    "legal-order": "a legal order",
    "written-consent": "the written consent of the person concerned",
    "backup": "a backup",
}


def text(info: BundleInfo) -> str:
    name = info.name
    protection = info.encryption.protection.value
    lines = [
        f"FlowPro Console export: {name}",
        "=" * min(78, len(name) + 25),
        "",
        f"Kind:        {info.kind}",
        f"Purpose:     {PURPOSES.get(info.purpose, info.purpose)}"
        + (f" (reference: {info.reference})" if info.reference else ""),
        f"For:         {info.disclosed_to or '-'}",
        f"Made by:     {info.created_by}, {info.created_at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
    ]
    if info.masked:
        lines.append("Masked:      yes: personal data is masked (made without the pii.read "
                     "permission)")
    lines += [
        "",
        "Files",
        "-----",
        "README.txt         this file",
        "signing-key.pub    the Ed25519 public key of the console that made the bundle (PEM)",
        "manifest.json      what was exported, by whom, when, why and for whom; for each",
        "                   category its files, row count, columns and their types, and the",
        "                   SHA-256 of every file",
        "manifest.sig       the Ed25519 signature of manifest.json (64 bytes)",
        "SHA256SUMS         the SHA-256 of every other file, for `sha256sum -c`",
    ]
    for part in info.parts:
        # Long category names get their description on the next line, still aligned.
        for file, what in ((f"data/{part.name}.jsonl", "one JSON object per line"),
                           (f"data/{part.name}.csv", "the same rows as CSV")):
            if len(file) < 19:
                lines.append(file.ljust(19) + f"{part.title}: {what}")
            else:
                lines += [file, " " * 19 + f"{part.title}: {what}"]
    lines += [
        "",
        "Reading the data",
        "----------------",
        "JSON Lines: one JSON object per line (UTF-8), keys as in manifest.json. Times are",
        "ISO 8601 in UTC (2026-01-31T09:30:00.000000Z), dates YYYY-MM-DD, money in integer",
        "cents. For example:",
        f"    jq -c . data/{info.parts[0].name if info.parts else 'employees'}.jsonl",
        "CSV (RFC 4180): comma-separated, CRLF line ends, a header row, UTF-8. Text values",
        'are always quoted (a quote inside one is doubled); "" is an empty text and an',
        "empty unquoted field is a missing value. Numbers and true/false are not quoted.",
        "",
        "Checking the bundle",
        "-------------------",
    ]
    step = 1
    if protection != "none":
        lines += [
            f"{step}. Decrypt (the file you received ends in .tar.age; age: https://age-encryption.org):",
        ]
        if protection == "recipients":
            lines.append(f"       age -d -i your-key.txt -o {name}.tar {name}.tar.age")
        else:
            lines.append(f"       age -d -o {name}.tar {name}.tar.age      "
                         "(age asks for the passphrase)")
        step += 1
    if info.packaging != "directory":
        lines += [f"{step}. Unpack it (into the folder {name}/):",
                  f"       tar -xf {name}.tar && cd {name}"]
        step += 1
    lines += [
        f"{step}. Check every file against its checksum:",
        "       sha256sum -c SHA256SUMS",
        f"{step + 1}. Check that the console signed this manifest:",
        "       openssl pkeyutl -verify -pubin -inkey signing-key.pub -rawin \\",
        "           -in manifest.json -sigfile manifest.sig",
        "   and that the key is the sender's: this prints its id (the first 16 hex digits),",
        "   which must match `flowpro-console export key` on the sender's console:",
        "       openssl pkey -pubin -in signing-key.pub -outform DER | tail -c 32 | sha256sum",
        f"{step + 2}. The manifest's checksums and row counts must match the files too:",
        "       jq -r '.categories[] | .files[] | \"\\(.sha256)  \\(.path)\"' manifest.json \\",
        "           | sha256sum -c",
        "       jq -r '.categories[] | \"\\(.rows) \\(.files.jsonl.path)\"' manifest.json",
        "       wc -l data/*.jsonl",
        "",
        "With FlowPro Console installed, one command does all of this:",
        f"    flowpro-console export verify {name}{info.suffix}"
        + (" --identity your-key.txt" if protection == "recipients" else ""),
        "",
    ]
    return "\n".join(lines)
