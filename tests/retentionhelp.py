"""Small, deterministic business data for retention and anonymization tests.

Dates are relative to TODAY: every employee has payroll for each month of the last `years`
years, attendance on the 1st and 15th of each month, and each customer buys twice a month.
Ids start high and PII values are distinctive, so a test can search a whole row for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlmodel import Session

from console.db import writing
from models.business import AttendanceRecord, Customer, Employee, PayrollRecord, SaleTransaction

TODAY = date(2026, 6, 15)
EMPLOYEE_BASE = 7000
CUSTOMER_BASE = 9000


@dataclass
class Seeded:
    employees: list[int]
    customers: list[int]


def months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def employee_pii(i: int) -> dict[str, object]:
    return {"first_name": f"Zelda{i}x", "last_name": f"Quorrin{i}y",
            "email": f"zelda{i}.quorrin@corp.example", "phone": f"+1-555-01{i:02d}-7788",
            "national_id": f"NID-{i:04d}-77", "address": f"{i} Wharf Lane, Hollowmere",
            "date_of_birth": date(1980 + i % 20, 7, 9 + i % 10)}


def seed(db: Session, *, employees: int = 3, customers: int = 2, years: int = 9,
         terminated: tuple[int, ...] = (0,)) -> Seeded:
    """Seed into `db`; employee index in `terminated` left 8 years before TODAY."""
    now = datetime.combine(TODAY, time(12), UTC)
    emp_ids, cust_ids = [], []
    with writing(db):
        for i in range(employees):
            ident = EMPLOYEE_BASE + i
            gone = months_back(TODAY, 96) if i in terminated else None
            db.add(Employee(id=ident, employee_no=f"E-{ident}", department="Finance",
                            hired_on=months_back(TODAY, 12 * years + 12), terminated_on=gone,
                            updated_at=now, **employee_pii(i)))
            emp_ids.append(ident)
        for j in range(customers):
            ident = CUSTOMER_BASE + j
            db.add(Customer(id=ident, customer_no=f"C-{ident}", name=f"Marvella Tusk{j}",
                            email=f"marvella{j}@shop.example", phone=f"+44 20 7946 0{j:03d}",
                            created_at=datetime.combine(months_back(TODAY, 12 * years), time(9),
                                                        UTC)))
            cust_ids.append(ident)
        db.flush()
        for m in range(12 * years, 0, -1):
            period = months_back(TODAY, m)
            for i, ident in enumerate(emp_ids):
                db.add(PayrollRecord(employee_id=ident, period=period, gross_cents=500_000 + i,
                                     tax_cents=100_000, net_cents=400_000 + i,
                                     bank_account=f"DE44 5001 0517 {ident:04d} 00",
                                     paid_at=datetime.combine(period + timedelta(days=27),
                                                              time(9), UTC)))
                for day in (1, 15):
                    clock_in = datetime.combine(period.replace(day=day), time(8), UTC)
                    db.add(AttendanceRecord(employee_id=ident, day=period.replace(day=day),
                                            clock_in=clock_in,
                                            clock_out=clock_in + timedelta(hours=8)))
            for j, ident in enumerate(cust_ids):
                for day in (3, 20):
                    db.add(SaleTransaction(
                        occurred_at=datetime.combine(period.replace(day=day), time(10), UTC),
                        store="Harbor", total_cents=1234 + j, payment_method="card",
                        card_last4=f"{4242 + j}", customer_id=ident,
                        cashier_id=emp_ids[j % len(emp_ids)]))
    if db.get_bind().dialect.name == "postgresql":
        with writing(db):
            for table in ("employees", "customers"):
                db.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"(SELECT max(id) FROM {table}))"))
    return Seeded(emp_ids, cust_ids)


def row_values(row: object) -> list[str]:
    """Every column value of an ORM row, as text (to search for PII left behind)."""
    return [str(v) for v in row.model_dump().values() if v is not None]  # type: ignore[attr-defined]
