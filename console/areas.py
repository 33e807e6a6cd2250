"""The console's areas: number key, title, the screen module that shows it, and the
permission that makes it visible. Screens are found by module name, so an area whose
screen is not installed simply does not show."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from console.permissions import Permission


@dataclass(frozen=True)
class Area:
    id: str
    key: str
    title: str
    module: str  # screens.<module>, holding class `screen`
    screen: str
    permission: Permission | None = None

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(f"screens.{self.module}") is not None


AREAS: tuple[Area, ...] = (
    Area("dashboard", "1", "Home", "dashboard", "DashboardScreen"),
    Area("users", "2", "Users", "users", "UsersScreen", Permission.USERS_READ),
    Area("roles", "3", "Roles", "roles", "RolesScreen", Permission.USERS_READ),
    Area("logs", "4", "Logs", "logs", "LogsScreen", Permission.LOGS_READ),
    Area("support", "5", "Support", "support", "SupportScreen"),
    Area("jobs", "6", "Jobs", "jobs", "JobsScreen", Permission.JOBS_READ),
    Area("retention", "7", "Retention", "retention", "RetentionScreen",
         Permission.RETENTION_READ),
    Area("exports", "8", "Exports", "exports", "ExportsScreen", Permission.EXPORT_RUN),
    Area("requests", "9", "Requests", "requests", "RequestsScreen", Permission.REQUESTS_MANAGE),
    Area("audit", "0", "Audit", "audit", "AuditScreen", Permission.AUDIT_READ),
)


