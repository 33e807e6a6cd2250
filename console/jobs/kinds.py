"""Job kinds: the small class a domain writes to run long work through the framework, and
the registry that finds them.

See the package docstring (`console/jobs/__init__.py`) for the whole API with an example.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.engine import Connection
from sqlmodel import Session

from console.errors import ConsoleError, NotFound, ValidationError
from console.permissions import Permission
from console.principal import Principal

if TYPE_CHECKING:
    from console.config import Settings
    from console.keys import KeyStore

log = logging.getLogger("flowpro.jobs")


class Params(BaseModel):
    """Base of a kind's parameters. Values from the CLI (`--param k=v`) and the TUI arrive as
    strings and are converted (lax mode); unknown names are an error. Give every field a
    default or mark it required, and a `description=` (shown in the start form and help)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Checkpoint(BaseModel):
    """Base of a kind's checkpoint: where to continue from, plus whatever counts the result
    summarizes. The defaults are the starting point of a fresh run. Stored as JSON."""

    model_config = ConfigDict(extra="ignore")


class JobFailed(ConsoleError):
    """Raised by a step to fail the run with this message (the step's transaction is rolled
    back; the run is resumable from its last committed checkpoint)."""


P = TypeVar("P", bound=Params)
C = TypeVar("C", bound=Checkpoint)


class JobContext:
    """What a step gets besides its params and checkpoint.

    - `db`: the session. For a transactional kind it is inside the step's write
      transaction (do not commit; nested `writing(db)` joins it).
    - `actor`: who the work runs as (the person in a console or `jobs run`, the scheduler
      principal in the scheduler). Pass it to the services you call.
    - `started_by`: the name of whoever asked for the run.
    - `advance(n, message)`, `set_total(n)`, `message(text)`: progress, saved with the
      checkpoint at the end of the step.
    - `should_stop()`: True once the run was cancelled, its process is shutting down or
      its lease was lost. Checked by the framework between steps; a long step may check it
      and return early with a checkpoint that says how far it got.
    - `autocommit()`: a connection outside any transaction, for statements that cannot
      run in one (VACUUM, wal_checkpoint). Only for kinds with `transactional = False`.
    """

    def __init__(self, *, db: Session, actor: Principal, run_id: int, started_by: str,
                 settings: Settings, keys: KeyStore | None, done: int, total: int | None,
                 message: str = "", stop_check: Callable[[], bool] | None = None) -> None:
        self.db = db
        self.actor = actor
        self.run_id = run_id
        self.started_by = started_by
        self.settings = settings
        self.keys = keys
        self.done = done
        self.total = total
        self.text = message
        self.log = logging.LoggerAdapter(log, {"run_id": run_id})
        self._stop_check = stop_check or (lambda: False)
        self._lock = threading.Lock()

    def advance(self, n: int = 1, message: str | None = None) -> None:
        with self._lock:
            self.done += n
            if message is not None:
                self.text = message

    def set_total(self, total: int | None) -> None:
        with self._lock:
            self.total = total

    def message(self, text: str) -> None:
        with self._lock:
            self.text = text

    def snapshot(self) -> tuple[int, int | None, str]:
        with self._lock:
            return self.done, self.total, self.text

    def should_stop(self) -> bool:
        return self._stop_check()

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        engine = self.db.get_bind()
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


class JobKind(Generic[P, C]):
    """Subclass, set the class attributes, implement `step`, and decorate with `@job_kind`.

    - `name` (unique, lower-case, used in the CLI and config), `title`, `description`.
    - the parameters and checkpoint models are the generic arguments:
      `class Purge(JobKind[PurgeParams, PurgeCheckpoint])` (subclasses of `Params` and
      `Checkpoint`); they end up in `params_model` / `checkpoint_model`.
    - `permission`: needed (besides jobs.run) to start, resume or cancel a run.
    - `transactional`: True (default) runs each step and its checkpoint in one write
      transaction: exactly once. False runs the step outside a transaction and saves the
      checkpoint after it; such steps must be idempotent (a crash may repeat the last one).
    - `locks(params)`: names of conflict groups; two runs sharing a name never overlap.
      Default: the kind's name (one run of a kind at a time).
    - `check(db, actor, params)`: extra validation against the database; raise
      ValidationError / Conflict.
    - `estimate(ctx, params, checkpoint)`: the total units of work, or None if unknown.
    - `step(ctx, params, checkpoint)`: do one bounded piece of work (well under
      `[jobs] lease_seconds`; on SQLite it holds the write lock); return the new checkpoint,
      or None when there is nothing left to do.
    - `result(ctx, params, checkpoint)`: the JSON summary kept on the run (default: the
      checkpoint's fields).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params_model: ClassVar[type[Params]] = Params
    checkpoint_model: ClassVar[type[Checkpoint]] = Checkpoint
    permission: ClassVar[Permission] = Permission.JOBS_RUN
    transactional: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is JobKind:
                params, checkpoint = get_args(base)
                if isinstance(params, type) and issubclass(params, Params):
                    cls.params_model = params
                if isinstance(checkpoint, type) and issubclass(checkpoint, Checkpoint):
                    cls.checkpoint_model = checkpoint

    def parse(self, raw: Mapping[str, Any]) -> P:
        """Typed params from raw values; ValidationError names the parameter."""
        try:
            return self.params_model.model_validate(dict(raw))  # type: ignore[return-value]
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(p) for p in first["loc"]) or "params"
            if first["type"] == "extra_forbidden":
                known = ", ".join(self.params_model.model_fields) or "none"
                raise ValidationError(f"param {name}", f"{self.name} has no such parameter; "
                                      f"known: {known}") from None
            message = first["msg"].removeprefix("Value error, ")
            raise ValidationError(f"param {name}", message) from None

    def check(self, db: Session, actor: Principal, params: P) -> None:
        return None

    def locks(self, params: P) -> Iterable[str]:
        return (self.name,)

    def estimate(self, ctx: JobContext, params: P, checkpoint: C) -> int | None:
        return None

    def step(self, ctx: JobContext, params: P, checkpoint: C) -> C | None:
        raise NotImplementedError

    def result(self, ctx: JobContext, params: P, checkpoint: C) -> dict[str, Any]:
        return checkpoint.model_dump(mode="json")

    # -- storage helpers used by the framework --------------------------------------------

    def load_checkpoint(self, text: str | None) -> C:
        data = json.loads(text) if text else {}
        return self.checkpoint_model.model_validate(data)  # type: ignore[return-value]

    def load_params(self, text: str) -> P:
        return self.parse(json.loads(text or "{}"))


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str  # int | float | bool | str | choice
    default: Any
    required: bool
    description: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindInfo:
    name: str
    title: str
    description: str
    permission: str
    params: tuple[ParamInfo, ...]


def describe(kind: JobKind[Any, Any]) -> KindInfo:
    params = []
    for name, field in kind.params_model.model_fields.items():
        annotation = field.annotation
        choices: tuple[str, ...] = ()
        kind_name = getattr(annotation, "__name__", str(annotation))
        if isinstance(annotation, type) and issubclass(annotation, bool):
            kind_name = "bool"
        elif isinstance(annotation, type) and issubclass(annotation, str) and \
                hasattr(annotation, "__members__"):
            choices = tuple(m.value for m in annotation.__members__.values())  # type: ignore[attr-defined]
            kind_name = "choice"
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(default, Enum):  # shown and offered as its value, like the choices
            default = default.value
        params.append(ParamInfo(name=name, type=kind_name, default=default,
                                required=field.is_required(),
                                description=field.description or "", choices=choices))
    return KindInfo(kind.name, kind.title or kind.name, kind.description,
                    kind.permission.value, tuple(params))


# -- the registry ---------------------------------------------------------------------------

_REGISTRY: dict[str, JobKind[Any, Any]] = {}
_DISCOVERED = False
_DISCOVERY_LOCK = threading.Lock()
K = TypeVar("K", bound=type[JobKind[Any, Any]])


def job_kind(cls: K) -> K:
    """Register a job kind (the one declaration). Modules in `console/job_kinds/` are
    imported when the registry is first used, so a new kind there needs nothing else."""
    if not cls.name or cls.name != cls.name.strip().lower() or " " in cls.name:
        raise TypeError(f"{cls.__name__}.name must be a lower-case name without spaces")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise TypeError(f"job kind {cls.name!r} is already registered by "
                        f"{type(existing).__module__}.{type(existing).__qualname__}")
    _REGISTRY[cls.name] = cls()
    return cls


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    with _DISCOVERY_LOCK:
        if _DISCOVERED:
            return
        import console.job_kinds as package

        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
        _DISCOVERED = True


def registered() -> dict[str, JobKind[Any, Any]]:
    _discover()
    return dict(sorted(_REGISTRY.items()))


def find_kind(name: str) -> JobKind[Any, Any] | None:
    _discover()
    return _REGISTRY.get(name)


def get_kind(name: str) -> JobKind[Any, Any]:
    """The kind called `name`; NotFound lists the known ones."""
    kind = find_kind(name)
    if kind is None:
        raise NotFound(f"unknown job kind {name!r}; known: {', '.join(registered()) or 'none'}")
    return kind
