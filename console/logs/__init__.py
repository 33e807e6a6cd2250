"""Processing logs: parse the servers' log files into a month-partitioned, full-text
indexed store, and browse it (query), keep it (retention) and feed it (ingest).

Modules: `common` (levels, ids, months, user input), `timeparse` (timestamps),
`formats` (one parser per log format), `reader` (files, gzip, continuation lines,
auto-detection, a second parsing process), `store` (month tables on SQLite, partitions on
PostgreSQL), `ids` (time-ordered entry ids), `ingest`, `text` (search terms), `query`
(filtered keyset pages, one entry), `stats` (counts and histograms from rollups),
`export`, `retention`, `demo`.
"""
