"""Decode, "what if" and Compare, as the page and the API both call them: the controls read against the
table (`seq2seq.controls.DECODING`), the model picked, the library asked, the result formatted by `views`.
Every bad value is a gr.Error with one sentence."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from typing import TYPE_CHECKING

import seq2seq
from seq2seq import Task
from seq2seq.controls import DECODING, STRATEGY_KINDS as KINDS
from seq2seq.tasks import MAX_SOURCE_CHARS, NEVER_CHOSEN

from . import limits, settings, views
from .models import COMPARE_CHOICES, describe_model, model_label, pick_model
from .registry import problem
from .sessions import Session
from .settings import SettingsError

if TYPE_CHECKING:
    from seq2seq import Seq2Seq, Strategy


INPUT = "Check the input"


def as_error(e: SettingsError) -> gr.Error:
    return gr.Error(str(e), title=e.title)


def control(name: str, value) -> int | float:
    """A Decode control's value within its range in the table, or a gr.Error naming it."""
    try:
        return settings.number(DECODING[name], value, INPUT)
    except SettingsError as e:
        raise as_error(e) from None


def read_strategy(kind, width=5, temperature=1.0, sample_k=0, top_p=1.0, seed=0) -> Strategy:
    """The Decode tab's strategy controls as a Strategy, or a gr.Error naming the bad value."""
    if kind not in KINDS:
        raise problem(f"Strategy must be one of {', '.join(KINDS)} (you gave {str(kind)[:20]!r}).", "Unknown strategy")
    if kind == "beam":
        return seq2seq.Strategy("beam", width=control("width", width))
    if kind == "sampling":
        return seq2seq.Strategy("sampling", temperature=control("temperature", temperature),
                        top_k=control("sample_k", sample_k) or None, top_p=control("top_p", top_p),
                        seed=control("seed", seed))
    return seq2seq.Strategy("greedy")


def check_source(source) -> None:
    """A gr.Error unless `source` is text a model could be given (before choosing a model)."""
    if not isinstance(source, str) or not source.strip():
        raise problem("Type a source sequence to decode, e.g. 3 1 4 1 5 9.", "Nothing to decode")
    if len(source) > MAX_SOURCE_CHARS:
        raise problem(f"The source is {len(source):,} characters long; at most {MAX_SOURCE_CHARS:,} are allowed.",
                      "Cannot decode")


def parse_source(source: str, task: Task) -> list[str]:
    """The source's tokens for the task's vocabulary, or a gr.Error saying which tokens it does not know."""
    try:
        return task.vocab.parse(source)
    except ValueError as e:
        raise problem(f"{str(e)[0].upper()}{str(e)[1:]}.", "Cannot decode") from None


def shown_tokens(task: Task) -> list[str]:
    """The tokens a model can choose, in the order the views show them (no padding, start or unknown)."""
    return [t for t in task.vocab.itos if t not in NEVER_CHOSEN]


@dataclass
class Decoding:
    """One decoding, in every view the Decode tab and /decode show."""
    output: str
    verdict: str
    steps: pd.DataFrame
    distribution: str
    attention: str
    player: str
    tree: str
    info: str
    decoded: views.Decoded
    strategy: Strategy


EMPTY_TREE = ('<p class="legend" id="beam-empty">Choose <b>Beam search</b> as the strategy and press Decode: the '
              'tree of every hypothesis it tried, kept and dropped, appears here.</p>')


def decode(source, model_choice, top_k, train_task, session: Session | None, request: gr.Request | None,
           strategy: Strategy) -> Decoding:
    """Decode `source` with `strategy` and the chosen model, in every view."""
    check_source(source)
    k = control("top_k", top_k)
    model, task, info = pick_model(model_choice, train_task, session, request)
    tokens = parse_source(source, task)
    from seq2seq.strategy import run  # torch: on the first decode, not when the page is built
    trace, search = run(model, task.vocab, tokens, strategy, top_k=int(DECODING["top_k"].high))
    decoded = views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos)
    tree = views.beam_tree_html(search, decoded.expected) if search is not None else EMPTY_TREE
    return Decoding(trace.output, views.verdict_html(decoded), views.steps_frame(decoded, min(k, len(decoded.tokens))),
                    views.distribution_html(decoded), views.attention_html(decoded), views.playback_html(decoded),
                    tree, f"{info}. Strategy: {strategy.describe()}.", decoded, strategy)


def what_if(decoded, step, token, model_choice, train_task, session, request) -> str:
    """The last decoding beside the same one with `token` forced at `step` (from 1), as HTML."""
    if not isinstance(decoded, views.Decoded):
        raise problem("Decode a source first, then click an alternative token to see what if.", "Nothing decoded")
    model, task, _ = pick_model(model_choice, train_task, session, request)
    if shown_tokens(task) != decoded.tokens:
        raise problem("The model changed since this decoding: press Decode again.", "Decode again")
    try:  # the step as people write it: a whole number within the decoding (never Python's own words)
        step = settings.in_range("Step", step, True, 1, len(decoded.trace.steps), "Cannot force")
    except SettingsError as e:
        raise as_error(e) from None
    try:
        changed = seq2seq.what_if(model, task.vocab, decoded.trace, step, str(token))
    except (TypeError, ValueError) as e:
        raise problem(f"Cannot force that: {e}.", "Cannot force") from None
    forced = views.Decoded(changed, decoded.expected, decoded.tokens, forced=step, itos=task.vocab.itos)
    return views.what_if_html(decoded, forced)


# ---------------------------------------------------------------- comparing two models

_BY_LENGTH: dict[tuple, list] = {}  # (bundled model, task, lengths) -> rows: bundled models never change


def by_length(choice: str, model: Seq2Seq, task: Task, lengths: range) -> list:
    key = (choice, task.name, lengths.start, lengths.stop)
    if choice.startswith("bundled:") and key in _BY_LENGTH:
        return _BY_LENGTH[key]
    rows = seq2seq.accuracy_by_length(model, task.name, lengths, task.spec, limits.BY_LENGTH_N)
    if choice.startswith("bundled:"):
        _BY_LENGTH[key] = rows
    return rows


@dataclass
class Comparison:
    """Two models on one source: each one's panel, and their exact match by source length (chart and note)."""
    a: str
    b: str
    by_length: pd.DataFrame
    note: str


def compare(source, choice_a, choice_b, session, request) -> Comparison:
    """Both models' answers to `source` (greedy, marked, with attention) and their held-out exact match at each
    source length, from the shortest either was trained on to BY_LENGTH_MORE past the longest."""
    for choice in (choice_a, choice_b):
        if choice not in {v for _, v in COMPARE_CHOICES}:
            raise problem("Each model must be one of the menu's choices.", "Unknown model")
    if choice_a == choice_b:
        raise problem("Pick two different models to compare.", "Same model")
    check_source(source)
    (model_a, task_a, _), (model_b, task_b, _) = (pick_model(c, "reverse", session, request)
                                                  for c in (choice_a, choice_b))
    if task_a.name != task_b.name:
        raise problem(f"Model A learns {task_a.name} and model B {task_b.name}: pick two models for the same task.",
                      "Different tasks")
    tokens = parse_source(source, task_a)
    names = {f"A: {model_label(choice_a)}": (choice_a, model_a, task_a),
             f"B: {model_label(choice_b)}": (choice_b, model_b, task_b)}
    lengths = range(min(task_a.spec.min_len, task_b.spec.min_len),
                    min(task_a.spec.max_len_cap, max(task_a.spec.max_len, task_b.spec.max_len) + limits.BY_LENGTH_MORE) + 1)
    panels, results = [], {}
    for which, (name, (choice, model, task)) in zip("ab", names.items()):
        trace = seq2seq.greedy_decode(model, task.vocab, tokens, top_k=3)
        decoded = views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos)
        panels.append(views.compare_html(f"{name} — {describe_model(model)}", decoded, which))
        results[name] = (task.spec, by_length(choice, model, task, lengths))
    same_range = task_a.spec.max_len == task_b.spec.max_len
    frame = views.by_length_frame({name: rows for name, (_, rows) in results.items()},
                                  task_a.spec.max_len if same_range else None)
    return Comparison(panels[0], panels[1], frame, views.by_length_note(results))
