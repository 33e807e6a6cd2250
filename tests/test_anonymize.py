"""Anonymization per catalog rule leaves no PII, keeps amounts and joins; holds and legal
minimums, as the keep API reports them (the API erasure requests build on)."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from console.anonymize import (
    anonymize_rows,
    anonymize_where,
    needs_anonymizing,
    pseudonym,
    subject_clause,
)
from console.catalog import SubjectKind, category
from console.db import writing
from console.retention.holds import add_hold, keeps, release_hold
from models.business import Customer, Employee, PayrollRecord, SaleTransaction
from tests.retentionhelp import EMPLOYEE_BASE, TODAY, employee_pii, months_back, row_values, seed


def _no_pii_left(rows: list[object], originals: list[str]) -> None:
    for row in rows:
        values = row_values(row)
        for original in originals:
            assert not any(original in value for value in values), (original, values)


def test_anonymization_leaves_no_pii_keeps_amounts_and_joins(runtime, db, clock) -> None:
    seed(db, employees=2, customers=1, years=1)
    key = runtime.keys.pseudonym_key()
    payroll = category("payroll")
    before = db.exec(select(PayrollRecord).order_by(col(PayrollRecord.id))).all()
    originals = {r.id: (r.employee_id, r.gross_cents, r.net_cents, r.bank_account) for r in before}
    ids = [r.id for r in before]
    db.rollback()
    with writing(db):
        changed = anonymize_rows(db, payroll, ids, key=key)
    assert changed == len(ids)
    after = db.exec(select(PayrollRecord).order_by(col(PayrollRecord.id))).all()
    shadows: dict[int, set[int]] = {}
    for row in after:
        employee_id, gross, net, bank = originals[row.id]
        assert (row.gross_cents, row.net_cents) == (gross, net)  # amounts kept
        assert row.bank_account is None and row.employee_id != employee_id
        assert bank not in row_values(row)
        shadows.setdefault(employee_id, set()).add(row.employee_id)
    # One shadow per person: payroll per (anonymous) employee still adds up.
    assert all(len(s) == 1 for s in shadows.values()) and len(shadows) == 2
    for original_id, (shadow_id,) in shadows.items():
        shadow = db.get(Employee, shadow_id)
        assert shadow is not None and shadow.employee_no.startswith("anon-")
        assert shadow.anonymized_at is not None and shadow.first_name in (None, "[redacted]")
        assert shadow.hired_on.month == 1 and shadow.hired_on.day == 1
        pii = [str(v) for v in employee_pii(original_id - EMPLOYEE_BASE).values()]
        _no_pii_left([shadow], [*pii, f"E-{original_id}"])
    # Irreversible: nothing in the database maps the person to the shadow; the number is a
    # keyed hash, recomputable only with this installation's key.
    number = db.get(Employee, next(iter(shadows[EMPLOYEE_BASE]))).employee_no
    assert number[5:] == pseudonym(key, "employee", EMPLOYEE_BASE)[2:29]
    # Idempotent: anonymizing again changes nothing and makes no shadow of a shadow.
    count = len(db.exec(select(Employee)).all())
    db.rollback()
    with writing(db):
        anonymize_rows(db, payroll, ids, key=key)
    assert len(db.exec(select(Employee)).all()) == count
    assert db.exec(select(PayrollRecord).where(needs_anonymizing(payroll))).first() is None


def test_subject_anonymization_searches_whole_rows(runtime, db, clock) -> None:
    seed(db, employees=2, customers=2, years=1)
    key = runtime.keys.pseudonym_key()
    employees, sales = category("employees"), category("sales")
    target = EMPLOYEE_BASE + 1
    with writing(db):
        anonymize_where(db, employees, subject_clause(employees, SubjectKind.EMPLOYEE, target),
                        key=key)
        customer_sales = subject_clause(sales, SubjectKind.CUSTOMER, 9001)
        n = anonymize_where(db, sales, customer_sales, key=key, batch=7)
    person = db.get(Employee, target)
    pii = employee_pii(1)
    _no_pii_left([person], [str(v) for k, v in pii.items() if k != "date_of_birth"])
    assert person.first_name == "[redacted]" and person.email is None
    assert person.national_id == pseudonym(key, "national_id", pii["national_id"])
    assert person.date_of_birth == date(pii["date_of_birth"].year, 1, 1)
    assert person.anonymized_at is not None and person.employee_no == f"E-{target}"
    other = db.get(Employee, EMPLOYEE_BASE)
    assert other.first_name == "Zelda0x"  # only the subject
    rows = db.exec(select(SaleTransaction).where(SaleTransaction.total_cents == 1235)).all()
    assert n == len(rows) == 24
    assert all(r.card_last4 is None and r.customer_id != 9001 for r in rows)
    assert len({r.customer_id for r in rows}) == 1
    shadow = db.get(Customer, rows[0].customer_id)
    _no_pii_left([shadow], ["Marvella Tusk1", "marvella1@shop.example", "+44 20 7946 0001"])
    untouched = db.exec(select(SaleTransaction).where(SaleTransaction.customer_id == 9000)).all()
    assert untouched and all(r.card_last4 == "4242" for r in untouched)


def test_keeps_reports_holds_and_legal_minimum(runtime, db, admin, clock) -> None:
    seed(db, employees=2, customers=1, years=8)
    payroll = category("payroll")
    subject = (SubjectKind.EMPLOYEE, EMPLOYEE_BASE)
    before = keeps(db, payroll, subject=subject, as_of=TODAY)
    assert before.holds == [] and before.held_rows == 0
    # Payroll's legal minimum is 6 * 365 days: periods from 2020-07 on (71 months).
    assert before.legal_minimum_rows == 71
    hold = add_hold(db, admin, name="Tax audit 2019", reason="tax office request T-1",
                    category_name="payroll", range_from=months_back(TODAY, 96),
                    range_to=months_back(TODAY, 85))
    other = add_hold(db, admin, name="Dispute", reason="case 12", employee=EMPLOYEE_BASE + 1)
    result = keeps(db, payroll, subject=subject, as_of=TODAY)
    assert [(h.name, h.rows) for h in result.holds] == [("Tax audit 2019", 12), ("Dispute", 0)]
    assert result.held_rows == 12 and result.legal_minimum_rows == 71
    assert result.reasons[0] == "12 row(s) kept by legal hold 'Tax audit 2019'"
    changeable = db.exec(select(PayrollRecord).where(result.changeable)).all()
    assert len(changeable) == 96 - 12 - 71
    assert all(r.employee_id == EMPLOYEE_BASE for r in changeable)
    # A released hold keeps nothing any more.
    release_hold(db, admin, hold.id, reason="audit closed")
    release_hold(db, admin, other.id, reason="settled")
    assert keeps(db, payroll, subject=subject, as_of=TODAY).held_rows == 0
