"""SQLModel tables only, one module per domain. Importing `models` registers every table."""

from models import audit, business, identity, jobs, logs, retention, support  # noqa: F401
from models.types import UTCDateTime  # noqa: F401
