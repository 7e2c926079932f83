"""Accuracy by source length: where a model stops generalising.

A model trained on lengths 3-10 is evaluated on each length on its own, including lengths it never saw;
without attention, exact match typically falls off a cliff just past the longest trained length. Used by
`python -m seq2seq eval --by-length` and by the app's model comparison.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from .model import Seq2Seq
from .tasks import Example, Task, TaskSpec, make_spec
from .training import evaluate


@dataclass
class LengthRow:
    length: int            # source tokens (for addition: digits per operand)
    n: int                 # held-out examples evaluated (fewer than asked where the length has fewer)
    exact_match: float
    token_accuracy: float
    trained: bool          # inside the length range the model was trained on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy_by_length(model: Seq2Seq, task: Task | str, lengths: Iterable[int], trained: TaskSpec,
                       n: int = 200, seed: int = 0) -> list[LengthRow]:
    """One held-out evaluation per length, each marked as inside or outside `trained`'s range. `task`: a Task (a
    data set's evaluates its held-out pairs of each length, and leaves out lengths it has none of) or a built-in
    task's name. Raises ValueError for a length a built-in task cannot make (see tasks.make_spec)."""
    task = Task(make_spec(task)) if isinstance(task, str) else task
    return by_length(model, task, {length: task.held_out_of_length(length, n, seed) for length in lengths}, trained)


def by_length(model: Seq2Seq, task: Task, groups: dict[int, Sequence[Example]], trained: TaskSpec) -> list[LengthRow]:
    """One evaluation per length of `groups` (length -> examples; empty groups left out), marked as inside or
    outside `trained`'s range."""
    rows = []
    for length, examples in sorted(groups.items()):
        if not examples:
            continue
        m = evaluate(model, task, list(examples), forced=False)  # only exact match and token accuracy are shown
        rows.append(LengthRow(length, m.n, m.exact_match, m.token_accuracy,
                              trained.min_len <= length <= trained.max_len))
    return rows
