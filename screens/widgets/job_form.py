"""The start form: choose a job kind, fill its parameters, see where it will run, start."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from console import jobs
from console.display import literal
from console.errors import ConsoleError, ValidationError


class StartJobScreen(ModalScreen["jobs.Started | None"]):
    """Dismisses with the `Started` run (the caller launches a claimed one), or None."""

    DEFAULT_CSS = """
    StartJobScreen { align: center middle; }
    StartJobScreen > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; padding: 0 1; background: $surface;
    }
    StartJobScreen #form-title { text-style: bold; margin-bottom: 1; }
    StartJobScreen #kind { width: 1fr; }
    StartJobScreen #kind-description { color: $foreground-muted; margin-bottom: 1; }
    StartJobScreen #params { height: auto; max-height: 10; }
    StartJobScreen .param-row { height: 1; }
    StartJobScreen .param-name { width: 20; text-style: bold; }
    StartJobScreen .param-row Input, StartJobScreen .param-row Select { width: 1fr; }
    StartJobScreen .param-row Input { background: $boost; }
    StartJobScreen .param-row Input:focus { background: $primary 40%; }
    StartJobScreen .param-row Checkbox:focus { background: $primary 40%; }
    StartJobScreen .param-help { color: $foreground-muted; height: 1; }
    StartJobScreen #where { margin-top: 1; }
    StartJobScreen #form-error { color: $error; text-style: bold; }
    StartJobScreen #buttons { height: 1; margin-top: 1; }
    StartJobScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("escape", "close", "Cancel", id="jobs.form.cancel"),
        Binding("ctrl+s,f2", "submit", "Start", id="jobs.form.submit"),
    ]

    def __init__(self, kind: str | None = None) -> None:
        super().__init__()
        self.initial = kind
        self.kinds: dict[str, jobs.KindInfo] = {}
        self.plan: jobs.StartPlan | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Start a job", id="form-title")
            yield Select[str]([], id="kind", prompt="Job kind", allow_blank=True, compact=True)
            yield Static(id="kind-description", markup=False)
            params = VerticalScroll(id="params")
            params.can_focus = False  # Tab goes from the kind straight to the first field
            yield params
            yield Static("Checking whether a scheduler is running…", id="where",
                         markup=False)
            yield Static(id="form-error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Start (F2)", id="submit", variant="primary", disabled=True,
                             compact=True)
                yield Button("Cancel (Esc)", id="close", compact=True)

    def on_mount(self) -> None:
        app: Any = self.app
        app.run_service(self, jobs.list_kinds, on_done=self._got_kinds, group="form-kinds")
        app.run_service(self, jobs.plan_start, on_done=self._got_plan, group="form-plan")

    def _got_kinds(self, kinds: list[jobs.KindInfo]) -> None:
        self.kinds = {k.name: k for k in kinds}
        select = self.query_one("#kind", Select)
        select.set_options([(k.title, k.name) for k in kinds])
        if self.initial in self.kinds:
            select.value = self.initial
        elif kinds:
            select.value = kinds[0].name
        select.focus()

    def _got_plan(self, plan: jobs.StartPlan) -> None:
        self.plan = plan
        self.query_one("#where", Static).update(literal(plan.explanation, style="bold"))
        self._ready()

    def _ready(self) -> None:
        kind = self.query_one("#kind", Select).value
        self.query_one("#submit", Button).disabled = self.plan is None or kind not in self.kinds

    @on(Select.Changed, "#kind")
    async def _kind_changed(self, event: Select.Changed) -> None:
        info = self.kinds.get(str(event.value)) if event.value != Select.NULL else None
        self.query_one("#kind-description", Static).update(
            literal(info.description if info else ""))
        box = self.query_one("#params", VerticalScroll)
        await box.remove_children()
        if info is not None:
            widgets: list[Widget] = []
            for p in info.params:
                widgets.append(Horizontal(Label(literal(p.name, max_len=19),
                                                classes="param-name"),
                                          self._input_for(p), classes="param-row"))
                hint = p.description + (" (required)" if p.required else "")
                widgets.append(Static(literal(hint, max_len=74), classes="param-help"))
            await box.mount_all(widgets)
        self.query_one("#form-error", Static).update("")
        self._ready()

    @staticmethod
    def _input_for(p: jobs.ParamInfo) -> Widget:
        wid = f"param-{p.name}"
        if p.type == "bool":
            return Checkbox("yes", value=bool(p.default), id=wid, compact=True)
        if p.choices:
            return Select[str]([(c, c) for c in p.choices], id=wid, allow_blank=p.required,
                               value=str(p.default) if p.default is not None else Select.NULL,
                               compact=True)
        return Input(value="" if p.default is None else str(p.default), id=wid,
                     placeholder="required" if p.required else "", compact=True)

    def _values(self, info: jobs.KindInfo) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for p in info.params:
            widget = self.query_one(f"#param-{p.name}")
            if isinstance(widget, Checkbox):
                values[p.name] = widget.value
            elif isinstance(widget, Select):
                if widget.value != Select.NULL:
                    values[p.name] = widget.value
            elif isinstance(widget, Input) and (widget.value.strip() or p.required):
                values[p.name] = widget.value.strip()
        return values

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def action_submit(self) -> None:
        kind = self.query_one("#kind", Select).value
        info = self.kinds.get(str(kind))
        if info is None or self.plan is None:
            return
        self.query_one("#submit", Button).disabled = True
        app: Any = self.app
        app.run_service(self, jobs.start_run, info.name, self._values(info),
                        where=self.plan.where,
                        lease_seconds=app.settings.jobs.lease_seconds,
                        on_done=self.dismiss, on_error=self._failed, group="form-submit")

    def _failed(self, error: ConsoleError) -> None:
        self.query_one("#form-error", Static).update(literal(error.message))
        self.query_one("#submit", Button).disabled = False
        if isinstance(error, ValidationError) and error.field.startswith("param "):
            name = error.field.removeprefix("param ").split(".")[0]
            matches = self.query(f"#param-{name}")
            if matches:
                matches.first().focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
