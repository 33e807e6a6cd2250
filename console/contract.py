"""The service contract, in one decorator.

Every service function takes `(db, actor, ...)`. It calls `actor.require(...)` first and
writes its audit event inside `writing(db)` with the change. This decorator adds what each
would otherwise repeat: a denial is rolled back, audited with outcome `denied` in its own
transaction, and re-raised; any other failure is rolled back so nothing is half-applied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlmodel import Session

from console.errors import AccessDenied, ConsoleError
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
        @functools.wraps(fn)
        def wrapper(db: Session, actor: Principal, *args: P.args, **kwargs: P.kwargs) -> R:
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
            except BaseException:
                db.rollback()
                raise

        wrapper.__service_action__ = action  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _target_of(args: tuple[object, ...], kwargs: dict[str, object], prefix: str = "") -> str:
    first = args[0] if args else next(iter(kwargs.values()), "")
    return f"{prefix}{first}"[:255] if isinstance(first, str | int) else ""
