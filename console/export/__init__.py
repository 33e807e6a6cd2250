"""Exports: the client's data out as bundles anyone can read and verify, and backups.

Modules: `purposes` (vocabularies; light, the config imports it), `agecrypt` (age
encryption: X25519 through pyrage, passphrases through the scrypt recipient), `tarstream`
(tar written and read as streams), `rows` (a category's rows as JSON Lines and CSV, a
batch at a time), `parts` (which rows a subject, handover or logs export holds), `bundle`
(staging, sealing, the manifest), `readme` (README.txt), `verify` (`export verify`),
`service` (asking for exports), `register` (the disclosure register: list, show, verify,
discard), `backup` and `restore`.

Stable API for other domains: `service.start_handover` (termination's handover export),
`service.begin_export` / `service.export_now` (any export), `register.get_export`,
`backup.list_backups` (the retention screen), `verify.verify_bundle`. The job kinds are in
console/job_kinds/export.py and backup.py. Nothing here imports Textual.
"""
