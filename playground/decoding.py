"""Decode and "what if", as the page and the API both call them: the controls read against the
table (`seq2seq.controls.DECODING`), the model picked, the library asked, the result formatted by `views`.
Every bad value is a gr.Error with one sentence."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from typing import TYPE_CHECKING, Callable

import seq2seq
from seq2seq import Task
from seq2seq.data import DataTask
from seq2seq.controls import DECODING, STRATEGY_KINDS as KINDS
from seq2seq.tasks import MAX_SOURCE_CHARS, NEVER_CHOSEN

from . import limits, settings, views
from .budget import BudgetError, decode_check
from .models import attention_model_for, pick_model
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
        raise problem(f"Strategy must be one of {', '.join(KINDS)} (you gave {settings.given(kind, True)}).",
                      "Unknown strategy")
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
        raise problem("Type a source sequence to decode, e.g. 3 1 4 1 5 9 (or, for your pairs, a source as written "
                      "there).", "Nothing to decode")
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


def check_decode_cost(model: Seq2Seq, task: Task, n_tokens: int, strategy: Strategy | str = "greedy",
                      what_if: bool = False) -> None:
    """A gr.Error, before any work, when decoding `n_tokens` source tokens with `model` and `strategy` (a Strategy,
    or "greedy") — and, with `what_if`, one more greedy decoding of it — would take more than the app's decoding
    budget (limits.DECODE_SECONDS, limits.DECODE_MB): one sentence saying what to lower, and to what. Compare's
    greedy answers call it too."""
    config = getattr(model, "config", None)
    if config is None:  # a model built without its config (never the app's): nothing to estimate from
        return
    kind = strategy if isinstance(strategy, str) else strategy.kind
    width = 1 if isinstance(strategy, str) else strategy.width
    try:
        decode_check(config, n_tokens, kind, width, limits.DECODE_SECONDS, limits.DECODE_MB, what_if)
    except BudgetError as e:
        raise problem(str(e), "Too much to decode") from None


def decoded_view(trace, task: Task, tokens: list[str]) -> views.Decoded:
    """A decoding with what the views need beside it: the correct answer when the task knows one, the tokens the
    model chooses from, and how the task writes its text (and what to say when there is no correct answer)."""
    if isinstance(task, DataTask):
        no_answer = ("This model's pairs are not loaded, so no source has a correct answer here: give the same "
                     "pairs on the Train tab." if task.data is None else
                     "This source is not in your pairs, so there is no correct answer to compare with.")
    elif task.generator is not None:
        no_answer = f"This is not a valid {task.name} source, so there is no correct answer to compare with."
    else:
        no_answer = "This task has no correct answer to compare with."
    return views.Decoded(trace, task.expected(tokens), shown_tokens(task), itos=task.vocab.itos,
                         tokenize=task.vocab.tokenize, no_answer=no_answer)


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
    attention_model: str | None = None  # a bundled model with attention for the same task, when this one has none

    def nbytes(self) -> int:
        """What keeping this decoding costs (bytes, an upper bound): the decoding and the HTML of its views."""
        html = (self.verdict, self.distribution, self.attention, self.player, self.tree, self.info, self.output)
        return self.decoded.nbytes() + sum(2 * len(h) + 64 for h in html) + 200 * (len(self.steps) + 1) * \
            max(len(self.steps.columns), 1)


EMPTY_TREE = ('<p class="legend" id="beam-empty">Choose <b>Beam search</b> as the strategy and press Decode: the '
              'tree of every hypothesis it tried, kept and dropped, appears here.</p>')


def decode(source, model_choice, top_k, train_task, session: Session | None, request: gr.Request | None,
           strategy: Strategy, *, what_if: bool = False, should_stop: Callable[[], bool] | None = None) -> Decoding:
    """Decode `source` with `strategy` and the chosen model, in every view. Refused before any work when it would
    cost more than the decoding budget (with `what_if`: counting one more greedy decoding after it, as /what_if
    does). `should_stop` is asked before every decoder step (seq2seq.Interrupted when it says yes: cancelled)."""
    check_source(source)
    k = control("top_k", top_k)
    model, task, info = pick_model(model_choice, train_task, session, request)
    tokens = parse_source(source, task)
    check_decode_cost(model, task, len(tokens), strategy, what_if)
    from seq2seq.strategy import run  # torch: on the first decode, not when the page is built
    trace, search = run(model, task.vocab, tokens, strategy, top_k=int(DECODING["top_k"].high),
                        should_stop=should_stop)
    decoded = decoded_view(trace, task, tokens)
    tree = views.beam_tree_html(search, decoded.expected, text=decoded.text) if search is not None else EMPTY_TREE
    other = None if views.has_attention(decoded) else attention_model_for(task, model_choice)
    return Decoding(task.vocab.text(trace.output.split()), views.verdict_html(decoded),
                    views.steps_frame(decoded, min(k, len(decoded.tokens))), views.distribution_html(decoded),
                    views.attention_html(decoded, with_attention=other), views.playback_html(decoded),
                    tree, f"{info}. Strategy: {strategy.describe()}.", decoded, strategy, other)


def what_if(decoded, step, token, model_choice, train_task, session, request, *,
            should_stop: Callable[[], bool] | None = None) -> str:
    """The last decoding beside the same one with `token` forced at `step` (from 1), as HTML. Refused before any
    work when one greedy decoding of its source would cost more than the decoding budget."""
    if not isinstance(decoded, views.Decoded):
        raise problem("Decode a source first, then click an alternative token to see what if.", "Nothing decoded")
    model, task, _ = pick_model(model_choice, train_task, session, request)
    if shown_tokens(task) != decoded.tokens:
        raise problem("The model changed since this decoding: press Decode again.", "Decode again")
    try:  # the step as people write it: a whole number within the decoding (never Python's own words)
        step = settings.in_range("Step", step, True, 1, len(decoded.trace.steps), "Cannot force")
    except SettingsError as e:
        raise as_error(e) from None
    if not isinstance(token, (str, int)) or isinstance(token, bool) or str(token).strip() == "":
        raise problem(f"Token must be one of the model's tokens, e.g. {decoded.tokens[-1]} (you gave "
                      f"{settings.given(token, True)}).", "Cannot force")
    try:
        changed = seq2seq.what_if(model, task.vocab, decoded.trace, step, str(token))
    except (TypeError, ValueError) as e:
        raise problem(f"Cannot force that: {e}.", "Cannot force") from None
    forced = views.Decoded(changed, decoded.expected, decoded.tokens, forced=step, itos=task.vocab.itos,
                           tokenize=decoded.tokenize, no_answer=decoded.no_answer)
    return views.what_if_html(decoded, forced)
