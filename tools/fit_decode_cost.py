"""Measure what decode requests cost on this machine and check playground.cost's decode estimate against them.

    .venv/bin/python tools/fit_decode_cost.py            # measure, print measured vs estimated, write the JSON
    .venv/bin/python tools/fit_decode_cost.py --check    # only compare the recorded measurements with the estimate

Each case is one request as playground.decoding runs it, on one torch thread: the model's decoding
(seq2seq.strategy.run: greedy, sampling or beam search, then the best beam replayed), every view the Decode tab
shows (verdict, step table, probabilities, attention, player, beam tree), and for "what if" one more greedy decode
of the same source and its side-by-side view. Models never say <eos> here (its output bias is set to -10,000), so
each decode runs to its length limit, the worst case the estimate assumes. The cases: the bundled models, the
largest RNN and Transformer the Train form accepts, and a 64-head Transformer (the shape of issue 16's upload).

Measured: CPU seconds (time.process_time) of the whole request, and the bytes of what it keeps and produces (the
trace's and tree's own count, `nbytes()`, plus the HTML strings' sys.getsizeof), and the process's RSS growth while
they are alive. Written to tools/decode_cost_measurements.json, which tests/unit/test_decode_cost.py reads: the
estimate must stay above every measurement there. Run it again on the machine whose limits matter; it takes about
two minutes.
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tools" / "decode_cost_measurements.json"

LARGEST_RNN = dict(cell="lstm", emb_dim=256, hidden_dim=512, n_layers=4, attention="additive", bidirectional=True)
LARGEST_GRU = dict(cell="gru", emb_dim=256, hidden_dim=512, n_layers=4, attention="dot", bidirectional=False)
LARGEST_TRANSFORMER = dict(arch="transformer", hidden_dim=512, n_layers=4, heads=8)
LARGEST_UPLOAD = dict(arch="transformer", hidden_dim=320, n_layers=4, heads=8)  # the upload check's largest of these
HEADS_64 = dict(arch="transformer", hidden_dim=64, n_layers=4, heads=64)
LEARNED = dict(arch="transformer", hidden_dim=64, n_layers=2, heads=4, positions="learned")

# (name, model: a bundled checkpoint's name or ModelConfig fields, source tokens, strategy, width, what if)
CASES = [
    ("bundled reverse-attention, greedy, 3 tokens", "reverse-attention", 3, "greedy", 1, False),
    ("bundled reverse-attention, greedy, 200", "reverse-attention", 200, "greedy", 1, False),
    ("bundled reverse-attention, beam 10, 200", "reverse-attention", 200, "beam", 10, False),
    ("bundled reverse-attention, beam 10 + what if, 200", "reverse-attention", 200, "beam", 10, True),
    ("bundled reverse, beam 10, 200", "reverse", 200, "beam", 10, False),
    ("bundled copy, sampling, 100", "copy", 100, "sampling", 1, False),
    ("bundled reverse-transformer, greedy, 50", "reverse-transformer", 50, "greedy", 1, False),
    ("bundled reverse-transformer, beam 10, 200", "reverse-transformer", 200, "beam", 10, False),
    ("bundled reverse-transformer, beam 10 + what if, 100", "reverse-transformer", 100, "beam", 10, True),
    ("largest RNN (LSTM 512 x 4, additive, bidirectional), greedy, 100", LARGEST_RNN, 100, "greedy", 1, False),
    ("largest RNN, beam 10, 40", LARGEST_RNN, 40, "beam", 10, False),
    ("GRU 512 x 4, dot attention, beam 5, 60", LARGEST_GRU, 60, "beam", 5, False),
    ("largest Transformer (d 512 x 4, 8 heads), greedy, 100", LARGEST_TRANSFORMER, 100, "greedy", 1, False),
    ("largest Transformer, beam 10, 40", LARGEST_TRANSFORMER, 40, "beam", 10, False),
    ("largest accepted upload (Transformer d 320 x 4, 8 heads), beam 10, 200", LARGEST_UPLOAD, 200, "beam", 10, False),
    ("Transformer d 64 x 4, 64 heads, greedy, 200", HEADS_64, 200, "greedy", 1, False),
    ("Transformer d 64 x 4, 64 heads, beam 10, 200", HEADS_64, 200, "beam", 10, False),
    ("Transformer d 64 x 4, 64 heads, beam 10 + what if, 100", HEADS_64, 100, "beam", 10, True),
    ("Transformer, learned positions, beam 10, 100", LEARNED, 100, "beam", 10, False),
]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def model_for(spec):
    """(model, task, config) for a case: a bundled checkpoint or a freshly built model (seed 0), never saying
    <eos>."""
    import torch
    from seq2seq import Task, build_model, load_checkpoint, make_spec
    from seq2seq.config import ModelConfig
    from seq2seq.tasks import EOS_ID
    if isinstance(spec, str):
        checkpoint = load_checkpoint(ROOT / "checkpoints" / spec)
        model, task = checkpoint.model, checkpoint.task
    else:
        task = Task(make_spec("copy"))
        model = build_model(ModelConfig(len(task.vocab), len(task.vocab), **spec), seed=0)
    with torch.no_grad():
        model.decoder.fc_out.bias[EOS_ID] = -1e4
    return model, task, model.config


def run_case(model, task, src_len: int, kind: str, width: int, what_if: bool) -> dict:
    """One request as playground.decoding.decode (and /what_if) runs it: CPU seconds, bytes kept and produced."""
    import seq2seq
    from seq2seq.controls import DECODING
    from seq2seq.strategy import Strategy, run
    from seq2seq.tasks import NEVER_CHOSEN
    from playground import views
    shown = [t for t in task.vocab.itos if t not in NEVER_CHOSEN]
    tokens = [shown[1 + i % (len(shown) - 1)] for i in range(src_len)]  # never <eos>: any token but the first
    strategy = Strategy(kind, width=width) if kind == "beam" else Strategy(kind, seed=1) if kind == "sampling" \
        else Strategy("greedy")
    gc.collect()
    before = rss_mb()
    start = time.process_time()
    trace, search = run(model, task.vocab, tokens, strategy, top_k=int(DECODING["top_k"].high))
    decoded = views.Decoded(trace, task.expected(tokens), shown, itos=task.vocab.itos)
    html = [views.verdict_html(decoded), views.steps_frame(decoded, 3).to_json(), views.distribution_html(decoded),
            views.attention_html(decoded), views.playback_html(decoded)]
    if search is not None:
        html.append(views.beam_tree_html(search, decoded.expected))
    kept = [trace]
    if what_if:
        changed = seq2seq.what_if(model, task.vocab, trace, 2, shown[1])
        forced = views.Decoded(changed, decoded.expected, shown, forced=2, itos=task.vocab.itos)
        html.append(views.what_if_html(decoded, forced))
        kept.append(changed)
    seconds = time.process_time() - start
    grown = rss_mb() - before
    nbytes = sum(t.nbytes() for t in kept) + (search.nbytes() if search is not None else 0) \
        + sum(sys.getsizeof(h) for h in html)
    return {"seconds": round(seconds, 4), "mb": round(nbytes / 2 ** 20, 3), "rss_mb": round(grown, 1),
            "steps": len(trace.steps), "nodes": len(search.nodes) if search is not None else 1,
            "html_chars": sum(len(h) for h in html)}


def estimate(case: dict):
    from playground.cost import decode_cost
    from seq2seq.config import ModelConfig
    return decode_cost(ModelConfig.from_dict(case["config"]), case["src_len"], case["strategy"], case["width"],
                       case["what_if"])


def report(cases: list[dict]) -> bool:
    print(f"{'case':70} {'s':>7} {'est s':>7} {'MB':>7} {'est MB':>7} {'RSS+':>6}  ratio s / MB")
    worst = (float("inf"), float("inf"))
    for case in cases:
        m, e = case["measured"], estimate(case)
        rs, rm = e.seconds / m["seconds"], e.mb / m["mb"]
        worst = (min(worst[0], rs), min(worst[1], rm))
        print(f"{case['name'][:70]:70} {m['seconds']:7.3f} {e.seconds:7.3f} {m['mb']:7.2f} {e.mb:7.2f} "
              f"{m['rss_mb']:6.0f}  {rs:5.2f} / {rm:5.2f}{'' if rs >= 1 and rm >= 1 else '  UNDER-ESTIMATED'}")
    print(f"smallest estimate / measurement: {worst[0]:.2f} (seconds), {worst[1]:.2f} (MB)")
    return worst[0] >= 1 and worst[1] >= 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the recorded measurements only")
    parser.add_argument("--only", help="measure only the cases whose name contains this")
    args = parser.parse_args()
    if args.check:
        return 0 if report(json.loads(OUT.read_text())["cases"]) else 1
    import torch
    torch.set_num_threads(1)
    warm, task, _ = model_for("reverse-transformer")
    run_case(warm, task, 5, "beam", 3, True)  # torch's lazy start-up is not a decode's cost
    cases = []
    for name, spec, src_len, kind, width, what_if in CASES:
        if args.only and args.only not in name:
            continue
        model, task, config = model_for(spec)
        run_case(model, task, min(src_len, 5), kind, width, what_if)  # this model's first call
        measured = min((run_case(model, task, src_len, kind, width, what_if) for _ in range(2)),
                       key=lambda m: m["seconds"])  # the quieter of two: a busy neighbour is not the model's cost
        cases.append({"name": name, "config": config.to_dict(), "src_len": src_len, "strategy": kind,
                      "width": width, "what_if": what_if, "measured": measured})
        print(f"measured {name}: {measured}", flush=True)
    ok = report(cases)
    if not args.only:
        OUT.write_text(json.dumps({"measured_on": str(date.today()), "machine": platform.processor() or
                                   platform.machine(), "python": platform.python_version(),
                                   "torch": torch.__version__, "cases": cases}, indent=1) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
