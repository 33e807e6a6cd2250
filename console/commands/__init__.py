"""The CLI's command groups, one module per domain: name -> (module, attribute).

Modules import only click at the top; services are imported inside each command.
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("setup", "init"),
    "demo": ("setup", "demo"),
    "db": ("setup", "db"),
    "config": ("setup", "config_group"),
    "tui": ("tui", "tui"),
    "audit": ("audit", "audit"),
    "users": ("users", "users"),
    "roles": ("roles", "roles"),
    "support": ("support", "support"),
    "support-session": ("support", "support_session"),
    "ssh": ("sshgate", "ssh"),
    "jobs": ("jobs", "jobs"),
    "scheduler": ("jobs", "scheduler"),
    "logs": ("logs", "logs"),
    "retention": ("retention", "retention"),
    "termination": ("retention", "termination"),
    "export": ("export", "export"),
    "backup": ("backup", "backup"),
    "requests": ("requests", "requests"),
}
