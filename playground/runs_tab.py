"""The Runs tab: the session's runs kept side by side (playground/runs.py) — a table (the same colour per run as
in the plots), the loss and held-out exact match of the runs ticked, overlaid, and a run made current (decode,
compare, continue, download), renamed or deleted. /runs, /make_current, /rename_run and /delete_run are declared
over the same components in `declare_runs_api`."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import limits, runs, views
from .page import say
from .registry import checked, session_of
from .runs import RunError
from .sessions import Session
from .train_tab import TrainTab
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
PRIVATE = dict(api_visibility="private", preprocess=False)
INTRO = (f"Every model trained in this session is a **run** (at most {limits.MAX_RUNS} are kept; the oldest goes "
         "first; continuing a model makes its run longer): change one setting, train a new model, and its curve is "
         "drawn beside the last. Any run can become the current model again (Decode, Compare, Train, downloads).")
NO_RUNS = "No runs yet: press **Train** on the Train tab, then change a setting and train a new model."


@dataclass
class RunsTab:
    table: gr.Dataframe
    overlay: gr.CheckboxGroup
    loss_plot: gr.LinePlot
    accuracy_plot: gr.LinePlot
    choice: gr.Dropdown
    name: gr.Textbox
    message: gr.HTML
    refresh: dict           # show the session's runs (after a training, a load, the tab opened)
    make_current_event: object  # for what follows a run made current (the Decode tab's model line)


def build_runs_tab(session_state: gr.State, train: TrainTab) -> RunsTab:
    gr.Markdown(INTRO, elem_id="runs-intro")
    message = gr.HTML("", elem_id="runs-message", visible=False)
    table = gr.Dataframe(headers=list(runs.TABLE_COLUMNS), interactive=False, wrap=True, elem_id="runs-table",
                         max_height=260, show_search="none", column_widths=runs.COLUMN_WIDTHS)
    with gr.Row(elem_id="runs-plots"):
        loss_plot = gr.LinePlot(None, x="step", y="loss", color="run", title="Training loss (smoothed)",
                                elem_id="runs-loss", height=200, min_width=280, x_axis_format="d")
        accuracy_plot = gr.LinePlot(None, x="step", y="percent", color="run", title="Held-out exact match, %",
                                    y_lim=[0, 100], elem_id="runs-accuracy", height=200, min_width=280,
                                    x_axis_format="d")
    overlay = gr.CheckboxGroup([], label="Overlay these runs", elem_id="runs-overlay")
    with gr.Row(equal_height=True, elem_id="run-actions"):
        choice = gr.Dropdown([], label="Run", elem_id="run-choice", min_width=160, scale=2)
        name = gr.Textbox(label="Its name", max_length=runs.MAX_NAME, elem_id="run-name", min_width=160, scale=2)
        rename = gr.Button("Rename", elem_id="rename-run", min_width=90)
        make_current = gr.Button("Make current", variant="primary", elem_id="make-current", min_width=110)
        delete = gr.Button("Delete", variant="stop", elem_id="delete-run", min_width=90)

    plot_outputs = [loss_plot, accuracy_plot]
    outputs = [table, overlay, choice, name, message, *plot_outputs]

    def view(session, chosen=None, said: str | None = None, kind: str = "info"):
        """The tab's updates for the session's runs: two, the plots None first (a LinePlot draws only the colour
        series of its first data), then drawn."""
        session = session if isinstance(session, Session) else None
        kept = session.runs if session is not None else []
        labels = [r.label for r in kept]
        ticked = [r.label for r in kept if r.number not in session.hidden_runs]  # a new run is ticked
        run = next((r for r in kept if r.label == chosen), None) or (runs.current(session) if session else None) \
            or (kept[-1] if kept else None)
        text = said or ("" if kept else NO_RUNS.replace("**", ""))
        base = {table: styled_table(session), overlay: gr.update(choices=labels, value=ticked),
                choice: gr.update(choices=labels, value=run.label if run else None),
                name: run.name if run else "", message: say(text, kind)}
        yield {**base, loss_plot: None, accuracy_plot: None}
        yield dict(zip(plot_outputs, overlaid(session, ticked)))

    @guarded
    def show(session):
        yield from view(checked(session))

    @guarded
    def ticked_changed(session, ticked):
        session = checked(session)
        if session is not None:  # remembered by number: a renamed run stays as it was ticked
            session.hidden_runs = {r.number for r in session.runs if r.label not in (ticked or [])}
        yield {session_state: session if session is not None else gr.skip(), loss_plot: None, accuracy_plot: None}
        yield dict(zip(plot_outputs, overlaid(session, ticked)))

    @guarded
    def chosen(session, label):
        session = checked(session)
        try:
            return runs.find(session, label).name if session is not None else ""
        except RunError:
            return ""

    def acting(act, session, label, request, *args):
        session = session_of(session, request)
        try:
            said = act(session, label, *args)
        except RunError as e:
            yield from view(session, label, str(e), "error")
            return
        yield from view(session, said[1] if isinstance(said, tuple) else label,
                        said[0] if isinstance(said, tuple) else said)

    @guarded
    def rename_on_page(session, label, new_name, request: gr.Request):
        def act(s, which, new):
            run = runs.rename(s, which, new)
            return f"Renamed run {run.number} “{run.name}”.", run.label
        yield from acting(act, session, label, request, new_name)

    @guarded
    def delete_on_page(session, label, request: gr.Request):
        def act(s, which):
            return f"Deleted run “{runs.delete(s, which)}”."
        yield from acting(act, session, label, request)

    @guarded
    def make_current_on_page(session, label, request: gr.Request):
        session = session_of(session, request)
        try:
            run = runs.make_current(session, label)
        except RunError as e:
            yield from view(session, label, str(e), "error")
            return
        sentence = made_current(run)
        first = True
        for update in view(session, run.label, sentence):
            if first:  # the Train tab shows it too: its settings in the form, its curve, its downloads
                update = {**train.show_model(session, sentence, downloads=True), **update}
                first = False
            yield update

    refresh = dict(fn=show, inputs=[session_state], outputs=outputs, **PRIVATE, show_progress="hidden")
    overlay.input(ticked_changed, [session_state, overlay], [session_state, *plot_outputs], **PRIVATE,
                  show_progress="hidden")
    choice.input(chosen, [session_state, choice], name, **PRIVATE, show_progress="hidden")
    rename.click(rename_on_page, [session_state, choice, name], outputs, **PRIVATE)
    delete.click(delete_on_page, [session_state, choice], outputs, **PRIVATE)
    make_current_event = make_current.click(make_current_on_page, [session_state, choice],
                                            [*outputs, *train.show_outputs], **PRIVATE)
    return RunsTab(table, overlay, loss_plot, accuracy_plot, choice, name, message, refresh, make_current_event)


def overlaid(session, ticked) -> tuple:
    """The loss and exact-match plots' updates: the ticked runs' curves, each in its run's colour."""
    loss, accuracy = runs.overlay(session, ticked) if session is not None else (None, None)
    colours = runs.colour_map(session) if session is not None else {}
    return gr.update(value=loss, color_map=colours), gr.update(value=accuracy, color_map=colours)


def made_current(run) -> str:
    return (f"Run {run.number} “{run.name}” is the current model ({views.describe_config(run.model.config, run.parameters)}, "
            f"step {run.history.last_step:,}): Decode and Compare use it, Train continues it.")


def styled_table(session):
    """The runs' table, each run's ■ in its colour (the plots' colour); an empty table before any run."""
    frame = runs.table(session)
    if frame.empty:
        return frame
    colours = {f"■ {r.number}": r.colour for r in session.runs}
    return frame.style.apply(lambda column: [f"color: {colours.get(v, 'inherit')}; font-weight: 700"
                                             for v in column], subset=["run"])


def declare_runs_api(session_state: gr.State, tab: RunsTab) -> None:
    """/runs, /make_current, /rename_run, /delete_run: what the tab shows, for a program (docs/api.md)."""
    as_sent = dict(preprocess=False)

    def answer(session, said: str) -> tuple:
        return (styled_table(session), *overlaid(session, [r.label for r in session.runs]), said)

    def acting(act, session, request, *args):
        session = session_of(session, request)
        try:
            said = act(session, *args)
        except RunError as e:
            raise gr.Error(str(e), title="No such run") from None
        return (session, *answer(session, said))

    @guarded
    def runs_endpoint(session, request: gr.Request):
        """/runs: the table of this session's runs, their loss and exact match overlaid, and a sentence."""
        session = session_of(session, request)
        return (session, *answer(session, f"{len(session.runs)} run(s) kept (at most {limits.MAX_RUNS})."))

    @guarded
    def make_current_endpoint(run, session, request: gr.Request):
        """/make_current: that run's model becomes this session's (decode, compare, continue, download)."""
        return acting(lambda s, which: made_current(runs.make_current(s, which)), session, request, run)

    @guarded
    def rename_endpoint(run, name, session, request: gr.Request):
        """/rename_run: give a run another name."""
        def act(s, which, new):
            r = runs.rename(s, which, new)
            return f"Renamed run {r.number} “{r.name}”."
        return acting(act, session, request, run, name)

    @guarded
    def delete_endpoint(run, session, request: gr.Request):
        """/delete_run: forget a run (the current model stays the session's)."""
        return acting(lambda s, which: f"Deleted run “{runs.delete(s, which)}”.", session, request, run)

    shown = [session_state, tab.table, tab.loss_plot, tab.accuracy_plot, tab.message]
    gr.on([], runs_endpoint, [session_state], shown, api_name="runs", **as_sent)
    gr.on([], make_current_endpoint, [tab.choice, session_state], shown, api_name="make_current", **as_sent)
    gr.on([], rename_endpoint, [tab.choice, tab.name, session_state], shown, api_name="rename_run", **as_sent)
    gr.on([], delete_endpoint, [tab.choice, session_state], shown, api_name="delete_run", **as_sent)
