"""Data-subject requests: access, rectification, erasure, portability, restriction and
objection, from the register to their fulfilment, and the erasure ledger.

Modules: `register` (add, list, show, close, what is due), `fulfil` (doing what a request
asks), `subjects` (rectification, restriction, the per-person sealing keys and the
subject key the ledger stores), `erasure` (anonymizing a person except what holds and
legal minimums keep; the ledger and re-applying it after a restore).
"""
