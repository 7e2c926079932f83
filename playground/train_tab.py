"""The Train tab: the settings form (built from the controls table), Train and Stop, the status, the loss and
accuracy plots, the live preview, and saving or loading a model. Its events are the page's own (private);
/train, /stop and /load are declared in `playground.api` over the same components."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from seq2seq import Task, make_spec
from seq2seq.controls import DATA_TASK
from seq2seq.data import DataTask

from . import limits, settings, views
from .links import ShareBox, build_share_box
from .page import download, field, message_html, say, scroll_to
from .pace_box import build_pace_buttons, build_paused_box, wire_pace
from .pairs import DETECT, EXAMPLES, SUFFIXES, TOKEN_CHOICES, give_pairs, retokenize
from .gradio_internals import unread_updates
from .registry import RUNNING, session_key
from .sessions import Session
from .settings import SettingsError
from .training import Frame, plots, preview_rows, stop, task_of, training, watch_default
from .uploads import form_values_of, read_upload
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))  # an unexpected failure is a sentence, never Gradio's generic error
PRIVATE = dict(api_visibility="private", preprocess=False)  # values arrive as sent: the handler checks them
EMPTY_PLOTS = ("Press **Train** to see the loss fall and the held-out accuracy rise (held-out: sources never used "
               "for training).")
STARTING = "Starting: the loss and the held-out accuracy are drawn from the first steps on."
GROUPS = {"model": "Model", "training": "Training", "stopping": "When to stop"}


@dataclass
class TrainTab:
    """The Train tab's components that other tabs and the API use."""
    form: dict[str, gr.components.Component]
    mode: gr.Radio
    status: gr.Textbox
    loss_plot: gr.LinePlot
    accuracy_plot: gr.LinePlot
    checkpoint_file: gr.DownloadButton
    metrics_file: gr.DownloadButton
    upload: gr.UploadButton
    upload_status: gr.HTML
    train_event: object  # the Train click's event, for what follows a run
    data_upload: gr.UploadButton  # your own pairs: a file, an example, pasted text, their tokens and what was read
    paste: gr.Textbox
    source_tokens: gr.Dropdown
    target_tokens: gr.Dropdown
    data_status: gr.HTML
    preset: gr.Radio | None = None  # links (playground/links.py): the preset, what a new task shows, and the row
    task_outputs: object = None     # that shares the settings
    share: ShareBox | None = None
    preset_updates: object = None  # (name, values over it, task name, session) -> the updates that choose a preset
    preset_outputs: list | None = None  # ... and the components they update
    lr_now: gr.components.Component | None = None  # the pace's: the rates to change while paused
    tf_now: gr.components.Component | None = None
    show_model: object = None  # (session, sentence, downloads) -> the updates that show the session's model
    show_outputs: list | None = None  # ... and the components they update


def form_field(s: settings.Setting, **kw) -> gr.components.Component:
    """The form's component for a setting, showing the default preset's value."""
    return field(s, settings.PRESETS[settings.DEFAULT_PRESET][s.name], f"setting-{s.name.replace('_', '-')}", **kw)


def model_fields_used(arch) -> dict[str, bool]:
    """Which model fields the architecture uses (the others are hidden)."""
    unused = settings.RNN_ONLY if arch == "transformer" else settings.TRANSFORMER_ONLY
    return {name: name not in unused for name in settings.MODEL_FIELDS}


def form_updates(form: dict, values: dict) -> dict:
    """Updates for every form field: the value given (or none), and for the model fields whether the
    architecture uses them."""
    used = model_fields_used(values.get("arch", "rnn"))
    updates = {}
    for name, component in form.items():
        if name in used:
            updates[component] = (gr.update(value=values[name], visible=used[name]) if name in values
                                  else gr.update(visible=used[name]))
        elif name in values:
            updates[component] = values[name]
    return updates


def build_train_tab(demo: gr.Blocks, session_state: gr.State) -> TrainTab:
    """The Train tab's layout and its page events."""
    d = settings.PRESETS[settings.DEFAULT_PRESET]
    first_task = Task(make_spec(d["task"], d["min_len"], d["max_len"]))
    form: dict[str, gr.components.Component] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=320, elem_id="train-settings"):
            preset = gr.Radio(list(settings.PRESETS), value=settings.DEFAULT_PRESET, label="Preset", elem_id="preset")
            preset_note = gr.Markdown(settings.PRESET_NOTES[settings.DEFAULT_PRESET], elem_id="preset-note")
            with gr.Row():
                for name in ("task", "min_len", "max_len"):
                    form[name] = form_field(limits.SETTINGS[name], min_width=130 if name == "task" else 90)
            task_note = gr.Markdown(views.describe_task(first_task), elem_id="task-note")
            with gr.Group(visible=d["task"] == DATA_TASK, elem_id="data-box") as data_box:
                gr.Markdown(f"One pair per line: a **.tsv** (source, tab, target), **.csv**, **.jsonl** "
                            f"(`{{\"source\": …, \"target\": …}}`) or **.txt** file, or pasted (source, a tab or "
                            f"`->`, target): {limits.DATA.describe()}.", elem_id="data-help")
                with gr.Row():
                    data_upload = gr.UploadButton("Upload pairs", file_types=list(SUFFIXES), size="sm",
                                                  elem_id="upload-data", min_width=120)
                    example_buttons = {name: gr.Button(f"Example: {name}", size="sm", elem_id=f"example-{name}",
                                                       min_width=120) for name in EXAMPLES}
                paste = gr.Textbox(label="…or paste pairs", lines=3, max_lines=8, elem_id="paste-data",
                                   placeholder="3 March 2021\t2021-03-03\njump twice -> JUMP JUMP")
                use_paste = gr.Button("Use the pasted pairs", size="sm", elem_id="use-pasted")
                with gr.Row():
                    source_tokens = gr.Dropdown(TOKEN_CHOICES, value=DETECT, label="Source tokens",
                                                elem_id="data-source-tokens", min_width=120)
                    target_tokens = gr.Dropdown(TOKEN_CHOICES, value=DETECT, label="Target tokens",
                                                elem_id="data-target-tokens", min_width=120)
                data_status = gr.HTML(message_html("No pairs yet: upload a file, paste pairs or try an example.",
                                                   "info"), elem_id="data-status")
            for group, title in GROUPS.items():
                with gr.Accordion(title, open=False, elem_id=f"settings-{group}"):
                    if group == "model":
                        diagram = gr.HTML(views.diagram_html(settings.model_config(d, len(first_task.vocab)),
                                                             len(first_task.vocab)), elem_id="model-diagram-box")
                    with gr.Row():
                        for s in settings.form_order(limits.SETTINGS, group):
                            shown = model_fields_used(d["arch"]).get(s.name, True)
                            form[s.name] = form_field(s, min_width=140, visible=shown)
            with gr.Accordion("Watch these sources while it trains", open=False, elem_id="watch-box"):
                watch = gr.Textbox(watch_default(first_task), lines=4, max_lines=6, show_label=False,
                                   info=f"One source per line (at most {settings.MAX_WATCH}): their answers are "
                                        f"shown live.", elem_id="watch-sources")
            with gr.Accordion("Save or load a model", open=False, elem_id="save-load"):
                with gr.Row():
                    checkpoint_file = gr.DownloadButton("Checkpoint (.zip)", visible=False,
                                                        elem_id="download-checkpoint", size="sm")
                    metrics_file = gr.DownloadButton("Metrics (.csv)", visible=False, elem_id="download-metrics",
                                                     size="sm")
                    upload = gr.UploadButton("Load a checkpoint (.zip)", file_types=[".zip"], size="sm",
                                             elem_id="upload-checkpoint")
                upload_status = gr.HTML(message_html("A checkpoint downloaded here loads back as your model: decode "
                                                     "with it, or train it further.", "info"), elem_id="upload-status")
            share = build_share_box()
        with gr.Column(scale=7, min_width=320, elem_id="train-results"):
            with gr.Row(equal_height=True, elem_id="train-controls"):
                mode = gr.Radio(list(settings.MODES), value="continue", label="When you press Train",
                                elem_id="train-mode", scale=3, min_width=320)
                paused_box = build_paused_box()  # while paused, in the mode's place: the rates to change
                with gr.Row(elem_id="train-buttons"):  # on a phone: a bar fixed at the bottom (Stop never scrolls off)
                    train_button = gr.Button("Train", variant="primary", elem_id="train-button", min_width=70)
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button", min_width=60)
                    pace_buttons = build_pace_buttons()  # the lab bench: Pause, One step, Slow
            settings_message = gr.HTML("", elem_id="settings-message", visible=False)
            status = gr.Textbox(label="Status", value="Not trained yet: press Train.", interactive=False,
                                elem_id="train-status", lines=2, max_lines=5)
            empty_plots = gr.Markdown(EMPTY_PLOTS, elem_id="empty-plots")
            with gr.Row(visible=False, elem_id="plots") as plot_row:
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss",
                                        color_map=views.LOSS_COLOURS, elem_id="loss-plot", height=200, min_width=280,
                                        x_axis_format="d")
                accuracy_plot = gr.LinePlot(None, x="step", y="percent", color="series",
                                            title="Held-out accuracy, %", y_lim=[0, 100],
                                            color_map=views.ACCURACY_COLOURS, elem_id="accuracy-plot", height=200,
                                            min_width=280, x_axis_format="d")
            log_scale = gr.Checkbox(False, label="Loss on a log scale (log₁₀)", elem_id="log-scale", container=False)
            preview = gr.HTML(views.preview_html(preview_rows(first_task, settings.watch_sources(
                watch_default(first_task), first_task), None)), elem_id="preview", elem_classes="scroll-x")

    # ------------------------------------------------------------ the form's own events

    def preset_updates(name: str, over: dict | None = None, task_name=None, session=None) -> dict:
        """The preset's values (with `over` over them) in every field, showing the fields its architecture uses, its
        note, its task's note, its model's diagram and preview sources. With "your pairs" chosen and given, the task
        stays theirs: a preset sets the model and the training, not the data."""
        values = {**settings.PRESETS[name], **(over or {})}
        own = task_name == DATA_TASK and isinstance(session, Session) and session.data is not None
        if own:
            values = {**values, "task": DATA_TASK}
            task: Task = session.data
        else:
            task = Task(make_spec(values["task"], values["min_len"], values["max_len"]))
        return {preset: name, **form_updates(form, values), preset_note: settings.PRESET_NOTES[name],
                diagram: views.diagram_html(settings.model_config(values, len(task.vocab)), len(task.vocab)),
                settings_message: say(), **task_outputs(task, own)}

    @guarded
    def apply_preset(name, task_name=None, session=None):
        """A preset chosen: its values in the form (see preset_updates)."""
        if name not in settings.PRESETS:
            raise gr.Error(f"Preset must be one of: {', '.join(settings.PRESETS)}.", title="Unknown preset")
        return preset_updates(name, None, task_name, session)

    def task_outputs(task: Task, data_chosen: bool) -> dict:
        """What the form shows for a task: its lengths (your pairs': fixed, the data's), its note, a few of its
        held-out sources to watch, and the pairs' box when "your pairs" is chosen."""
        return {form["min_len"]: gr.update(value=task.spec.min_len, interactive=not isinstance(task, DataTask)),
                form["max_len"]: gr.update(value=task.spec.max_len, interactive=not isinstance(task, DataTask)),
                task_note: views.describe_task(task), watch: watch_default(task),
                data_box: gr.update(visible=data_chosen)}

    @guarded
    def task_changed(task_name, session):
        """New task: its default lengths, its description, a few of its held-out sources to watch; for "your
        pairs", the box to give them (and, once given, their lengths)."""
        try:
            name = settings.choice(limits.SETTINGS["task"], task_name)
        except SettingsError as e:
            raise gr.Error(str(e), title=e.title) from None
        if name == DATA_TASK:
            if isinstance(session, Session) and session.data is not None:
                return task_outputs(session.data, True)
            return {task_note: "**your pairs**: give them below (a file, pasted, or an example), then press Train.",
                    data_box: gr.update(visible=True), watch: ""}
        return task_outputs(Task(make_spec(name)), False)

    def pairs_outputs(session: Session, sentence: str) -> dict:
        """After pairs were read: the session, what was read, the tokens as chosen, and the form on "your pairs"."""
        data = session.data
        return {session_state: session, data_status: message_html(sentence, "info"), form["task"]: DATA_TASK,
                source_tokens: data.vocab.tokenize[0], target_tokens: data.vocab.tokenize[1],
                **task_outputs(data, True),
                preview: views.preview_html(preview_rows(data, settings.watch_sources(watch_default(data), data),
                                                         None))}

    @guarded
    def pairs_given(file, text, example, src, trg, session, request: gr.Request):
        """Pairs from a file, an example or pasted text: read into the session (a bad file: one sentence, and
        nothing changes)."""
        try:
            session, sentence = give_pairs(file, text, example, src, trg, session, request)
        except gr.Error as e:
            return {data_status: message_html(e.message)}
        return pairs_outputs(session, sentence)

    @guarded
    def tokens_changed(src, trg, session):
        try:
            session, sentence = retokenize(src, trg, session)
        except gr.Error as e:
            return {data_status: message_html(e.message)}
        return pairs_outputs(session, sentence)

    @guarded
    def lengths_changed(task, min_len, max_len, session):
        """New lengths: the task's note says so (and its floor, the lowest loss possible, for random)."""
        if task == DATA_TASK:
            return gr.skip()  # your pairs' lengths are the data's
        return views.describe_task(task_of({"task": task, "min_len": min_len, "max_len": max_len}, session))

    @guarded
    def model_changed(session, **values):
        """The diagram, with the sizes as they now are (a value out of range keeps the last diagram), and only the
        fields the chosen architecture uses."""
        shown = {form[name]: gr.update(visible=used) for name, used in model_fields_used(values.get("arch")).items()}
        try:
            task = task_of(values, session)
            config = settings.model_config(values, len(task.vocab))
        except (SettingsError, ValueError):
            return shown
        return {**shown, diagram: views.diagram_html(config, len(task.vocab))}

    @guarded
    def preview_changed(text, task, min_len, max_len, session):
        task = task_of({"task": task, "min_len": min_len, "max_len": max_len}, session)
        try:
            sources = settings.watch_sources(text, task)
        except SettingsError as e:
            return {preview: views.preview_html([]), settings_message: say(str(e))}
        return {preview: views.preview_html(preview_rows(task, sources, None)), settings_message: say()}

    @guarded
    def redraw(log, session):
        """Log scale on or off: the loss plot again from the session's history."""
        if not isinstance(session, Session):
            return gr.skip()
        session.log_scale = bool(log)
        return plots(session)[0] if session.history.losses else gr.skip()

    lengths = [form["task"], form["min_len"], form["max_len"]]
    # .input, not .change: a person choosing a preset fills the form; a link or the tour setting the radio sets the
    # form too, in the same update, with its own values over the preset's
    preset_outputs = [preset, *form.values(), preset_note, task_note, watch, diagram, settings_message, data_box]
    preset.input(apply_preset, [preset, form["task"], session_state], preset_outputs, **PRIVATE)
    form["task"].input(task_changed, [form["task"], session_state],
                       [form["min_len"], form["max_len"], task_note, watch, data_box], **PRIVATE)
    for name in ("min_len", "max_len"):
        form[name].change(lengths_changed, [*lengths, session_state], task_note, **PRIVATE)
    model_inputs = {name: form[name] for name in (*settings.MODEL_FIELDS, "task", "min_len", "max_len")}
    for name in (*settings.MODEL_FIELDS, "task"):
        form[name].change(model_changed, [session_state], inputs_kwargs=model_inputs,
                          outputs=[diagram, *[form[n] for n in settings.MODEL_FIELDS]], **PRIVATE,
                          show_progress="hidden")
    watch.change(preview_changed, [watch, *lengths, session_state], [preview, settings_message], **PRIVATE,
                 show_progress="hidden")
    pairs_outputs_list = [session_state, data_status, form["task"], source_tokens, target_tokens, form["min_len"],
                          form["max_len"], task_note, watch, data_box, preview]
    no_file, no_text, no_example = gr.State(None), gr.State(""), gr.State(None)
    data_upload.upload(pairs_given, [data_upload, no_text, no_example, source_tokens, target_tokens, session_state],
                       pairs_outputs_list, **PRIVATE)
    for name, button in example_buttons.items():
        button.click(pairs_given, [no_file, no_text, gr.State(name), source_tokens, target_tokens, session_state],
                     pairs_outputs_list, **PRIVATE)
    use_paste.click(pairs_given, [no_file, paste, no_example, source_tokens, target_tokens, session_state],
                    pairs_outputs_list, **PRIVATE)
    for menu in (source_tokens, target_tokens):
        menu.input(tokens_changed, [source_tokens, target_tokens, session_state], pairs_outputs_list, **PRIVATE)
    log_scale.change(redraw, [log_scale, session_state], loss_plot, **PRIVATE)

    # ------------------------------------------------------------ Train, Stop, Load

    def unread(key: str) -> int:
        return unread_updates(demo, key)

    @guarded
    def train_on_page(session, mode, watch_text, request: gr.Request, **values):
        """The Train button: as /train, plus the live preview; a bad setting is one sentence beside the button,
        and what the page shows stays as it was."""
        try:
            for f in training(values, mode, watch_text, session, request, unread):
                drawing = f.loss is not None  # a new model's plots appear with its first losses, not as empty boxes
                yield {**frame_outputs(f), preview: f.preview, settings_message: say(),
                       empty_plots: gr.update(visible=False) if drawing else gr.update(visible=True, value=STARTING),
                       plot_row: gr.update(visible=drawing),
                       **(pace_box.controls(False, False) if f.ended else {})}  # over: Pause and Slow as they start
        except SettingsError as e:
            yield {settings_message: say(str(e))}

    def frame_outputs(f: Frame) -> dict:
        return {loss_plot: f.loss, accuracy_plot: f.accuracy, status: f.status,
                checkpoint_file: download(f.checkpoint), metrics_file: download(f.metrics), session_state: f.session}

    @guarded
    def stop_on_page(request: gr.Request):
        """The Stop button: as /stop, but a run that has already ended keeps its result on the page."""
        if session_key(request) in RUNNING:
            return stop(request)
        gr.Info("Nothing is training.")
        return gr.skip()

    @guarded
    def load_on_page(file, session, request: gr.Request):
        """Load a checkpoint from the page: it becomes the session's model everywhere. The form takes its settings
        (so Train continues it), the plots show its curve, the status its step."""
        try:
            session, sentence = read_upload(file, session, request)
        except gr.Error as e:
            return {upload_status: message_html(e.message)}
        return {**show_model(session, sentence), upload_status: message_html(sentence, "info")}

    def show_model(session: Session, sentence: str, downloads: bool = False) -> dict:
        """The session's model (loaded, or a kept run made current) on the Train tab: the form takes its settings
        (so Train continues it), the plots show its curve, the status says so; with `downloads`, its files."""
        loss, accuracy = plots(session)
        if not session.history.losses:  # a LinePlot draws only the series of its first data: wait for a loss
            loss = None
        own = isinstance(session.task, DataTask)
        shown = {session_state: session, **form_updates(form, form_values_of(session)), mode: "continue",
                 loss_plot: loss, accuracy_plot: accuracy,
                 status: f"{sentence} Press Train to continue it from step {session.history.last_step:,}.",
                 empty_plots: gr.update(visible=loss is None and accuracy is None),
                 plot_row: gr.update(visible=loss is not None or accuracy is not None),
                 **task_outputs(session.task, own)}
        if downloads:
            checkpoint_zip, metrics_csv = session.write_downloads(Path(get_upload_folder()))
            shown.update({checkpoint_file: download(str(checkpoint_zip)), metrics_file: download(str(metrics_csv))})
        return shown

    train_event = train_button.click(
        train_on_page, [session_state, mode, watch], inputs_kwargs=dict(form),
        outputs=[loss_plot, accuracy_plot, status, checkpoint_file, metrics_file, session_state, preview,
                 settings_message, empty_plots, plot_row, *pace_buttons.idle_outputs(paused_box, mode)],
        show_progress_on=[status], js=scroll_to("train-controls", 700, 790), concurrency_limit=limits.MAX_TRAININGS,
        concurrency_id="train", **PRIVATE)
    stop_button.click(stop_on_page, None, status, queue=False, **PRIVATE)
    pace_box = wire_pace(paused_box, pace_buttons, mode, status, settings_message)
    show_outputs = [session_state, *form.values(), mode, loss_plot, accuracy_plot, status, empty_plots, plot_row,
                    task_note, data_box, watch, checkpoint_file, metrics_file]
    upload.upload(load_on_page, [upload, session_state], [*show_outputs, upload_status], **PRIVATE)
    return TrainTab(form, mode, status, loss_plot, accuracy_plot, checkpoint_file, metrics_file, upload,
                    upload_status, train_event, data_upload, paste, source_tokens, target_tokens, data_status,
                    preset=preset, task_outputs=task_outputs, share=share,
                    preset_updates=preset_updates, preset_outputs=preset_outputs,
                    lr_now=paused_box.lr, tf_now=paused_box.teacher_forcing, show_model=show_model,
                    show_outputs=show_outputs)
