"""seq2seq playground, minimal first version: decode with a bundled model.

The full app (Train tab with a live loss plot, step-by-step Decode tab) is the next issue; this file
is UI wiring only and calls the `seq2seq` package for all model work.
"""
import os

# no analytics, no hub calls: nothing may download at run time
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from seq2seq import load_checkpoint, greedy_decode  # noqa: E402

torch.set_num_threads(1)
CHECKPOINTS = Path(__file__).parent / "checkpoints"
BUNDLED = {name: load_checkpoint(CHECKPOINTS / name) for name in ("reverse", "addition")}  # read-only


def decode(source: str, task: str = "reverse"):
    if task not in BUNDLED:
        raise gr.Error(f"unknown task {task!r}: choose one of {', '.join(BUNDLED)}")
    checkpoint = BUNDLED[task]
    try:
        trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, source)
    except ValueError as e:
        raise gr.Error(str(e)) from None
    rows = [[i + 1, s.input, s.token, round(s.prob, 4), ", ".join(f"{t} {p:.3f}" for t, p in s.top)]
            for i, s in enumerate(trace.steps)]
    return trace.output, pd.DataFrame(rows, columns=["step", "input", "chosen", "prob", "top-3"])


with gr.Blocks(title="seq2seq playground") as demo:
    gr.Markdown("# seq2seq playground\nAn LSTM encoder-decoder decodes your sequence one token at a time.")
    with gr.Row():
        task = gr.Dropdown(list(BUNDLED), value="reverse", label="Task")
        source = gr.Textbox(value="3 1 4 1 5 9", label="Source", elem_id="decode-input")
    button = gr.Button("Decode", variant="primary", elem_id="decode-button")
    output = gr.Textbox(label="Output", elem_id="decode-output")
    steps = gr.Dataframe(label="Steps", elem_id="decode-steps")
    button.click(decode, [source, task], [output, steps], api_name="decode")


if __name__ == "__main__":
    on_space = bool(os.environ.get("SPACE_ID"))
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0" if on_space else "127.0.0.1"),
                server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")), ssr_mode=False)
