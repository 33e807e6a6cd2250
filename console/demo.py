"""`flowpro-console demo`: a self-contained demo installation with realistic data.

Everything comes from a seeded RNG, so the same seed and day give the same data. The demo
lives in its own data directory (default `var/demo/`), never the real one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import Table

from console import clock
from console.config import Settings, load_settings
from console.install import initialize
from console.logs.demo import seed_demo_logs
from console.principal import system_principal
from console.runtime import make_database, open_runtime
from console.support_demo import seed_demo as seed_support_demo
from console.users import AccountKind, create_user
from models.business import AttendanceRecord, Customer, Employee, PayrollRecord, SaleTransaction

DEMO_ADMIN = "admin"
DEMO_PASSWORD = "fp-demo-Kettle-Harbor-42"
DEMO_USERS = (  # name, kind, roles, display name
    ("audrey", AccountKind.STAFF, ("auditor",), "Audrey Auditor"),
    ("oscar", AccountKind.STAFF, ("operator",), "Oscar Operator"),
    ("fp-jane", AccountKind.VENDOR, ("support",), "Jane (FlowPro Support)"),
)
DEMO_CONFIG = f"""\
# FlowPro Console demo installation, created by `flowpro-console demo`.
# Use it with: flowpro-console --config {{config}} ...
[storage]
data_dir = "."

[ui]
login_banner = "Demo installation: log in as {DEMO_ADMIN} / {DEMO_PASSWORD}"
"""

FIRST = ("Amira", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
         "Kemal", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
         "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Clara", "Diego")
LAST = ("Almeida", "Becker", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
        "Ivanova", "Jansen", "Kowalski", "Larsen", "Moreau", "Nguyen", "Okafor", "Petrov",
        "Quintero", "Rossi", "Schmidt", "Tanaka", "Ueda", "Vargas", "Weber", "Yilmaz", "Zimmer")
STREETS = ("Harbor Rd", "Mill Lane", "Station St", "Elm Ave", "King St", "Lake View",
           "Market Sq", "Oak Blvd", "River Walk", "Hill Crest")
DEPARTMENTS = ("Finance", "HR", "Sales", "Warehouse", "IT", "Retail", "Logistics", "Support")
STORES = ("Downtown", "Airport", "Mall East", "Harbor", "Online")
BATCH = 10_000

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoPlan:
    employees: int = 200
    customers: int = 2000
    sales: int = 50_000
    years: int = 3
    seed: int = 7

    @property
    def estimated_rows(self) -> int:
        days = self.years * 365
        return (self.employees * (1 + self.years * 12 + days * 5 // 7)
                + self.customers + self.sales)


def _db_value(value: object, sqlite: bool) -> object:
    """A value as the column types store it: naive UTC for datetimes (models.types).
    The seeder's naive datetimes are UTC already."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds") if sqlite else value
    if sqlite and isinstance(value, date):
        return value.isoformat()
    return value


def _batches(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Seeder:
    def __init__(self, plan: DemoPlan, today: date, progress: Progress | None) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.today = today
        self.start = today - timedelta(days=plan.years * 365)
        self.progress = progress or (lambda done, total, what: None)
        self.done = 0
        self.total = plan.estimated_rows
        self.employments: list[tuple[int, date, date | None]] = []

    def _insert(self, conn, table: Table, rows: Iterator[dict], what: str) -> None:
        # Straight to the driver's executemany: the ORM's per-value processing would make
        # seeding a million rows take minutes instead of seconds.
        sqlite = conn.dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"
        for batch in _batches(rows):
            columns = list(batch[0])
            convert = [i for i, c in enumerate(columns)
                       if isinstance(batch[0][c], date) or batch[0][c] is None]
            sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
                   f"VALUES ({', '.join([mark] * len(columns))})")
            values = [list(row.values()) for row in batch]
            for i in convert:
                for row in values:
                    row[i] = _db_value(row[i], sqlite)
            conn.exec_driver_sql(sql, [tuple(row) for row in values])
            self.done += len(batch)
            self.progress(self.done, self.total, what)

    def employees(self) -> Iterator[dict]:
        rng, now = self.rng, clock.now()
        for i in range(1, self.plan.employees + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            hired = self.start - timedelta(days=rng.randint(0, 2000)) if rng.random() < .7 \
                else self.start + timedelta(days=rng.randint(0, self.plan.years * 300))
            terminated = None
            if rng.random() < 0.15:
                terminated = hired + timedelta(days=rng.randint(200, 1500))
                if terminated >= self.today:
                    terminated = None
            self.employments.append((i, hired, terminated))
            yield {
                "id": i, "employee_no": f"E{i:06d}", "first_name": first, "last_name": last,
                "email": f"{first}.{last}{i}@example.com".lower(),
                "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "national_id": f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-"
                               f"{rng.randint(1000, 9999)}",
                "address": f"{rng.randint(1, 250)} {rng.choice(STREETS)}, Springfield",
                "date_of_birth": date(rng.randint(1960, 2003), rng.randint(1, 12),
                                      rng.randint(1, 28)),
                "department": rng.choice(DEPARTMENTS), "hired_on": hired,
                "terminated_on": terminated, "restricted": False, "updated_at": now,
            }

    def _employed(self, hired: date, terminated: date | None, day: date) -> bool:
        return hired <= day and (terminated is None or day <= terminated)

    def payroll(self) -> Iterator[dict]:
        rng = self.rng
        for emp_id, hired, terminated in self.employments:
            gross = rng.randint(2400, 9000) * 100
            bank = f"DE{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
            period = date(self.start.year, self.start.month, 1)
            while period < self.today.replace(day=1):
                if self._employed(hired, terminated, period):
                    tax = gross * rng.randint(18, 32) // 100
                    paid = datetime.combine(period + timedelta(days=27), time(9), UTC)
                    yield {"employee_id": emp_id, "period": period, "gross_cents": gross,
                           "tax_cents": tax, "net_cents": gross - tax, "bank_account": bank,
                           "paid_at": paid}
                period = (period + timedelta(days=32)).replace(day=1)

    def attendance(self) -> Iterator[dict]:
        # The bulk of the demo: kept to cheap calls (datetimes naive UTC, see _db_value).
        random, seven, minute = self.rng.random, time(7, 0), timedelta(minutes=1)
        for emp_id, hired, terminated in self.employments:
            day = max(self.start, hired)
            end = min(self.today, terminated or self.today)
            while day < end:
                if day.weekday() < 5 and random() < 0.95:
                    clock_in = datetime.combine(day, seven) + minute * int(random() * 121)
                    yield {"employee_id": emp_id, "day": day, "clock_in": clock_in,
                           "clock_out": clock_in + minute * (240 + int(random() * 361))}
                day += timedelta(days=1)

    def customers(self) -> Iterator[dict]:
        rng = self.rng
        start = datetime.combine(self.start, time(), UTC)
        span = (self.today - self.start).days * 86400
        for i in range(1, self.plan.customers + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            yield {"id": i, "customer_no": f"C{i:07d}", "name": f"{first} {last}",
                   "email": f"{first[0]}{last}{i}@mail.example".lower(),
                   "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                   "restricted": False,
                   "created_at": start + timedelta(seconds=rng.randint(0, span))}

    def sales(self) -> Iterator[dict]:
        rng = self.rng
        start = datetime.combine(self.start, time(), UTC)
        span = (self.today - self.start).days * 86400
        step = span / max(self.plan.sales, 1)
        for i in range(self.plan.sales):
            method = rng.choices(("card", "cash", "voucher"), (70, 25, 5))[0]
            customer = rng.randint(1, self.plan.customers) if rng.random() < 0.6 else None
            yield {"occurred_at": start + timedelta(seconds=int(i * step)),
                   "store": rng.choice(STORES), "total_cents": rng.randint(150, 45000),
                   "payment_method": method,
                   "card_last4": f"{rng.randint(0, 9999):04d}" if method == "card" else None,
                   "customer_id": customer,
                   "cashier_id": rng.randint(1, self.plan.employees)}

    def run(self, engine) -> int:
        with engine.begin() as conn:
            self._insert(conn, Employee.__table__, self.employees(), "employees")
            self._insert(conn, Customer.__table__, self.customers(), "customers")
        for model, rows, what in ((PayrollRecord, self.payroll, "payroll"),
                                  (AttendanceRecord, self.attendance, "attendance"),
                                  (SaleTransaction, self.sales, "sales")):
            with engine.begin() as conn:
                self._insert(conn, model.__table__, rows(), what)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                for table in ("employees", "customers"):
                    sql = (f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                           f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")  # noqa: S608
                    conn.exec_driver_sql(sql)
        return self.done


def demo_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir / "config.toml")


def create_demo(data_dir: Path, plan: DemoPlan, *, progress: Progress | None = None,
                database_url: str | None = None) -> Settings:
    """Create and seed a demo installation in `data_dir` (which must not hold one yet)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "config.toml"
    text = DEMO_CONFIG.replace("{config}", str(config))
    if database_url:
        text += f'\n[database]\nurl = "{database_url}"\n'
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config, env={})
    initialize(settings, admin=DEMO_ADMIN, password=DEMO_PASSWORD,
               actor=system_principal("demo"))
    runtime = open_runtime(settings)
    try:
        actor = system_principal("demo")
        with runtime.database.scope() as db:
            for name, kind, roles, display in DEMO_USERS:
                create_user(db, actor, name, security=settings.security, password=DEMO_PASSWORD,
                            kind=kind, roles=roles, display_name=display,
                            email=f"{name}@client.example" if kind != AccountKind.VENDOR
                            else f"{name}@flowpro.example")
            seed_support_demo(db, settings.support)  # a waiting request, a past grant
        Seeder(plan, clock.now().date(), progress).run(runtime.database.engine)
        with runtime.database.scope() as db:
            seed_demo_logs(db, actor, data_dir / "demo-logs", clock.now(),
                           settings.logs.timezone, seed=plan.seed)
    finally:
        runtime.close()
    return settings


def demo_exists(data_dir: Path) -> bool:
    return (data_dir / "config.toml").is_file() and (data_dir / "keys").is_dir()


__all__ = ["DEMO_ADMIN", "DEMO_PASSWORD", "DemoPlan", "create_demo", "demo_exists",
           "demo_settings", "make_database"]
