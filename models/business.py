"""The client's own business data: what retention, export and data-subject requests act on.

Money is stored in integer cents so that anonymization can keep amounts exactly.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Employee(SQLModel, table=True):
    __tablename__ = "employees"

    id: int | None = Field(default=None, primary_key=True)
    employee_no: str = Field(max_length=32, unique=True, index=True)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    national_id: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=255)
    date_of_birth: date | None = None
    department: str = Field(default="", max_length=64)
    hired_on: date
    terminated_on: date | None = Field(default=None, index=True)
    # Processing restricted by a data-subject request. Indexed: every retention batch asks
    # for the restricted subjects, and there are few of them among many.
    restricted: bool = Field(default=False, index=True)
    anonymized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PayrollRecord(SQLModel, table=True):
    __tablename__ = "payroll_records"

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employees.id", index=True)
    period: date = Field(index=True)  # first day of the month paid
    gross_cents: int
    tax_cents: int
    net_cents: int
    bank_account: str | None = Field(default=None, max_length=40)
    paid_at: datetime = Field(sa_type=UTCDateTime, index=True)


class AttendanceRecord(SQLModel, table=True):
    __tablename__ = "attendance_records"

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employees.id", index=True)
    day: date = Field(index=True)
    clock_in: datetime = Field(sa_type=UTCDateTime)
    clock_out: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    customer_no: str = Field(max_length=32, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    restricted: bool = Field(default=False, index=True)  # see Employee.restricted
    anonymized_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SaleTransaction(SQLModel, table=True):
    __tablename__ = "sales_transactions"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    store: str = Field(max_length=64)
    total_cents: int
    payment_method: str = Field(max_length=16)  # cash | card | voucher
    card_last4: str | None = Field(default=None, max_length=4)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    cashier_id: int | None = Field(default=None, foreign_key="employees.id", index=True)
