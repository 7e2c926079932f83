"""How sharp the bundled attention models' maps are (the figures README quotes): over 200 held-out sources,
the largest weight in each output step's row, how often it sits on the token being copied (copy), and the
row's entropy as a share of a uniform row's.   PYTHONPATH=. python tools/attention_stats.py"""
import math
import statistics

from seq2seq import greedy_decode, load_checkpoint, validation_set

for name in ("copy", "addition"):
    checkpoint = load_checkpoint(f"checkpoints/{name}")
    maxima, entropy, on_target = [], [], 0
    for example in validation_set(checkpoint.task, 200, seed=3):
        trace = greedy_decode(checkpoint.model, checkpoint.task.vocab, example.source)
        for t, step in enumerate(trace.steps[:-1]):  # the <eos> step copies nothing
            w = step.attention
            maxima.append(max(w))
            on_target += name == "copy" and w.index(max(w)) == t
            entropy.append(-sum(x * math.log(x) for x in w if x > 0) / math.log(len(w)))
    ranked = sorted(maxima)
    print(f"{name}: largest weight per row, median {statistics.median(maxima):.2f} "
          f"(10th-90th percentile {ranked[len(ranked) // 10]:.2f}-{ranked[9 * len(ranked) // 10]:.2f}); "
          f"entropy / uniform's, median {statistics.median(entropy):.2f}"
          + (f"; on the copied token {on_target / len(maxima):.0%} of steps" if name == "copy" else ""))
