"""Retention: keep data exactly as long as policy says, then delete or anonymize it.

Modules: `selection` (the SQL every preview, check and batch shares), `holds` (legal holds
and the keep API erasure requests use), `policies`, `plans` (analysis and drift),
`preview` (previews saved as plans), `engine` (batches and their pace), `partitions`
(processing logs by month partitions), `runs` (applying a plan, step by step; the
`retention` job kind in `console.job_kinds.retention` drives it), `space` (giving the
space back), `history` (runs), `termination` (the end of the service agreement). The
anonymization rules live in `console.anonymize`.
"""
