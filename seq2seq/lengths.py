"""Accuracy by source length: where a model stops generalising.

A model trained on lengths 3-10 is evaluated on each length on its own, including lengths it never saw;
without attention, exact match typically falls off a cliff just past the longest trained length. Used by
`python -m seq2seq eval --by-length` and by the app's model comparison.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .model import Seq2Seq
from .tasks import Task, TaskSpec, make_spec
from .training import evaluate, validation_set


@dataclass
class LengthRow:
    length: int            # source tokens (for addition: digits per operand)
    n: int                 # held-out examples evaluated (fewer than asked where the length has fewer)
    exact_match: float
    token_accuracy: float
    trained: bool          # inside the length range the model was trained on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy_by_length(model: Seq2Seq, task_name: str, lengths: Iterable[int], trained: TaskSpec,
                       n: int = 200, seed: int = 0) -> list[LengthRow]:
    """One held-out evaluation per length, each marked as inside or outside `trained`'s range. Raises
    ValueError for a length the task cannot make (see tasks.make_spec)."""
    rows = []
    for length in lengths:
        one = Task(make_spec(task_name, length, length))
        examples = validation_set(one, n, seed=seed)
        m = evaluate(model, one, examples)
        rows.append(LengthRow(length, m.n, m.exact_match, m.token_accuracy,
                              trained.min_len <= length <= trained.max_len))
    return rows
