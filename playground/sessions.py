"""One person's work in the app, without the app: the model, the task it learns, its whole history, and
what continuing needs (the optimizer's and the generators' state), plus the files offered for download.

    session = Session()
    session.adopt(checkpoint, "uploaded model.zip")   # a loaded checkpoint becomes the model everywhere
    zip_path, csv_path = session.write_downloads(folder)
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from seq2seq.config import ModelConfig
from seq2seq.data import DataTask, Row, with_data
from seq2seq.history import History
from seq2seq.tasks import Task

from .worker import Snapshot, model_from_weights

if TYPE_CHECKING:
    from seq2seq import Seq2Seq
    from seq2seq.checkpoint import Checkpoint
    from seq2seq.training import TrainState


def count_parameters(model) -> int:
    from seq2seq import count_parameters  # torch: only once a session has a model, not to build the page
    return count_parameters(model)


def file_stem(title: str) -> str:
    """A task's name as part of a download's file name: a data set's file name without its extension, in letters,
    digits, - and _ only (whatever its file was called), at most 40 characters."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(title).stem).strip("-")[:40]
    return stem or "data"


ROW_BYTES = 400  # one LengthRow of Compare's chart, as Python keeps it


@dataclass
class Session:
    model: Seq2Seq | None = None
    task: Task | None = None
    history: History = field(default_factory=History)
    seconds: float = 0.0                    # training time over all runs
    source: str = "trained here"            # or "uploaded <name>"
    state: bytes | None = None              # TrainState bytes: Adam's moments, the generators, the lr schedule
    folder: Path | None = None              # this session's downloads (only the latest run's)
    snapshot: Snapshot | None = None        # the weights of the model while it trains
    exact_snapshot: Snapshot | None = None  # ... the latest that carries its training state too
    snapshot_model: tuple[int, Seq2Seq] | None = None  # ... built when someone decodes with them
    snapshot_config: ModelConfig | None = None          # ... and their shapes
    released: str | None = None             # why its model was let go, if it was
    last_status: str | None = None          # how the latest run ended, as the page said it
    train_config: dict | None = None        # the settings it was (last) trained with
    log_scale: bool = False                 # how the page draws its loss
    decoded: object | None = None           # the Decode tab's last decoding (top-k, heads and "what if" read it)
    compared: tuple | None = None           # Compare's cache: (weakref to the model it measured, {key: rows})
    last_used: float = field(default_factory=time.monotonic)  # when a request last used it
    data: DataTask | None = None            # the pairs this session gave (the Task choice "your pairs" trains on)
    data_rows: list[Row] | None = None      # ... as read, before tokens: a change of tokenisation splits them again
    runs: list = field(default_factory=list)  # its runs, kept side by side (playground.runs.KeptRun), oldest first
    current_run: int | None = None          # the number of the run whose model is the session's (None: none listed)
    run_counter: int = 0                    # runs numbered so far
    hidden_runs: set = field(default_factory=set)  # the numbers of runs unticked in the Runs tab's overlay

    def runs_bytes(self) -> int:
        """What its kept runs take besides its current model (their weights, training states and curves)."""
        from .runs import memory_bytes
        return memory_bytes(self)

    def memory_mb(self) -> float:
        """About what this session holds in memory: its model's weights, its optimizer's state, a snapshot
        while training, its last decoding and Compare's rows."""
        size = 4 * count_parameters(self.model) if self.model is not None else 0
        size += len(self.state) if self.state is not None else 0
        size += self.data_bytes()
        for snapshot in {id(s): s for s in (self.snapshot, self.exact_snapshot) if s is not None}.values():
            size += len(snapshot.weights) + len(snapshot.state or b"")
        return (size + self.results_bytes() + self.runs_bytes()) / 1e6

    def data_bytes(self) -> int:
        """What its pairs take: the tokenised pairs, and the rows they were read from (and those of the model's task,
        when it was trained on other pairs than the ones given now)."""
        size = sum(len(r.source) + len(r.target) + 230 for r in self.data_rows or ())  # tracemalloc: 230 B a row
        tasks = {id(t): t for t in (self.data, self.task) if isinstance(t, DataTask) and t.data is not None}
        return size + sum(t.data.nbytes() for t in tasks.values())

    def results_bytes(self) -> int:
        """What its kept results take: the last decoding (its compact records and views) and Compare's rows."""
        size = self.decoded.nbytes() if self.decoded is not None else 0
        if self.compared is not None:
            size += sum(ROW_BYTES * len(rows) for rows in self.compared[1].values())
        return size

    def drop_results(self) -> None:
        """Let its results go (the session is over its share): they can be made again by asking again."""
        self.decoded = self.compared = None

    def rows_for(self, model, key: tuple) -> list | None:
        """Compare's rows for `model` (the very object) and `key`, if measured since it last changed."""
        if self.compared is None or self.compared[0]() is not model:
            return None
        return self.compared[1].get(key)

    def keep_rows(self, model, key: tuple, rows: list) -> None:
        if self.compared is None or self.compared[0]() is not model:
            self.compared = (weakref.ref(model), {})
        self.compared[1][key] = rows

    def release(self, why: str = "this session ended") -> None:
        """Give back the session's files and memory (its browser went away, or it was idle longest)."""
        self.released = why
        self.drop_downloads()
        self.model = self.task = self.snapshot = self.exact_snapshot = self.snapshot_model = self.state = None
        self.decoded = self.compared = self.data = self.data_rows = None
        self.history = History()
        self.runs, self.current_run = [], None

    def drop_downloads(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def adopt(self, checkpoint: Checkpoint, source: str) -> None:
        """A loaded checkpoint becomes this session's model: its curve, its step count and (when it carries
        them) its optimizer and generators, so training it further goes on where it stopped."""
        self.drop_downloads()
        self.model, self.task, self.source = checkpoint.model, self.with_own_data(checkpoint.task), source
        self.history = History.from_training(checkpoint.training)
        seconds = checkpoint.training.get("seconds")
        self.seconds = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
        self.state, self.released, self.last_status = checkpoint.state, None, None
        saved = checkpoint.training.get("train_config")
        self.train_config = saved if isinstance(saved, dict) else None
        self.current_run = None  # not one of its runs (until it is recorded as one)

    def with_own_data(self, task: Task) -> Task:
        """A loaded model's task, with this session's pairs when they are the ones it was trained on (then its
        sources have correct answers again, and it can be evaluated and trained on them); else as it is."""
        if isinstance(task, DataTask) and task.data is None and self.data is not None and self.data.data is not None:
            try:
                return with_data(task, self.data.data)
            except ValueError:
                return task
        return task

    def keep_snapshot(self, config: ModelConfig) -> bool:
        """A run ended without its final weights (killed, or abandoned): keep the latest snapshot that carries its
        training state (continuing then goes on exactly from there), else the latest weights (continuing then starts
        a fresh optimizer). Whether training can go on exactly."""
        kept = self.exact_snapshot or self.snapshot
        if kept is None:
            return False
        self.model = model_from_weights(config, kept.weights)
        self.history.truncate(kept.step)
        self.state = kept.state
        return kept.state is not None

    def kept_figures(self, state: TrainState | None) -> tuple[float, float, dict]:
        """Held-out exact match and token accuracy of the session's model (the kept evaluation's, when training
        went back to better weights than its last; else the last evaluation's), and the summary's extra fields."""
        if state is not None and state.kept is not None:
            kept = state.kept
            return kept.exact_match, kept.token_accuracy, {"val_loss": kept.val_loss, "kept_step": kept.step}
        last = self.history.evals[-1] if self.history.evals else None
        return (last.exact_match, last.token_accuracy, {}) if last else (float("nan"), float("nan"), {})

    def write_downloads(self, cache: Path) -> tuple[Path, Path]:
        """Write the checkpoint zip and the metrics CSV into this session's folder under `cache`, replacing its
        previous ones (the folder goes when the session does)."""
        if self.folder is None or not self.folder.exists():
            cache.mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix="seq2seq-session-", dir=cache))
        for old in self.folder.iterdir():  # only the latest run's files are kept
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
        step = self.history.last_step
        name = f"seq2seq-{file_stem(self.task.title)}-step{step}"
        folder = self.folder / name
        from seq2seq.checkpoint import save_checkpoint, training_summary, write_checkpoint_zip
        from seq2seq.training import TrainState
        state = TrainState.from_bytes(self.state, self.model) if self.state is not None else None
        exact, tokens, extra = self.kept_figures(state)
        save_checkpoint(folder, self.model, self.task, training_summary(
            step, self.seconds, exact, tokens, trained_in="seq2seq playground app", curve=self.history.curve(),
            **extra, **({"train_config": self.train_config} if self.train_config else {})), state=state)
        archive = write_checkpoint_zip(folder, self.folder / f"{name}.zip")
        shutil.rmtree(folder)
        csv_path = self.folder / f"{name}-metrics.csv"
        csv_path.write_text(self.history.to_csv())
        return archive, csv_path
