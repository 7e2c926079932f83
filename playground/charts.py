"""Compare's chart, measured where trainings run: a model's held-out exact match at each source length, computed
in a worker process forked from the trainings' zygote, at a lower priority than a training, bounded in time and
memory, and killed as soon as the request that wants it is cancelled or its client goes away.

    rows = await measure(model, task, lengths, n, estimated_seconds, request)   # [LengthRow], or a gr.Error

The caller (playground.comparing) sizes the job to its budget and keeps the rows."""
from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from seq2seq import Task
from seq2seq.data import task_to_dict

from . import gradio_internals, limits
from .cost import memory_mb
from .registry import problem
from .worker import NICE, Failed, Killed, Started, WorkerError, model_from_weights, weights_bytes

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from seq2seq import Seq2Seq

EVAL_NICE = 15  # a chart's worker runs lower still than a training's (NICE): a training's steps come first


@dataclass
class EvalJob:
    """One model's chart, as plain data: its config and weights (safetensors bytes), the task, the lengths it
    was trained on, the lengths to measure and how many held-out sources at each."""
    model_config: dict[str, Any]
    weights: bytes
    task: dict[str, Any]     # the task whose held-out sources it is measured on (seq2seq.data.task_to_dict)
    trained: dict[str, Any]  # the TaskSpec the model was trained on
    lengths: list[int]
    n: int
    vocab: tuple[list[str], list] | None = None  # the model's own (itos, tokenize), when it is not the task's

    def run_in_worker(self, conn: Connection) -> None:
        """In the forked worker: the rows (Evaluated), or Failed with a sentence."""
        from seq2seq.config import ModelConfig
        from seq2seq.data import task_from_dict
        from seq2seq.lengths import accuracy_by_length
        from seq2seq.tasks import SPECIALS, Vocab

        os.nice(EVAL_NICE - NICE)
        conn.send(Started(os.getpid(), 0))  # at once: the caller can kill it from here on (cancelled, starved)
        try:
            model = model_from_weights(ModelConfig.from_dict(self.model_config), self.weights)
            trained = task_from_dict(self.trained).spec
            task = task_from_dict(self.task)
            if self.vocab is not None:  # another task's model, measured on these pairs with its own tokens
                task = task.through(Vocab(self.vocab[0][len(SPECIALS):], tuple(self.vocab[1])))
        except Exception as e:  # noqa: BLE001 - reported to the caller, who says it in a sentence
            conn.send(Failed(f"could not build the model: {e}"))
            return
        try:
            rows = accuracy_by_length(model, task, self.lengths, trained, self.n)
            conn.send(Evaluated([row.to_dict() for row in rows]))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return
        except MemoryError:
            conn.send(Failed("it ran out of memory"))
        except Exception as e:  # noqa: BLE001
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            conn.send(Failed(f"the evaluation failed: {text[:200]}"))


@dataclass
class Evaluated:
    """An EvalJob's answer: one LengthRow (as a dict) per length, in order; the worker sends nothing after it."""
    rows: list[dict[str, Any]]
    final: ClassVar[bool] = True


async def measure(model: Seq2Seq, task: Task, lengths: range, n: int, estimate: float, request,
                  trained: Task | None = None) -> list:
    """`model`'s chart over `lengths` (n sources each; `estimate` its estimated seconds) on `task`'s held-out
    sources, from a worker process. `trained`: the task the model learned, when it is not `task` (a bundled model
    measured on your pairs: with its own vocabulary). The event loop never waits on it; a cancelled request
    (CancelledError) or an abandoned one kills it."""
    from seq2seq.lengths import LengthRow  # torch: only once someone compares

    from .training import WORKERS  # the trainings' worker pool: its zygote has torch imported
    spec = task.spec_at(lengths.stop - 1)
    trained = trained or task
    memory = 1.5 * max(memory_mb(model.config, 1, 1.0, spec, n), 256.0)
    # bounded by the computing it does (CPU seconds), not by the clock: at its low priority, beside trainings and
    # busy neighbours, a chart may wait long for a core without costing anyone anything; the clock only catches
    # a worker that hangs
    cpu_limit = limits.COMPARE_DEADLINE_FACTOR * max(estimate, 1.0) + 5.0
    deadline = 20 * cpu_limit + 60.0
    own = None if trained.vocab == task.vocab else (list(trained.vocab.itos), list(trained.vocab.tokenize))
    job = EvalJob(model.config.to_dict(), await anyio.to_thread.run_sync(weights_bytes, model), task_to_dict(task),
                  task_to_dict(trained, with_pairs=False), list(lengths), n, own)
    started, cancelled, lock = [], [], threading.Lock()

    def start() -> None:  # a request cancelled meanwhile no longer waits for this thread: kill its run here
        run = WORKERS.start(job, memory_limit_mb=memory, deadline=deadline)
        with lock:
            if cancelled:
                run.close()
            else:
                started.append(run)

    try:
        await anyio.to_thread.run_sync(start)
    except WorkerError as e:
        raise problem(f"Comparing could not start: {e}. Please try again.", "Cannot compare") from None
    except BaseException:  # cancelled while the worker started
        with lock:
            cancelled.append(True)
            for run in started:
                run.close()
        raise
    run, found = started[0], None
    try:
        for message in run.messages(poll=0):  # never blocks
            if message is None:
                await asyncio.sleep(0.05)  # a cancelled request stops here, and `finally` kills the worker
                if gradio_internals.abandoned(request):  # its client went away without cancelling
                    raise problem("The comparison was abandoned.", "Abandoned")
                if cpu_seconds(run.pid) > cpu_limit:
                    raise problem(f"Comparing could not finish: measuring this model's chart took more than "
                                  f"{cpu_limit:.0f} s of computing. Try a smaller model.", "Cannot compare")
            elif isinstance(message, Evaluated):
                found = [LengthRow(**row) for row in message.rows]
            elif isinstance(message, (Killed, Failed)):
                raise problem(f"Comparing could not finish: {message.message}. Try a smaller model.",
                              "Cannot compare")
    finally:
        run.close()
        await _gone(run.pid)
    if found is None:
        raise problem("Comparing could not finish: the evaluation ended without an answer. Please try again.",
                      "Cannot compare")
    return found


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (user + system; 0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def _gone(pid: int, within: float = 2.0) -> None:
    """Wait (briefly) until the worker's process has exited, so the next chart's worker never overlaps it."""
    for _ in range(int(within / 0.01)):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        await asyncio.sleep(0.01)
