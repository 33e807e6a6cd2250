"""The data catalog: every category of data the console governs, declared once.

Retention, export, PII masking and data-subject requests all read these declarations;
adding a category is one `Category(...)` in `CATEGORIES`, not five edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import SQLModel

from models.audit import AuditEvent
from models.business import AttendanceRecord, Customer, Employee, PayrollRecord, SaleTransaction
from models.jobs import JobRun
from models.logs import LogEntry
from models.support import SupportSession


class Anonymize(StrEnum):
    """How one PII column is made anonymous."""

    NULL = "null"  # the value is removed
    TOKEN = "token"  # replaced by a fixed token such as '[redacted]'
    PSEUDONYM = "pseudonym"  # keyed hash: joins and counts still work, the person is gone
    YEAR = "year"  # a date coarsened to January 1st of its year
    KEEP = "keep"  # kept (amounts): useful for statistics, not identifying by itself


class SubjectKind(StrEnum):
    EMPLOYEE = "employee"
    CUSTOMER = "customer"


class CategoryName(StrEnum):
    EMPLOYEES = "employees"
    PAYROLL = "payroll"
    ATTENDANCE = "attendance"
    CUSTOMERS = "customers"
    SALES = "sales"
    AUDIT_EVENTS = "audit_events"
    SUPPORT_SESSIONS = "support_sessions"
    JOB_RUNS = "job_runs"
    PROCESSING_LOGS = "processing_logs"


class Disposal(StrEnum):
    """How retention removes a category's old data."""

    ROWS = "rows"  # row by row (in batches), or anonymized in place
    PARTITIONS = "partitions"  # whole time partitions dropped; the boundary one trimmed


class Owner(StrEnum):
    CLIENT = "client"  # the client's business data
    CONSOLE = "console"  # records the console keeps about its own work


@dataclass(frozen=True)
class PiiColumn:
    name: str
    rule: Anonymize
    token: str = "[redacted]"
    # When a row links several people (a sale: its customer and its cashier), whose
    # personal data this column is; None: the row's only subject, or nobody's in particular.
    of: SubjectKind | None = None


class LinkMatch(StrEnum):
    """How a link column names its data subject."""

    ID = "id"  # the column holds the subject's id
    FORMAT = "format"  # the column holds `form` filled with the id, e.g. "employee:{id}"
    MENTIONS = "mentions"  # free text that mentions the subject's `mentions` profile values


@dataclass(frozen=True)
class SubjectLink:
    """`column` of this category's table names a data subject of `kind` (by default it
    holds the subject's id; see LinkMatch for the other ways)."""

    kind: SubjectKind
    column: str
    match: LinkMatch = LinkMatch.ID
    form: str = "{id}"  # LinkMatch.FORMAT
    mentions: tuple[str, ...] = ()  # LinkMatch.MENTIONS: columns of the subject's profile


@dataclass(frozen=True)
class Category:
    name: CategoryName
    title: str
    model: type[SQLModel]
    age_column: str  # the timestamp or date whose age retention measures
    owner: Owner
    description: str
    subject_links: tuple[SubjectLink, ...] = ()
    pii: tuple[PiiColumn, ...] = ()
    # Legal minimum keep period (days) no policy may go below; 0 = none.
    legal_minimum_days: int = 0
    legal_minimum_basis: str = ""
    disposal: Disposal = Disposal.ROWS

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def pii_column(self, name: str) -> PiiColumn | None:
        return next((c for c in self.pii if c.name == name), None)

    def links_to(self, kind: SubjectKind) -> tuple[SubjectLink, ...]:
        """The columns that hold the id of a subject of `kind` (LinkMatch.ID links)."""
        return tuple(link for link in self.subject_links
                     if link.kind == kind and link.match is LinkMatch.ID)

    def all_links_to(self, kind: SubjectKind) -> tuple[SubjectLink, ...]:
        """Every way this category names a subject of `kind` (ids, formatted references
        such as an audit target, mentions in free text): what a subject export follows."""
        return tuple(link for link in self.subject_links if link.kind == kind)


YEAR = 365

CATEGORIES: tuple[Category, ...] = (
    Category(
        CategoryName.EMPLOYEES, "Employees", Employee, "terminated_on", Owner.CLIENT,
        "Employee profiles (HRM); ages from the termination date",
        subject_links=(SubjectLink(SubjectKind.EMPLOYEE, "id"),),
        pii=(PiiColumn("first_name", Anonymize.TOKEN), PiiColumn("last_name", Anonymize.TOKEN),
             PiiColumn("email", Anonymize.NULL), PiiColumn("phone", Anonymize.NULL),
             PiiColumn("national_id", Anonymize.PSEUDONYM), PiiColumn("address", Anonymize.NULL),
             PiiColumn("date_of_birth", Anonymize.YEAR))),
    Category(
        CategoryName.PAYROLL, "Payroll", PayrollRecord, "period", Owner.CLIENT,
        "Payroll records per employee and month",
        subject_links=(SubjectLink(SubjectKind.EMPLOYEE, "employee_id"),),
        pii=(PiiColumn("bank_account", Anonymize.NULL), PiiColumn("gross_cents", Anonymize.KEEP),
             PiiColumn("tax_cents", Anonymize.KEEP), PiiColumn("net_cents", Anonymize.KEEP),
             PiiColumn("employee_id", Anonymize.PSEUDONYM)),
        legal_minimum_days=6 * YEAR, legal_minimum_basis="payroll tax records: 6 years"),
    Category(
        CategoryName.ATTENDANCE, "Attendance", AttendanceRecord, "day", Owner.CLIENT,
        "Clock-in / clock-out records",
        subject_links=(SubjectLink(SubjectKind.EMPLOYEE, "employee_id"),),
        pii=(PiiColumn("employee_id", Anonymize.PSEUDONYM),)),
    Category(
        CategoryName.CUSTOMERS, "Customers", Customer, "created_at", Owner.CLIENT,
        "POS customer profiles",
        subject_links=(SubjectLink(SubjectKind.CUSTOMER, "id"),),
        pii=(PiiColumn("name", Anonymize.TOKEN), PiiColumn("email", Anonymize.NULL),
             PiiColumn("phone", Anonymize.NULL))),
    Category(
        CategoryName.SALES, "Sales", SaleTransaction, "occurred_at", Owner.CLIENT,
        "POS sales transactions",
        subject_links=(SubjectLink(SubjectKind.CUSTOMER, "customer_id"),
                       SubjectLink(SubjectKind.EMPLOYEE, "cashier_id")),
        pii=(PiiColumn("card_last4", Anonymize.NULL, of=SubjectKind.CUSTOMER),
             PiiColumn("total_cents", Anonymize.KEEP),
             PiiColumn("customer_id", Anonymize.PSEUDONYM)),
        legal_minimum_days=6 * YEAR, legal_minimum_basis="sales tax records: 6 years"),
    Category(
        CategoryName.AUDIT_EVENTS, "Audit trail", AuditEvent, "at", Owner.CONSOLE,
        "Every change, denial, login and sensitive read in the console",
        subject_links=(
            SubjectLink(SubjectKind.EMPLOYEE, "target", LinkMatch.FORMAT, form="employee:{id}"),
            SubjectLink(SubjectKind.CUSTOMER, "target", LinkMatch.FORMAT, form="customer:{id}")),
        legal_minimum_days=1 * YEAR, legal_minimum_basis="security accountability: 1 year"),
    Category(
        CategoryName.SUPPORT_SESSIONS, "Support sessions", SupportSession, "started_at",
        Owner.CONSOLE, "FlowPro support sessions: engineer, grant, start, end, source address",
        pii=(PiiColumn("source", Anonymize.NULL),),
        legal_minimum_days=1 * YEAR, legal_minimum_basis="security accountability: 1 year"),
    Category(
        CategoryName.JOB_RUNS, "Job runs", JobRun, "created_at", Owner.CONSOLE,
        "Background work (maintenance, retention, exports, log ingestion): who started "
        "what, with which parameters, and what it did"),
    Category(
        CategoryName.PROCESSING_LOGS, "Processing logs", LogEntry, "ts", Owner.CONSOLE,
        "Log lines ingested from the servers (payroll, HRM, POS, console, syslog, web); ages "
        "from the entry's time. Stored in monthly partitions: retention deletes by dropping "
        "whole months (console.logs.retention.purge_before), never row by row. Messages may "
        "hold personal data: masked for readers without pii.read",
        subject_links=(
            SubjectLink(SubjectKind.EMPLOYEE, "message", LinkMatch.MENTIONS,
                        mentions=("employee_no", "email", "phone")),
            SubjectLink(SubjectKind.CUSTOMER, "message", LinkMatch.MENTIONS,
                        mentions=("customer_no", "email", "phone"))),
        disposal=Disposal.PARTITIONS),
)

_BY_NAME = {c.name.value: c for c in CATEGORIES}


def category(name: str) -> Category:
    """The category called `name`; raises KeyError listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown data category {name!r}; known: {', '.join(_BY_NAME)}") from None


def categories(owner: Owner | None = None) -> tuple[Category, ...]:
    return tuple(c for c in CATEGORIES if owner is None or c.owner == owner)
