"""Retention: keep data exactly as long as policy says, then delete or anonymize it.

Modules: `selection` (the SQL every preview, check and batch shares), `holds` (legal holds
and the keep API erasure requests use), `policies`, `plans` (previews saved as plans),
`engine` (batches), `runs`, `termination`. The anonymization rules live in
`console.anonymize`.
"""
