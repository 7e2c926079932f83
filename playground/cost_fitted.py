"""The cost model's fitted coefficients (playground/cost.py's docstring says what each multiplies and how
they were fitted). Written by `tools/fit_cost.py --write`, between the BEGIN and END lines; nothing else
here is read by it."""

MB = 2.0 ** 20

# BEGIN FITTED (tools/fit_cost.py --write)
# fitted by tools/fit_cost.py on 2026-11-27, 108 configurations, 2 CPUs
MEMORY_MB: dict[str, float] = {
    "const": 102.1,
    "params": 24.54 / MB,
    "rnn_fused_lstm": 6.341 / MB,
    "rnn_loop_lstm": 10.66 / MB,
    "rnn_fused_gru": 13.32 / MB,
    "rnn_loop_gru": 15.17 / MB,
    "embeddings": 7.477 / MB,
    "logits": 203.9 / MB,
    "attention": 27.27 / MB,
    "eval": 0.8755 / MB,
    "eval_gates": 1.963 / MB,
}
STEP_SECONDS: dict[str, float] = {
    "const": 0.001527,
    "tokens": 5.241e-07,
    "params": 5.379e-09,
    "fused_macs_lstm": 6.655e-11,
    "fused_elems_lstm": 6.351e-09,
    "fused_calls_lstm": 1.348e-05,
    "fused_weights_lstm": 5.745e-11,
    "loop_macs_lstm": 7.713e-11,
    "fused_macs_gru": 6.145e-11,
    "fused_elems_gru": 6.755e-09,
    "fused_calls_gru": 0.0002277,
    "loop_macs_gru": 8.13e-11,
    "loop_elems": 4.736e-09,
    "loop_calls": 0.0001276,
    "loop_weights": 9.313e-10,
    "head_macs": 9.601e-12,
    "dropout": 9.856e-09,
    "attention_fast": 4.05e-08,
    "attention_loop": 1.054e-07,
}
EVAL_SECONDS: dict[str, float] = {
    "const": 0.0006042,
    "tokens": 3.509e-07,
    "enc_macs_lstm": 5.937e-12,
    "dec_macs_lstm": 3.743e-11,
    "enc_macs_gru": 3.469e-11,
    "enc_calls_gru": 4.768e-05,
    "dec_macs_gru": 1.731e-11,
    "elems": 1.999e-09,
    "calls": 3.72e-05,
    "weights": 1.23e-11,
    "head_macs": 3.951e-11,
    "attention": 1.893e-08,
}
MARGIN = {"memory": 1.25, "step": 1.30, "eval": 1.40}
SLACK = {"memory": 32, "step": 0.005, "eval": 0.005}
# END FITTED
