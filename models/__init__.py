"""SQLModel tables only, one module per domain. Importing `models` registers every table."""

from models import (  # noqa: F401
    audit,
    business,
    exports,
    identity,
    jobs,
    logs,
    requests,
    retention,
    support,
)
from models.types import UTCDateTime  # noqa: F401
