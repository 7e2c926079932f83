"""playground/gradio_internals.py leans on private Gradio attributes; these tests fail when a Gradio upgrade
changes one of them, so the upgrade shows here and not as a server that silently stops cleaning up."""
import queue

import gradio as gr

from playground import gradio_internals
from playground.gradio_internals import api_only_input, event_payload, forget_page_state, unread_updates


def tiny_demo():
    with gr.Blocks() as demo:
        gr.Markdown("x")
        step = api_only_input("step", {"type": "integer"})
        gr.on([], lambda s: s, step, gr.Textbox(), api_name="echo")
    demo.queue()
    return demo, step


def test_unread_updates_counts_what_the_queue_holds_for_a_session():
    demo, _ = tiny_demo()
    assert unread_updates(demo, "nobody") == 0
    waiting = queue.Queue()
    for _ in range(3):
        waiting.put("update")
    demo._queue.pending_messages_per_session["someone"] = waiting
    assert unread_updates(demo, "someone") == 3


def test_forget_page_state_drops_the_session_from_gradio_s_state_holder():
    demo, _ = tiny_demo()
    holder = demo.state_holder
    holder.session_data["gone"], holder.time_last_used["gone"] = object(), 0.0
    forget_page_state(demo, "gone")
    assert "gone" not in holder.session_data and "gone" not in holder.time_last_used


def test_an_api_only_input_is_an_endpoint_parameter_with_its_schema():
    demo, step = tiny_demo()
    config = demo.get_config_file()
    (dependency,) = [d for d in config["dependencies"] if d.get("api_name") == "echo"]
    assert dependency["inputs"] == [step._id] and dependency["targets"] == []
    info = demo.get_api_info()["named_endpoints"]["/echo"]["parameters"][0]
    assert info["type"] == {"type": "integer"} and info["label"] == "step"


def test_event_payload_is_what_the_page_sent():
    assert event_payload(gr.EventData(None, {"step": 2, "token": "7"})) == {"step": 2, "token": "7"}
    assert gradio_internals.event_payload(object()) is None


def test_lean_session_states_are_gradio_s_without_the_copies_of_values():
    from gradio import state_holder
    SessionState = gradio_internals.SessionState  # Gradio's own, whether or not the patch is in place already
    demo, _ = tiny_demo()
    with demo:
        state = gr.State(None, time_to_live=60)
    original = SessionState(demo)
    lean = gradio_internals.LeanSessionState(demo)
    assert set(vars(lean)) == set(vars(original))  # Gradio added or renamed an attribute: update LeanSessionState
    assert set(lean.config_values) == set() and len(original.config_values) > 0
    for block in demo.blocks.values():  # what Gradio does with every input and output value of a request
        lean[block._id] = lean[block._id] if block.stateful else block
        lean._update_value_in_config(block._id, "x" * 100_000)
    assert dict(lean.config_values) == {}
    lean[state._id] = "kept"
    assert lean[state._id] == "kept" and [s for s, v, _ in lean.state_components if v == "kept"] == [state]
    gradio_internals.keep_lean_session_states()
    assert state_holder.SessionState is gradio_internals.LeanSessionState
    assert isinstance(demo.state_holder["someone"], gradio_internals.LeanSessionState)
