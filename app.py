"""seq2seq playground: train an LSTM encoder-decoder on a toy task and watch it learn, then watch it decode.

UI wiring only: components, events and per-session state. Every bit of model work is a call into the
`seq2seq` package; everything shown is formatted by `views`.
"""
import os

# no analytics, no hub calls: nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import copy  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402

import views  # noqa: E402
from seq2seq import (CheckpointError, DoneEvent, ModelConfig, Seq2Seq, StepEvent, Task, TrainConfig,  # noqa: E402
                     build_model, evaluate, greedy_decode, load_checkpoint, make_spec, save_checkpoint, train,
                     validation_set)
from seq2seq.checkpoint import CONFIG_FILE, WEIGHTS_FILE, training_summary  # noqa: E402
from seq2seq.history import History  # noqa: E402
from seq2seq.model import count_parameters  # noqa: E402
from seq2seq.tasks import TASK_NAMES, describe  # noqa: E402
from seq2seq.train import EvalEvent  # noqa: E402

torch.set_num_threads(1)  # one core per training: two sessions can train at once on a 2-vCPU Space

HERE = Path(__file__).parent
BUNDLED = {p.name: load_checkpoint(p) for p in sorted((HERE / "checkpoints").iterdir())
           if (p / CONFIG_FILE).exists()}  # read-only: shared by every session, never trained
MAX_TRAININGS = int(os.environ.get("SEQ2SEQ_MAX_TRAININGS", "2"))  # trainings at once; the rest queue
MAX_SECONDS = 600          # longest single training run, so one visitor cannot hold a slot for ever
UPDATE_EVERY = 0.75        # seconds between live updates of the plots and status
PLOT_POINTS = 300          # points per plotted series, however long the history
MAX_UPLOAD_BYTES = 50_000_000

# session_hash -> stop flag of the training running for that browser session (present only while it runs)
RUNNING: dict[str, threading.Event] = {}

PRESETS = {
    "Tuned default": dict(
        task="reverse", min_len=3, max_len=10, cell="lstm", emb_dim=32, hidden_dim=128, n_layers=1,
        dropout=0.0, attention=False, batch_size=128, lr=0.005, teacher_forcing=1.0, steps=1500,
        time_budget=120, target=0, lr_decay=True, seed=0),
    "Seed tutorial settings": dict(
        task="random", min_len=5, max_len=5, cell="lstm", emb_dim=16, hidden_dim=32, n_layers=2,
        dropout=0.5, attention=False, batch_size=32, lr=0.001, teacher_forcing=0.5, steps=1000,
        time_budget=120, target=0, lr_decay=False, seed=42),
}
PRESET_NOTES = {
    "Tuned default": "Learns **reverse** (3–10 digits) to about 100% held-out exact match in roughly "
                     "1,500 steps: a 1-layer LSTM with hidden size 128, batch 128, Adam at 0.005 "
                     "decaying to a tenth, full teacher forcing.",
    "Seed tutorial settings": "The tutorial's own model (2-layer LSTM, hidden 32, dropout 0.5, batch 32, "
                              "lr 0.001, teacher forcing 0.5) on its own data: **random** pairs, where each "
                              "target is drawn independently of its source. There is nothing to learn, so "
                              "the loss stays flat near ln 10 ≈ 2.3 however long you train — switch the task "
                              "to reverse to see the same model learn.",
}
DEFAULT_PRESET = "Tuned default"
SETTINGS = list(PRESETS[DEFAULT_PRESET])  # the order of the settings inputs, everywhere below

AUTO = "auto"
SESSION = "session"
MODEL_CHOICES = ([("Automatic: your trained model, else the bundled one for the Train tab's task", AUTO),
                  ("Your model (trained in this session)", SESSION)]
                 + [(f"Bundled: {name}", f"bundled:{name}") for name in BUNDLED])


@dataclass
class Session:
    """One browser session's work: its model, the task it learns, and every step of its history."""
    model: Seq2Seq | None = None
    task: Task | None = None
    history: History = field(default_factory=History)
    seconds: float = 0.0                    # training time over all runs
    folder: Path | None = None              # where this session's downloads are written
    source: str = "trained here"            # or "uploaded <name>"


# ---------------------------------------------------------------- settings


def read_settings(values: dict) -> tuple[Task, ModelConfig, TrainConfig]:
    """Settings from the form, checked; raises gr.Error with a sentence a person understands."""
    try:
        def whole(name: str, label: str) -> int:
            value = values[name]
            if value is None or float(value) != int(value):
                raise ValueError(f"{label} must be a whole number")
            return int(value)

        spec = make_spec(values["task"], whole("min_len", "min length"), whole("max_len", "max length"))
        task = Task(spec)
        model_config = ModelConfig(len(task.vocab), len(task.vocab), cell=values["cell"],
                                   emb_dim=whole("emb_dim", "embedding size"),
                                   hidden_dim=whole("hidden_dim", "hidden size"),
                                   n_layers=whole("n_layers", "layers"), dropout=float(values["dropout"] or 0),
                                   attention=bool(values["attention"]))
        steps = whole("steps", "steps")
        budget = float(values["time_budget"] or 0)
        if not 0 < budget <= MAX_SECONDS:
            raise ValueError(f"time budget must be between 1 and {MAX_SECONDS} seconds")
        target = float(values["target"] or 0)
        if not 0 <= target <= 100:
            raise ValueError("stop-early accuracy must be a percentage between 0 and 100 (0 = never)")
        if values["lr_decay"] and steps == 0:
            raise ValueError("learning-rate decay needs a number of steps to decay over")
        train_config = TrainConfig(batch_size=whole("batch_size", "batch size"), lr=float(values["lr"] or 0),
                                   teacher_forcing=float(values["teacher_forcing"]), steps=steps or None,
                                   time_budget=budget, target_accuracy=target / 100 or None,
                                   lr_decay=bool(values["lr_decay"]), seed=whole("seed", "seed"))
        model_config.validate()
        train_config.validate()
    except (ValueError, TypeError, KeyError) as e:
        raise gr.Error(f"Check the settings: {e}.".replace("..", "."), title="Cannot train") from None
    return task, model_config, train_config


def describe_model(model: Seq2Seq) -> str:
    c = model.config
    return (f"{c.n_layers}-layer {c.cell.upper()}, embedding {c.emb_dim}, hidden {c.hidden_dim}"
            f"{', attention' if c.attention else ''}; {count_parameters(model):,} parameters")


def describe_task(task: Task) -> str:
    s = task.spec
    unit = "digits per number" if s.name == "addition" else "tokens"
    return f"**{s.name}** ({s.min_len}–{s.max_len} {unit}): {describe(s.name)}"


def apply_preset(name: str):
    if name not in PRESETS:
        raise gr.Error(f"Unknown preset {name!r}.")
    return [PRESETS[name][key] for key in SETTINGS] + [PRESET_NOTES[name]]


def task_changed(name: str):
    """New task: its default lengths, and its description."""
    spec = make_spec(name)
    return spec.min_len, spec.max_len, describe_task(Task(spec))


# ---------------------------------------------------------------- training


def downloads(session: Session) -> tuple[str, str]:
    """Write the session's checkpoint (zip of config.json + model.safetensors) and metrics CSV."""
    if session.folder is None:
        session.folder = Path(tempfile.mkdtemp(prefix="seq2seq-playground-"))
    step = session.history.last_step
    name = f"seq2seq-{session.task.name}-step{step}"
    last = session.history.evals[-1] if session.history.evals else None
    folder = session.folder / name
    if folder.exists():
        shutil.rmtree(folder)
    save_checkpoint(folder, session.model, session.task, training_summary(
        step, session.seconds, last.exact_match if last else float("nan"),
        last.token_accuracy if last else float("nan"), trained_in="seq2seq playground app"))
    archive = session.folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for file in (CONFIG_FILE, WEIGHTS_FILE):
            z.write(folder / file, f"{name}/{file}")
    csv_path = session.folder / f"{name}-metrics.csv"
    csv_path.write_text(session.history.to_csv())
    return str(archive), str(csv_path)


def prepare_model(session: Session, mode: str, task: Task, model_config: ModelConfig,
                  train_config: TrainConfig) -> str:
    """Keep the session's model to continue, or build a new one; returns a sentence saying which."""
    if mode == "continue" and session.model is not None:
        old = session.model.config
        if old != model_config:
            changed = [f"{k} {getattr(old, k)} → {getattr(model_config, k)}" for k in vars(old)
                       if getattr(old, k) != getattr(model_config, k)]
            raise gr.Error(f"The model settings changed ({'; '.join(changed)}), so this model cannot continue. "
                           f"Set them back, or choose “Start a new model”.", title="Cannot continue")
        if session.task.vocab != task.vocab:
            raise gr.Error(f"{task.name} uses different tokens from {session.task.name}, so this model cannot "
                           f"continue on it. Choose “Start a new model”.", title="Cannot continue")
        session.task = task
        return f"continuing from step {session.history.last_step:,}"
    session.model = build_model(model_config, seed=train_config.seed)
    session.task, session.history, session.seconds, session.source = task, History(), 0.0, "trained here"
    return "new model"


def run_training(task: str, min_len: int, max_len: int, cell: str, emb_dim: int, hidden_dim: int, n_layers: int,
                 dropout: float, attention: bool, batch_size: int, lr: float, teacher_forcing: float, steps: int,
                 time_budget: float, target: float, lr_decay: bool, seed: int, mode: str,
                 session: Session | None, request: gr.Request):
    """Stream training: plots and status about once a second; the model stays in the session."""
    values = {name: value for name, value in locals().items() if name in SETTINGS}
    task, model_config, train_config = read_settings(values)
    session = session or Session()
    key = request.session_hash or "anonymous"
    if key in RUNNING:
        raise gr.Error("This session is already training: stop it first.", title="Already training")
    how = prepare_model(session, mode, task, model_config, train_config)
    stop = RUNNING[key] = threading.Event()
    history = session.history

    def frames():
        # a LinePlot draws only the colour series present in its first data: wait for a training loss
        loss = views.loss_frame(history, PLOT_POINTS) if history.losses else gr.skip()
        return loss, views.accuracy_frame(history, PLOT_POINTS)

    try:
        if not history.evals:  # where the curve starts: the untrained model on held-out data
            m = evaluate(session.model, task, validation_set(task, train_config.val_size))
            history.record(EvalEvent(history.last_step, 0.0, m.exact_match, m.token_accuracy, m.loss))
        start = history.last_step
        yield *frames(), (f"Starting ({how}): {describe_task(task)}; {describe_model(session.model)}"
                          .replace("**", "")), gr.skip(), gr.skip(), session
        last_time, last_step, last_loss = time.perf_counter(), start, None
        speed, done, elapsed = 0.0, None, 0.0
        for event in train(session.model, task, train_config, stop, start_step=start):
            history.record(event)
            if isinstance(event, StepEvent):
                last_loss, elapsed = event.loss, event.elapsed
            elif isinstance(event, DoneEvent):
                done = event
                break
            now = time.perf_counter()
            if now - last_time >= UPDATE_EVERY:
                step = history.last_step
                speed = (step - last_step) / (now - last_time)
                left = [train_config.time_budget - elapsed]
                if train_config.steps and speed > 0:
                    left.append((start + train_config.steps - step) / speed)
                status = views.progress_line(step, last_loss, history, speed, min(left),
                                             start + train_config.steps if train_config.steps else None)
                last_time, last_step = now, step
                yield *frames(), status, gr.skip(), gr.skip(), session
        session.seconds += done.elapsed
        ran = done.step - start
        note = {"stopped": " The model is kept: press Train to continue it, or decode with it.",
                "nan": "", "time_budget": " Press Train to continue."}.get(done.reason, "")
        status = (f"{'Stopped' if done.reason == 'stopped' else 'Done'}: {done.message}. "
                  f"{ran:,} steps in {done.elapsed:.1f} s ({ran / max(done.elapsed, 1e-9):,.0f} steps/s); "
                  f"step {done.step:,} in all · held-out exact match {done.exact_match:.1%}, "
                  f"token accuracy {done.token_accuracy:.1%}, loss {done.val_loss:.3f}.{note}")
        checkpoint_zip, metrics_csv = downloads(session)
        yield *frames(), status, checkpoint_zip, metrics_csv, session
    finally:
        if RUNNING.get(key) is stop:
            del RUNNING[key]


def stop_training(request: gr.Request):
    """Ask this session's training to stop; it finishes the current step and keeps the model."""
    stop = RUNNING.get(request.session_hash or "anonymous")
    if stop is None:
        gr.Info("Nothing is training in this session.")
        return "Nothing is training."
    stop.set()
    return "Stopping…"


def session_closed(request: gr.Request):
    """The browser went away: stop its training so the slot frees for others."""
    stop = RUNNING.get(request.session_hash or "anonymous")
    if stop is not None:
        stop.set()


def load_uploaded(file, session, request: gr.Request):
    """Load a checkpoint zip (as downloaded from the Train tab) as this session's model."""
    if file is None:
        raise gr.Error("Choose a checkpoint .zip first.", title="No file")
    path = Path(file)
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise gr.Error("That file is too big to be a checkpoint of this app.", title="Cannot load")
    if (request.session_hash or "anonymous") in RUNNING:
        raise gr.Error("Stop the training first: loading replaces this session's model.", title="Training")
    target = Path(tempfile.mkdtemp(prefix="seq2seq-upload-"))
    try:
        with zipfile.ZipFile(path) as z:
            members = {Path(n).name: n for n in z.namelist() if Path(n).name in (CONFIG_FILE, WEIGHTS_FILE)}
            if set(members) != {CONFIG_FILE, WEIGHTS_FILE}:
                raise CheckpointError(f"the zip must hold {CONFIG_FILE} and {WEIGHTS_FILE}")
            for name, member in members.items():  # only these two names, never the zip's own paths
                if z.getinfo(member).file_size > MAX_UPLOAD_BYTES:
                    raise CheckpointError(f"{name} is too big")
                (target / name).write_bytes(z.read(member))
        checkpoint = load_checkpoint(target)
    except (zipfile.BadZipFile, CheckpointError, OSError) as e:
        raise gr.Error(f"Cannot load that checkpoint: {e}", title="Cannot load") from None
    finally:
        shutil.rmtree(target, ignore_errors=True)
    session = Session(model=checkpoint.model, task=checkpoint.task, source=f"uploaded {path.name}")
    return session, f"Loaded {path.name}: {describe_model(checkpoint.model)}; task " + describe_task(
        checkpoint.task).replace("**", "") + ". The Decode tab uses it; Train continues it."


# ---------------------------------------------------------------- decoding


def pick_model(choice: str, train_task: str, session: Session | None, request: gr.Request | None):
    """(model, task, sentence saying which model) for the Decode tab's model choice."""
    trained = session is not None and session.model is not None
    if choice == SESSION or (choice == AUTO and trained):
        if not trained:
            raise gr.Error("You have not trained a model in this session yet: press Train on the Train tab, "
                           "or pick a bundled model.", title="No model yet")
        model = session.model
        key = request.session_hash if request is not None else None
        if key in RUNNING:  # training is changing it right now: decode a copy, leave training alone
            model = copy.deepcopy(model)
            note = f"a snapshot of your model, still training (step {session.history.last_step:,})"
        else:
            note = f"your model ({session.source}, step {session.history.last_step:,})"
        return model, session.task, f"Decoding with {note}: {describe_model(model)}; {describe_task(session.task)}"
    name = choice.removeprefix("bundled:") if choice != AUTO else train_task
    if name not in BUNDLED:
        known = ", ".join(BUNDLED)
        why = " (it cannot be learned)" if name == "random" else ""
        raise gr.Error(f"There is no bundled model for {name}{why}. Train one on the Train tab, or pick one of: "
                       f"{known}.", title="No model for this task")
    checkpoint = BUNDLED[name]
    score = checkpoint.training.get("exact_match")
    scored = f", {score:.1%} held-out exact match" if isinstance(score, float) else ""
    return (checkpoint.model, checkpoint.task,
            f"Decoding with the bundled **{name}** model ({describe_model(checkpoint.model)}{scored}); "
            f"{describe_task(checkpoint.task)}")


def decode(source: str, model_choice: str = AUTO, top_k: int = 3, train_task: str = "reverse",
           session: Session | None = None, request: gr.Request = None):
    """Decode `source` greedily; returns the output string first, then the step-by-step views."""
    model, task, info = pick_model(model_choice, train_task, session, request)
    if not (source or "").strip():
        raise gr.Error("Type a source sequence to decode, e.g. 3 1 4 1 5 9.", title="Nothing to decode")
    try:
        tokens = task.vocab.parse(source)
    except ValueError as e:
        raise gr.Error(f"{e}.", title="Cannot decode") from None
    trace = greedy_decode(model, task.vocab, tokens, top_k=len(task.vocab))
    shown = [t for t in task.vocab.itos if t not in ("<pad>", "<sos>", "<unk>")]
    decoded = views.Decoded(trace, task.expected(tokens), shown)
    k = max(1, min(int(top_k or 3), len(shown)))
    n = len(trace.steps)
    return (trace.output, views.verdict_html(decoded), views.steps_frame(decoded, k),
            views.distribution_html(decoded), views.attention_html(decoded),
            gr.Slider(minimum=1, maximum=max(n, 2), value=1, step=1, interactive=n > 1),
            views.playback_html(decoded, 1), decoded, info)


def play(decoded, t):
    if decoded is None:
        return "Decode something first."
    return views.playback_html(decoded, t)


def play_all(decoded):
    """Step through the whole decoding, one step about every half second."""
    if decoded is None:
        raise gr.Error("Decode something first.", title="Nothing to play")
    for t in range(1, len(decoded.trace.steps) + 1):
        yield t
        time.sleep(0.5)


def nudge(decoded, t, delta):
    if decoded is None:
        return 1
    return max(1, min(int(t) + delta, len(decoded.trace.steps)))


def example_sources(choice: str, train_task: str, session: Session | None):
    """A few held-out sources (never seen in training) for the model the Decode tab would use."""
    try:
        _, task, info = pick_model(choice, train_task, session, None)
    except gr.Error as e:
        return gr.Dataset(samples=[]), f"{e.message}"
    samples = [[" ".join(ex.source)] for ex in validation_set(task, 6, seed=7)]
    return gr.Dataset(samples=samples), info


# ---------------------------------------------------------------- layout

CSS = """
.heatmap { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
.heatmap th, .heatmap td { border: 1px solid rgba(128,128,128,0.25); padding: 2px 6px; text-align: center;
  min-width: 2.4em; }
.legend { font-size: 0.8em; opacity: 0.75; }
.bar { display: flex; align-items: center; gap: 0.5em; margin: 2px 0; }
.bar-label { width: 3.5em; text-align: right; font-family: monospace; }
.bar-fill { display: inline-block; height: 0.9em; max-width: 60%; }
.so-far span { margin-right: 0.35em; font-size: 1.2em; font-family: monospace; }
"""

with gr.Blocks(title="seq2seq playground") as demo:
    session_state = gr.State(None)
    decoded_state = gr.State(None)
    gr.Markdown("# seq2seq playground\nTrain an LSTM encoder–decoder on a toy task and watch the loss "
                "fall, then watch it decode one token at a time. Everything runs on the CPU, in seconds.")
    with gr.Tabs():
        with gr.Tab("Train", id="train", elem_id="train-tab"):
            d = PRESETS[DEFAULT_PRESET]
            with gr.Row():
                preset = gr.Radio(list(PRESETS), value=DEFAULT_PRESET, label="Preset", elem_id="preset", scale=1)
                preset_note = gr.Markdown(PRESET_NOTES[DEFAULT_PRESET], elem_id="preset-note")
            with gr.Row():
                task = gr.Dropdown(list(TASK_NAMES), value=d["task"], label="Task", elem_id="task")
                min_len = gr.Number(d["min_len"], label="Min length", precision=0, minimum=1, elem_id="min-len")
                max_len = gr.Number(d["max_len"], label="Max length", precision=0, minimum=1, elem_id="max-len")
            task_note = gr.Markdown(describe_task(Task(make_spec(d["task"]))), elem_id="task-note")
            with gr.Accordion("Model", open=False):
                with gr.Row():
                    cell = gr.Radio([("LSTM", "lstm"), ("GRU", "gru")], value=d["cell"], label="Cell")
                    emb_dim = gr.Number(d["emb_dim"], label="Embedding size", precision=0, minimum=1, maximum=256)
                    hidden_dim = gr.Number(d["hidden_dim"], label="Hidden size", precision=0, minimum=1,
                                           maximum=512)
                    n_layers = gr.Number(d["n_layers"], label="Layers", precision=0, minimum=1, maximum=4)
                    dropout = gr.Slider(0, 0.9, value=d["dropout"], step=0.05, label="Dropout")
                    attention = gr.Checkbox(d["attention"], label="Attention (Luong)")
            with gr.Accordion("Training", open=False):
                with gr.Row():
                    batch_size = gr.Number(d["batch_size"], label="Batch size", precision=0, minimum=1,
                                           maximum=1024)
                    lr = gr.Number(d["lr"], label="Learning rate", minimum=0)
                    teacher_forcing = gr.Slider(0, 1, value=d["teacher_forcing"], step=0.05,
                                                label="Teacher-forcing ratio")
                    lr_decay = gr.Checkbox(d["lr_decay"], label="Decay learning rate to a tenth")
                with gr.Row():
                    steps = gr.Number(d["steps"], label="Steps (0 = until the time budget)", precision=0,
                                      minimum=0, elem_id="steps")
                    time_budget = gr.Number(d["time_budget"], label=f"Time budget, s (at most {MAX_SECONDS})",
                                            minimum=1, maximum=MAX_SECONDS, elem_id="time-budget")
                    target = gr.Number(d["target"], label="Stop early at held-out exact match % (0 = never)",
                                       minimum=0, maximum=100)
                    seed = gr.Number(d["seed"], label="Seed", precision=0, minimum=0)
            with gr.Row():
                mode = gr.Radio([("Continue from the current model", "continue"), ("Start a new model", "new")],
                                value="continue", label="When you press Train", elem_id="train-mode", scale=2)
                train_button = gr.Button("Train", variant="primary", elem_id="train-button", scale=1)
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop-button", scale=1)
            status = gr.Textbox(label="Status", value="Not trained yet: press Train.", interactive=False,
                                elem_id="train-status")
            with gr.Row():
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="series", title="Loss (cross-entropy)",
                                        color_map={"train loss": "#4f46e5", "val loss": "#f59e0b"},
                                        elem_id="loss-plot", height=300)
                accuracy_plot = gr.LinePlot(None, x="step", y="percent", color="series",
                                            title="Held-out accuracy (teacher forcing off)", y_lim=[0, 100],
                                            color_map={"exact match": "#15803d", "token accuracy": "#0ea5e9"},
                                            elem_id="accuracy-plot", height=300)
            with gr.Row():
                checkpoint_file = gr.File(label="Checkpoint (config.json + model.safetensors)",
                                          elem_id="download-checkpoint", interactive=False, height=90)
                metrics_file = gr.File(label="Metrics (CSV)", elem_id="download-metrics", interactive=False, height=90)
                with gr.Column():
                    upload = gr.UploadButton("Load a checkpoint (.zip)", file_types=[".zip"],
                                             elem_id="upload-checkpoint")
                    upload_status = gr.Markdown("A checkpoint downloaded here loads back as your model: decode "
                                                "with it, or train it further.", elem_id="upload-status")

        with gr.Tab("Decode", id="decode", elem_id="decode-tab"):
            with gr.Row():
                model_choice = gr.Dropdown(MODEL_CHOICES, value=AUTO, label="Model", elem_id="decode-model",
                                           scale=2)
                top_k = gr.Slider(1, 10, value=3, step=1, label="Top-k alternatives", elem_id="decode-topk")
            model_info = gr.Markdown(label="model", elem_id="decode-model-info")
            with gr.Row():
                source = gr.Textbox("3 1 4 1 5 9", label="Source (tokens separated by spaces)",
                                    elem_id="decode-input", scale=3)
                decode_button = gr.Button("Decode", variant="primary", elem_id="decode-button", scale=1)
            examples = gr.Dataset(components=[source], samples=[], label="Held-out examples (never trained on)",
                                  elem_id="decode-examples")
            output = gr.Textbox(label="Output", interactive=False, elem_id="decode-output")
            verdict = gr.HTML(label="verdict", show_label=False, elem_id="decode-verdict")
            steps_table = gr.Dataframe(label="Decoding steps", interactive=False, elem_id="decode-steps",
                                       wrap=True)
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Step by step")
                    with gr.Row():
                        prev_button = gr.Button("◀ Previous", elem_id="playback-prev", size="sm")
                        play_button = gr.Button("Play", elem_id="playback-play", size="sm")
                        next_button = gr.Button("Next ▶", elem_id="playback-next", size="sm")
                    playback_step = gr.Slider(1, 2, value=1, step=1, label="Step", elem_id="playback-step")
                    playback = gr.HTML(label="playback", show_label=False, elem_id="playback")
                with gr.Column():
                    gr.Markdown("### Probability of every token at every step")
                    distribution = gr.HTML(label="distribution", show_label=False, elem_id="decode-distribution")
                    attention_map = gr.HTML(label="attention", show_label=False, elem_id="decode-attention")

    settings = [task, min_len, max_len, cell, emb_dim, hidden_dim, n_layers, dropout, attention, batch_size, lr,
                teacher_forcing, steps, time_budget, target, lr_decay, seed]
    assert len(settings) == len(SETTINGS)

    preset.change(apply_preset, preset, settings + [preset_note], api_visibility="private")
    task.input(task_changed, task, [min_len, max_len, task_note], api_visibility="private")
    train_event = train_button.click(
        run_training, settings + [mode, session_state],
        [loss_plot, accuracy_plot, status, checkpoint_file, metrics_file, session_state],
        api_name="train", concurrency_limit=MAX_TRAININGS, concurrency_id="train", show_progress_on=[status])
    stop_button.click(stop_training, None, status, api_name="stop", queue=False)
    upload.upload(load_uploaded, [upload, session_state], [session_state, upload_status], api_name="load")

    refresh_examples = dict(fn=example_sources, inputs=[model_choice, task, session_state],
                            outputs=[examples, model_info], api_visibility="private")
    train_event.then(**refresh_examples)
    model_choice.change(**refresh_examples)
    task.change(**refresh_examples)
    upload.upload(**refresh_examples)
    demo.load(**refresh_examples)
    examples.click(lambda sample: sample[0], examples, source, api_visibility="private")

    decode_outputs = [output, verdict, steps_table, distribution, attention_map, playback_step, playback,
                      decoded_state, model_info]
    decode_button.click(decode, [source, model_choice, top_k, task, session_state], decode_outputs,
                        api_name="decode")
    source.submit(decode, [source, model_choice, top_k, task, session_state], decode_outputs,
                  api_visibility="private")
    playback_step.change(play, [decoded_state, playback_step], playback, api_visibility="private",
                         show_progress="hidden")
    prev_button.click(lambda d, t: nudge(d, t, -1), [decoded_state, playback_step], playback_step,
                      api_visibility="private", show_progress="hidden")
    play_button.click(play_all, decoded_state, playback_step, api_visibility="private", show_progress="hidden")
    next_button.click(lambda d, t: nudge(d, t, +1), [decoded_state, playback_step], playback_step,
                      api_visibility="private", show_progress="hidden")
    demo.unload(session_closed)


if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), ssr_mode=False, css=CSS,
                theme=gr.themes.Soft(primary_hue="indigo"))
