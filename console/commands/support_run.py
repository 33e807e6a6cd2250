"""Running a support session: TOTP at the terminal, then the console as the engineer,
then the receipt. `support-session` (the SSH gate's forced command) calls this."""

from __future__ import annotations

import threading

import click

from console.commands.base import CliState, fail

TOTP_ATTEMPTS = 3


def run_support_session(state: CliState, engineer: str) -> None:
    from console.commands.tui import prepare_terminal
    from console.principal import ssh_source
    from console.support_rules import utc_text
    from console.support_sessions import (
        admit,
        close_abandoned,
        close_session,
        open_session,
        verify_totp,
    )

    runtime = state.runtime()
    settings = runtime.settings
    source = ssh_source()
    with runtime.database.scope() as db:  # refusals first: they reach the ssh client
        close_abandoned(db, runtime.keys)
        admission = admit(db, engineer, source=source)
    prepare_terminal(state, hint="connect with ssh -t")
    click.echo(f"FlowPro support session for {engineer}: grant #{admission.grant_id}, "
               f"scope {', '.join(admission.scope)}, until {utc_text(admission.ends_at)}.")
    for _ in range(TOTP_ATTEMPTS):
        code = click.prompt("TOTP code")
        with runtime.database.scope() as db:
            if verify_totp(db, settings.security, runtime.keys, admission, code, source=source):
                break
        click.echo("That code is wrong, expired or used already.", err=True)
    else:
        fail(f"{TOTP_ATTEMPTS} wrong TOTP codes: no support session was opened", 3)
    with runtime.database.scope() as db:
        principal = open_session(runtime.database, db, admission, source=source)

    from console.app import ConsoleApp
    from console.terminal import TerminalWatch

    app = ConsoleApp(runtime, principal=principal, exit_on_session_end=True)
    lock = threading.Lock()
    receipts: list[object] = []

    def finish(reason: str) -> None:
        with lock:  # the terminal watch and the main thread may both get here
            if receipts:
                return
            with runtime.database.scope() as db:
                receipts.append(close_session(db, runtime.keys, principal.session_id or "",
                                              reason))

    def lost(reason: str) -> None:
        app.terminal_lost(reason)
        finish(reason)

    watch = TerminalWatch(lost)
    watch.start()
    try:
        app.run(mouse=settings.ui.mouse and not state.no_mouse)
    except BaseException:
        finish("console error")
        raise
    finally:
        watch.stop()
    reason = app.end_reason or "quit"
    finish(reason)
    click.echo(f"Support session ended: {reason}.")
    receipt = receipts[0] if receipts else None
    if receipt is not None:
        click.echo(f"Receipt #{receipt.id} signed for grant #{receipt.grant_id}.")  # type: ignore[attr-defined]
