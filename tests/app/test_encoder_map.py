"""/encoder_map against the tier's running `python app.py`, as a script calls it: the bundled reverse model's context
vectors on their two principal components, the explained variance shown (the note and both axis titles), the points
carrying their source and the model's output, length readable from the map (the probe of
tests/unit/test_encoder_map.py, on the points the server returned), the attention caveat, and bad input as one
sentence."""
from __future__ import annotations

import re

import pytest
from gradio_client.exceptions import AppError

from tests.helpers import client
from tests.unit.test_encoder_map import nearest_centroid, r_squared


@pytest.fixture(scope="module")
def scripted(app_url):
    return client(app_url)


def points(plot: dict) -> tuple[list[tuple[float, float]], dict[str, list]]:
    """The plot's points and its columns by name."""
    value = plot["value"]
    columns = {name: [row[i] for row in value["data"]] for i, name in enumerate(value["columns"])}
    return list(zip(columns[plot["x"]], columns[plot["y"]])), columns


def test_the_reverse_models_map_shows_its_explained_variance_and_length(scripted):
    plot, note = scripted.predict("bundled:reverse", "length", "reverse", api_name="/encoder_map")
    first, second, together = map(int, re.search(r"PC1 explains (\d+)% of the variance, PC2 (\d+)%: together "
                                                  r"(\d+)%", note).groups())
    assert first >= second > 0 and abs(together - first - second) <= 1  # each rounded on its own
    assert plot["x_title"] == f"PC1 ({first}% of the variance)" and plot["y_title"] == f"PC2 ({second}% of the variance)"
    assert "300 held-out sources" in note and "decoder's initial state" in note
    assert "only part of the story" not in note  # no attention: the final state is all the decoder gets
    xy, columns = points(plot)
    assert len(xy) == 300 and plot["value"]["columns"] == ["PC1", "PC2", "length", "source", "output"]
    assert plot["tooltip"] == ["source", "output"]  # what a hover shows beside the coordinates and the colour
    for source, output in zip(columns["source"], columns["output"]):
        assert output == " ".join(reversed(source.split()))  # the bundled model reverses every held-out source
    lengths = columns["length"]
    assert list(dict.fromkeys(lengths)) == [str(n) for n in range(3, 11)]  # the points in the key's order
    assert list(plot["color_map"]) == [str(n) for n in range(3, 11)]
    assert all(str(len(s.split())) == n for s, n in zip(columns["source"], lengths))
    # the probe of the unit test, on what the server sent: R² 0.994 and 99.7% against 16% measured there
    assert r_squared(xy, [int(n) for n in lengths]) > 0.8
    accuracy, chance = nearest_centroid(xy, lengths)
    assert accuracy > chance + 0.5, (accuracy, chance)


def test_models_that_read_every_state_say_the_map_is_only_part_of_the_story(scripted):
    _, note = scripted.predict("bundled:reverse-attention", "first", "reverse", api_name="/encoder_map")
    assert "This model has attention" in note and "only part of the story" in note
    plot, note = scripted.predict("bundled:reverse-transformer", "last", "reverse", api_name="/encoder_map")
    assert "mean of the Transformer encoder's outputs" in note and "only part of the story" in note
    _, columns = points(plot)
    assert set(columns["last token"]) == set("0123456789") and plot["color_title"] == "last token"


def test_a_real_looking_task_is_coloured_by_its_answers_first_token(scripted):
    plot, _ = scripted.predict("bundled:dates", "answer", "reverse", api_name="/encoder_map")
    _, columns = points(plot)
    assert plot["color_title"] == "answer's first token"
    assert all(output.startswith(first) for output, first in zip(columns["output"], columns["answer starts with"])
               if output)  # ISO dates: the answer starts with the year's first digit, and so does a right output
    assert any(" " in source for source in columns["source"])  # written as people write dates: "3 March 2021"


@pytest.mark.parametrize("args, sentence", [
    (("bundled:nope", "length", "reverse"), "Model must be one of the menu's choices."),
    (("bundled:reverse", "colour", "reverse"), "Colour by must be one of length, first, last, answer."),
    (("auto", "length", "random"), "There is no bundled model for random (it cannot be learned)."),
    (("session", "length", "reverse"), "You have not trained a model in this session yet"),
    ((["auto"], "length", "reverse"), "Model must be one of the menu's choices."),
    (("auto", ["length"], "reverse"), "Colour by must be one of length, first, last, answer."),
])
def test_bad_input_is_one_sentence(scripted, args, sentence):
    with pytest.raises(AppError) as error:
        scripted.predict(*args, api_name="/encoder_map")
    message = str(error.value)
    assert sentence in message and "Traceback" not in message and "File \"" not in message, message
