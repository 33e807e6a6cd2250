"""The fixed catalog of permissions and the built-in roles.

Permissions live in code, not in the database, so that a permission can never be invented
by editing a table; roles (which are data) only select from this catalog.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    ROLES_WRITE = "roles.write"
    LOGS_READ = "logs.read"
    PII_READ = "pii.read"
    SUPPORT_GRANT = "support.grant"
    SUPPORT_APPROVE = "support.approve"
    JOBS_READ = "jobs.read"
    JOBS_RUN = "jobs.run"
    RETENTION_READ = "retention.read"
    RETENTION_MANAGE = "retention.manage"
    EXPORT_RUN = "export.run"
    REQUESTS_MANAGE = "requests.manage"
    AUDIT_READ = "audit.read"
    SETTINGS_WRITE = "settings.write"

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self]


DESCRIPTIONS: dict[Permission, str] = {
    Permission.USERS_READ: "See console users, their roles and status",
    Permission.USERS_WRITE: "Add, edit, disable, unlock users and reset their passwords",
    Permission.ROLES_WRITE: "Create, edit and delete roles and assign them to users",
    Permission.LOGS_READ: "Browse and search the processing logs",
    Permission.PII_READ: "See personal data unmasked (names, emails, ids, bank and card numbers)",
    Permission.SUPPORT_GRANT: "Grant and revoke FlowPro support access",
    Permission.SUPPORT_APPROVE: "Approve or deny FlowPro support access requests",
    Permission.JOBS_READ: "See background jobs and their results",
    Permission.JOBS_RUN: "Start, cancel and resume background jobs",
    Permission.RETENTION_READ: "See retention policies, legal holds and previews",
    Permission.RETENTION_MANAGE: "Change retention policies, place and release holds, run purges",
    Permission.EXPORT_RUN: "Export data and create backups",
    Permission.REQUESTS_MANAGE: "Handle data-subject requests (access, rectification, erasure...)",
    Permission.AUDIT_READ: "Read and verify the audit trail",
    Permission.SETTINGS_WRITE: "Change console settings and the agreement (termination) settings",
}

ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)

# What a FlowPro (vendor) account can ever hold, whatever a role or a grant says: never
# user, role, settings or support administration.
SUPPORT_CEILING: frozenset[Permission] = frozenset({
    Permission.LOGS_READ,
    Permission.PII_READ,
    Permission.JOBS_READ,
    Permission.JOBS_RUN,
    Permission.RETENTION_READ,
    Permission.EXPORT_RUN,
    Permission.AUDIT_READ,
})

VENDOR_FORBIDDEN: frozenset[Permission] = frozenset(
    p for p in Permission
    if p.value.split(".")[0] in ("users", "roles", "support", "settings"))

BUILTIN_ROLES: dict[str, tuple[str, frozenset[Permission]]] = {
    "admin": ("Everything, including users, roles and support access", ALL_PERMISSIONS),
    "auditor": ("Read-only: logs, audit trail, jobs and retention", frozenset({
        Permission.LOGS_READ, Permission.AUDIT_READ, Permission.JOBS_READ,
        Permission.RETENTION_READ})),
    "operator": ("Runs jobs, retention and exports", frozenset({
        Permission.JOBS_READ, Permission.JOBS_RUN, Permission.RETENTION_READ,
        Permission.RETENTION_MANAGE, Permission.EXPORT_RUN})),
    "support": ("Ceiling for FlowPro support engineers; a grant narrows it further",
                SUPPORT_CEILING),
}


def parse_permissions(values: str | list[str] | tuple[str, ...]) -> frozenset[Permission]:
    """Parse 'logs.read,pii.read' (or a list); raises ValueError naming an unknown one."""
    items = values.split(",") if isinstance(values, str) else list(values)
    result: set[Permission] = set()
    for raw in items:
        name = raw.strip()
        if not name:
            continue
        try:
            result.add(Permission(name))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise ValueError(f"unknown permission {name!r}; known: {known}") from None
    return frozenset(result)
