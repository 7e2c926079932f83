"""Your own pairs, on the Train tab and /data: a file (uploaded, or one of the examples in `examples/`) or pasted
text, read within the server's limits (limits.DATA) into the session, which the Task choice "your pairs" then
trains on. An uploaded file is deleted once read; a failed read is one sentence and leaves the session's model
and pairs as they were; the pairs are the session's alone, counted against its memory."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from seq2seq.data import DataError, DataTask, Report, make_dataset, read_rows

from . import limits
from .registry import keep_sessions_within_memory, problem, session_of
from .sessions import Session
from .uploads import hold_upload, release_upload, uploaded_path

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# the example files a visitor tries with one click (made by tools/make_examples.py from seq2seq.generators)
EXAMPLES = {"dates": "dates.tsv", "numbers": "numbers.csv", "commands": "commands.jsonl"}
SUFFIXES = (".tsv", ".csv", ".jsonl", ".txt")
DETECT = "detect"
TOKEN_CHOICES = (("detect", DETECT), ("characters", "chars"), ("words", "words"))
MAX_NAME = 60  # a file's name is shown at most this long


def short_name(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[:MAX_NAME - 1] + "…"


def tokens_choice(value: Any, side: str) -> str | None:
    """A tokens menu's value as make_dataset takes it (None: detect), or a gr.Error naming the choices."""
    values = [v for _, v in TOKEN_CHOICES]
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in values:
        raise problem(f"{side.capitalize()} tokens must be one of {', '.join(values)}.", "Check the tokens")
    return None if value == DETECT else value


def give_pairs(file: Any, text: Any, example: Any, source_tokens: Any, target_tokens: Any, session,
               request: gr.Request | None) -> tuple[Session, str]:
    """Read pairs from one of: an uploaded file, an example's name, pasted text (the first given, in that order)
    into the session; (the session, a sentence saying what was read). A gr.Error, with nothing changed, for bad
    data."""
    def tokens() -> tuple[str | None, str | None]:
        return tokens_choice(source_tokens, "source"), tokens_choice(target_tokens, "target")

    if file:
        path = uploaded_path(file, "file of pairs (.tsv, .csv, .jsonl or .txt)", SUFFIXES,
                             "Pairs come as a .tsv, .csv, .jsonl or .txt file (or paste them).", "Cannot read pairs")
        hold_upload(path)  # from here on, whatever is refused, the file goes (released below)
        try:
            tokenize = tokens()
            rows, report, name = _read(path, path.name)
        finally:
            release_upload(path)
    elif example:
        tokenize = tokens()
        if not isinstance(example, str) or example not in EXAMPLES:
            raise problem(f"Example must be one of {', '.join(EXAMPLES)}.", "Unknown example")
        rows, report, name = _read(EXAMPLES_DIR / EXAMPLES[example], EXAMPLES[example])
    elif isinstance(text, str) and text.strip():
        tokenize = tokens()
        rows, report, name = _read(text, "pasted pairs", fmt="text")
    else:
        raise problem("Upload a file of pairs, paste some (one pair per line: source, a tab or ->, target), or "
                      "pick an example.", "No pairs")
    task = _task(rows, report, name, tokenize)
    session = session_of(session, request)
    session.data, session.data_rows = task, rows
    session.task = session.with_own_data(session.task) if session.task is not None else None
    keep_sessions_within_memory()
    return session, summary(task)


def retokenize(source_tokens: Any, target_tokens: Any, session: Session | None) -> tuple[Session, str]:
    """The session's pairs split again with other tokens; a gr.Error (nothing changed) when they do not fit."""
    tokenize = (tokens_choice(source_tokens, "source"), tokens_choice(target_tokens, "target"))
    if not isinstance(session, Session) or session.data is None or session.data_rows is None:
        raise problem("Give your pairs first: upload a file, paste them, or try an example.", "No pairs yet")
    old = session.data.data.report
    fresh = Report(lines=old.lines, header=old.header, extra_columns=old.extra_columns)
    session.data = _task(session.data_rows, fresh, session.data.title, tokenize)
    return session, summary(session.data)


def _read(file: Any, name: str, fmt: str | None = None):
    try:
        return read_rows(file, name=name, fmt=fmt, limits=limits.DATA)
    except DataError as e:
        raise _refusal(name, e) from None


def _task(rows, report: Report, name: str, tokenize) -> DataTask:
    try:
        return DataTask(make_dataset(rows, name=name, tokenize=tokenize, limits=limits.DATA, report=replace(report)))
    except DataError as e:
        raise _refusal(name, e) from None


def _refusal(name: str, e: DataError) -> gr.Error:
    text = str(e)
    return problem(f"Cannot use {short_name(name)}: {text[0].lower()}{text[1:].rstrip('.')}. Your model and pairs "
                   f"are unchanged.", "Cannot read pairs")


def summary(task: DataTask) -> str:
    """What the page says about the session's pairs: their counts, lengths and split, their tokens, and what reading
    changed."""
    data = task.data
    names = {"chars": "characters", "words": "words"}
    how = " → ".join(names[t] for t in data.tokenize)
    detected = " (detected)" if data.tokenize == data.detected else ""
    notes = " ".join(data.notes())
    return (f"{short_name(data.name)}: {data.summary()}. Held out by source: no source is in both halves, and the "
            f"held-out pairs are never trained on. Tokens: {how}{detected}." + (f" {notes}" if notes else ""))
