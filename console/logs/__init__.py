"""Processing logs: parse the servers' log files into a month-partitioned, full-text
indexed store, and browse it (query), keep it (retention) and feed it (ingest).

Modules: `common` (levels, ids, time), `formats` (one parser per log format), `reader`
(files, gzip, continuation lines, auto-detection), `store` (partitions on SQLite and
PostgreSQL), `ingest`, `query`, `retention`, `demo`.
"""
