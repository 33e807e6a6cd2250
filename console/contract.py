"""The service contract, in one decorator.

Every service function takes `(db, actor, ...)`. It calls `actor.require(...)` first and
writes its audit event inside `writing(db)` with the change. This decorator adds what each
would otherwise repeat: a denial is rolled back, audited with outcome `denied` in its own
transaction, and re-raised; any other failure is rolled back so nothing is half-applied.
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlmodel import Session

from console.errors import AccessDenied, ConsoleError, ValidationError
from console.principal import Principal

P = ParamSpec("P")
R = TypeVar("R")


def service(action: str, *, audit_errors: bool = False, target_prefix: str = "") -> Callable[
        [Callable[Concatenate[Session, Principal, P], R]],
        Callable[Concatenate[Session, Principal, P], R]]:
    """Mark a service function; `action` names it in the audit trail.

    With `audit_errors`, a ConsoleError (bad input, conflict) is recorded too, with
    outcome `error`, for actions whose failed attempts matter (logins, grants).
    `target_prefix` (e.g. "user:") makes the target of those records match the one the
    function audits on success.
    """

    def decorate(fn: Callable[Concatenate[Session, Principal, P], R]
                 ) -> Callable[Concatenate[Session, Principal, P], R]:
        names = list(inspect.signature(fn).parameters)[2:]

        @functools.wraps(fn)
        def wrapper(db: Session, actor: Principal, *args: P.args, **kwargs: P.kwargs) -> R:
            _check_text(names, args, kwargs)
            # Outermost call only: a nested service shares its caller's transaction.
            attempts = 1 if db.info.get("flowpro_write_depth", 0) else RETRIES
            for attempt in range(attempts):
                try:
                    return call(db, actor, *args, **kwargs)
                except _Retry as retry:
                    if attempt == attempts - 1:
                        raise retry.fault from None
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            raise AssertionError("unreachable")

        def call(db: Session, actor: Principal, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(db, actor, *args, **kwargs)
            except AccessDenied as exc:
                from console import audit  # audit's own services use this decorator

                db.rollback()
                audit.record_alone(db, actor, action, outcome=audit.Outcome.DENIED,
                                   target=_target_of(args, kwargs, target_prefix),
                                   details={"reason": exc.message,
                                            "permission": exc.permission})
                raise
            except ConsoleError as exc:
                db.rollback()
                if audit_errors:
                    from console import audit

                    audit.record_alone(db, actor, action, outcome=audit.Outcome.ERROR,
                                       target=_target_of(args, kwargs, target_prefix),
                                       details={"error": exc.message})
                raise
            except Exception as exc:
                _rollback(db)
                from console.db import describe_bind, storage_error

                fault = storage_error(exc, describe_bind(db))
                if fault is not None and fault.transient:
                    raise _Retry(fault) from None  # rolled back whole: safe to run again
                if fault is not None:
                    raise fault from None
                raise
            except BaseException:
                _rollback(db)
                raise

        wrapper.__service_action__ = action  # type: ignore[attr-defined]
        return wrapper

    return decorate


RETRIES = 3  # runs of a service whose transaction lost a deadlock or a lock wait


class _Retry(Exception):
    def __init__(self, fault: ConsoleError) -> None:
        super().__init__(fault.message)
        self.fault = fault


def _check_text(names: list[str], args: tuple[object, ...],
                kwargs: dict[str, object]) -> None:
    """Text that cannot be stored (NUL; lone surrogates: bytes that were not UTF-8 on a
    command line) is a ValidationError naming the argument, not a driver traceback."""
    for i, value in enumerate(args):
        if isinstance(value, str) and not _encodable(value):
            _bad_text(names[i] if i < len(names) else f"argument {i + 1}")
    for name, value in kwargs.items():
        if isinstance(value, str) and not _encodable(value):
            _bad_text(name)


def _encodable(value: str) -> bool:
    if "\x00" in value:  # no database column takes it (PostgreSQL text cannot hold it)
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_text(name: str) -> None:
    raise ValidationError(name.replace("_", " "), "is not valid text (a NUL character, or "
                          "bytes that are not UTF-8); type it again in a UTF-8 terminal")


def _rollback(db: Session) -> None:
    """Roll back after a failure; a database that refuses even that (disk gone) must not
    hide the original error."""
    try:
        db.rollback()
    except Exception:  # noqa: BLE001 - the first error is the one to report
        db.invalidate()


def _target_of(args: tuple[object, ...], kwargs: dict[str, object], prefix: str = "") -> str:
    first = args[0] if args else next(iter(kwargs.values()), "")
    return f"{prefix}{first}"[:255] if isinstance(first, str | int) else ""
