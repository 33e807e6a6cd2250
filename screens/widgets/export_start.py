"""Starting what the export form asked for, from any area: the Exports area's register and
the log browser's `e` (its current view as a bundle) go through the same steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from console.errors import ConsoleError
from console.export.backup import BackupSpec, begin_backup
from console.export.service import begin_export, spec_from_values
from console.jobs import Started
from screens.widgets.export_form import ExportFormScreen, ExportRequest

if TYPE_CHECKING:
    from screens.base import AreaScreen


def start_export(screen: AreaScreen, form: ExportFormScreen, request: ExportRequest,
                 after: Callable[[], None] | None = None) -> None:
    """Register the export (or backup) and start its job: in this console's threads, or
    queued for the scheduler when one runs. Errors show in the form, which stays open;
    `after` runs once it has started."""
    runtime = screen.console.runtime
    if request.kind == "backup":
        values = request.values
        spec = BackupSpec(recipients=tuple(values["recipients"].split())
                          if values["protection"] == "recipients" else (),
                          passphrase=request.passphrase,
                          no_encrypt=values["protection"] == "none")
        screen.app.run_service(form, begin_backup, spec, settings=runtime.settings,
                               keys=runtime.keys, on_error=form.show_error,
                               on_done=lambda made: _begun(screen, form, f"backup #{made[0].id}",
                                                           made[1], [], after),
                               group="form-submit")
        return
    try:
        spec = spec_from_values(request.kind, request.values, request.passphrase,
                                view=request.log_filter)
    except ConsoleError as exc:
        form.show_error(exc)
        return
    screen.app.run_service(form, begin_export, spec, settings=runtime.settings,
                           keys=runtime.keys, on_error=form.show_error,
                           on_done=lambda begun: _begun(
                               screen, form, f"export #{begun.export.id}", begun.started,
                               begun.warnings, after),
                           group="form-submit")


def _begun(screen: AreaScreen, form: ExportFormScreen, what: str, started: Started,
           warnings: list[str], after: Callable[[], None] | None) -> None:
    form.dismiss(None)
    for warning in warnings:
        screen.notify(warning, severity="warning", timeout=10, markup=False)
    console = screen.console
    if started.claim is not None and console.principal is not None:
        console.local_jobs.launch(started.claim, console.principal)
        screen.notify(f"{what} is being written in this console (job #{started.run.id}); "
                      "the Exports area shows it.", markup=False)
    else:
        screen.notify(f"{what} queued for the scheduler (job #{started.run.id}); the "
                      "Exports area shows it.", markup=False)
    if after is not None:
        after()
