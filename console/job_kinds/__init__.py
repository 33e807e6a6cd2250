"""The job kinds: one module per kind (or per domain), each declaring its kinds with
`@job_kind`. Every module in this package is imported when the job registry is first used;
see `console/jobs/__init__.py` for how to write one."""
