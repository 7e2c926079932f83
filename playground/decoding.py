"""Decode and "what if", as the page and the API both call them: the controls read against the
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

from . import settings, views
from .models import pick_model
from .registry import problem
from .sessions import Session
from .settings import SettingsError

if TYPE_CHECKING:
    from seq2seq import Strategy


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
