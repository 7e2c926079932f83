"""seq2seq playground: LSTM/GRU encoder-decoders that learn toy tasks in seconds on a CPU.

    from seq2seq import Task, make_spec, ModelConfig, TrainConfig, build_model, train, greedy_decode
"""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .config import ModelConfig, TrainConfig
from .decode import Step, Trace, greedy_decode, greedy_decode_batch
from .model import Decoder, Encoder, Seq2Seq, build_model, sequence_loss
from .tasks import TASK_NAMES, Example, Task, TaskSpec, Vocab, make_batch, make_spec
from .train import DoneEvent, EvalEvent, Metrics, StepEvent, TrainState, evaluate, train, validation_set

__all__ = [
    "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint", "ModelConfig", "TrainConfig",
    "Step", "Trace", "greedy_decode", "greedy_decode_batch", "Decoder", "Encoder", "Seq2Seq", "build_model",
    "sequence_loss", "TASK_NAMES", "Example", "Task", "TaskSpec", "Vocab", "make_batch", "make_spec",
    "DoneEvent", "EvalEvent", "Metrics", "StepEvent", "TrainState", "evaluate", "train", "validation_set",
]
