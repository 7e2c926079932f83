"""Links that open a chosen setup, and the Train tab's settings as a small file (docs/links.md).

A link's query names the Train tab's settings by their /train names (`?task=sort&hidden_dim=128`), over a preset
when it names one (`preset=Transformer`: applied first), the Decode tab's source, model and strategy, and the tab
to open (`tab=decode`). Each value is checked alone against its row of the controls table; whatever is unknown or
bad is left out and named in one notice at the top of the page, and the rest applies. "Copy link" writes the
current values as the shortest such query; "Settings (.json)" and "Load settings (.json)" carry every Train
setting as a file, read with the same checks (a file that is not one is a sentence, and changes nothing)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import gradio as gr

from seq2seq import Task, make_spec
from seq2seq.controls import DATA_TASK, DECODING

from . import limits, settings
from .decode_tab import STRATEGY_FIELDS
from .decoding import check_source
from .models import CHOICE_VALUES
from .page import say
from .pairs import short_name
from .settings import SettingsError
from .uploads import hold_upload, release_upload, uploaded_path
from .webguard import friendly

guarded = friendly(gr.Error, (gr.Error,))
PRIVATE = dict(api_visibility="private", preprocess=False)  # values arrive as sent: the handlers check them

FORMAT, VERSION = "seq2seq-playground-settings", 1
MAX_QUERY = 2000        # characters of a link's query (as encoded): a longer one is not read at all
MAX_FILE_BYTES = 4096   # a settings file (every setting, indented, is about 600 bytes)
MAX_NAMED = 6           # ignored parameters the notice names, then "and N more"
SILENT = ("tour", "presenter")  # the guided tour's parameters: not ours to read or to report
TABS = ("train", "decode", "compare", "runs", "map")  # the tabs' ids (playground/demo.py)
LENGTHS = ("min_len", "max_len")
# the Decode tab's controls in a link: its name -> the row of DECODING (the decode seed is `sample_seed` there:
# `seed` is the Train tab's)
DECODE_ROWS = {"top_k": "top_k", "strategy": "strategy", **{("sample_seed" if n == "seed" else n): n
                                                               for n in STRATEGY_FIELDS}}
DECODE_NAMES = ("source", "model", *DECODE_ROWS)
ON_OFF = {"true": True, "on": True, "yes": True, "1": True, "false": False, "off": False, "no": False, "0": False}
NOT_DATA = "your own pairs cannot come in a link or a settings file (it carries settings, not data)"


# ---------------------------------------------------------------- one value, checked alone


def check(name: str, raw: Any, text: bool = False) -> Any:
    """One value of a link or a settings file, checked alone against its row of the controls table (a Train
    setting by its /train name, a Decode control, the source, the model, the preset or the tab), as the form and
    the API check it. `text`: it came as text (a link), so on/off may be written as words. Raises SettingsError."""
    if name in limits.SETTINGS:
        s = limits.SETTINGS[name]
        if text and s.widget == "checkbox" and isinstance(raw, str):
            raw = ON_OFF.get(raw.strip().lower(), raw)
        value = settings.value(s, raw)
        if name == "task" and value == DATA_TASK:
            raise SettingsError(NOT_DATA)
        return value
    if name in DECODE_ROWS:
        return settings.value(DECODING[DECODE_ROWS[name]], raw)
    if name == "source":
        try:
            check_source(raw)
        except gr.Error as e:
            raise SettingsError(e.message) from None
        return raw
    if name == "model":
        if raw not in CHOICE_VALUES:
            raise SettingsError(f"Model must be one of {', '.join(sorted(CHOICE_VALUES))}.")
        return raw
    if name == "preset":
        if raw not in settings.PRESETS:
            raise SettingsError(f"Preset must be one of {', '.join(settings.PRESETS)}.")
        return raw
    if name == "tab":
        if raw not in TABS:
            raise SettingsError(f"Tab must be one of {', '.join(TABS)}.")
        return raw
    raise SettingsError("not a setting")


def reason(e: SettingsError) -> str:
    """A refusal's sentence as a clause: without the value (the notice shows it) and the full stop."""
    text = str(e).rstrip(".")
    cut = text.rfind(" (you gave ")
    text = text[:cut] if cut > 0 and text.endswith(")") else text
    return text[:1].lower() + text[1:]


def lowered(e: SettingsError) -> str:
    """A refusal's sentence to follow "No link: "."""
    return str(e)[:1].lower() + str(e)[1:]


def ignored_sentence(what: str, ignored: list[tuple[str, Any, str]], rest: str) -> str:
    """One sentence naming what was left out and why (at most MAX_NAMED of them): values as sent, cut short."""
    shown = [f"{settings.given(name)}" + (f"={settings.given(raw)}" if raw is not None else "") + f" ({why})"
             for name, raw, why in ignored[:MAX_NAMED]]
    more = len(ignored) - MAX_NAMED
    listed = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return f"Ignored in {what}{rest}: {listed}."


# ---------------------------------------------------------------- a link read, and written


@dataclass
class Link:
    """What a link's query asks for, each value checked; what it asked for that could not be."""
    preset: str | None = None
    train: dict[str, Any] = field(default_factory=dict)    # Train settings by name
    decode: dict[str, Any] = field(default_factory=dict)   # DECODE_NAMES
    tab: str | None = None
    ignored: list[tuple[str, Any, str]] = field(default_factory=list)  # (name, value or None, why)
    too_long: int = 0  # the query's length when it was too long to read

    def notice(self) -> str:
        """The one sentence the page shows about this link ("" when all of it applied)."""
        if self.too_long:
            return (f"This link was not read: its settings are {self.too_long:,} characters long, and a link may "
                    f"have at most {MAX_QUERY:,}.")
        return ignored_sentence("this link", self.ignored, " (the rest of it is set)") if self.ignored else ""


def read_link(items: list[tuple[str, str]]) -> Link:
    """A link's query parameters, (name, value) as sent, read into a Link. Gradio's own (`__theme`, ...) and the
    tour's are left alone; a name given twice is ignored."""
    items = [(k, v) for k, v in items if k not in SILENT and not k.startswith("__")]
    size = len(urlencode(items))
    if size > MAX_QUERY:
        return Link(too_long=size)
    link, counts = Link(), Counter(k for k, _ in items)
    for name, raw in items:
        if counts[name] > 1:
            if (name, None, "given more than once") not in link.ignored:
                link.ignored.append((name, None, "given more than once"))
            continue
        try:
            value = check(name, raw, text=True)
        except SettingsError as e:
            link.ignored.append((name, raw, reason(e)))
            continue
        if name in ("preset", "tab"):
            setattr(link, name, value)
        else:
            (link.train if name in limits.SETTINGS else link.decode)[name] = value
    return link


def combined(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Settings `given` over `base`: a task given without its lengths takes the task's own (as choosing it in
    the menu does)."""
    values = {**base, **given}
    if "task" in given and given["task"] != base.get("task"):
        spec = make_spec(given["task"])
        for name in LENGTHS:
            if name not in given:
                values[name] = getattr(spec, name)
    return values


def shortest(values: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The preset (None: the default) and the fewest settings over it that `combined` reads back as `values`."""
    best: tuple[int, str | None, dict] | None = None
    for name, base in settings.PRESETS.items():
        given: dict[str, Any] = {}
        for key in limits.SETTINGS:  # the task before its lengths
            if key in values and combined(base, given).get(key) != values[key]:
                given[key] = values[key]
        cost = len(given) + (name != settings.DEFAULT_PRESET)
        if best is None or cost < best[0]:
            best = (cost, None if name == settings.DEFAULT_PRESET else name, given)
    return best[1], best[2]


def text_of(value: Any) -> str:
    """A value as a link writes it: true/false, 128, 0.0075."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, float) else str(value)
    return text[:-2] if isinstance(value, float) and text.endswith(".0") else text


def query_of(preset: str | None, train: dict[str, Any], decode: dict[str, Any]) -> str:
    items = ([("preset", preset)] if preset else []) + [(k, text_of(v)) for k, v in {**train, **decode}.items()]
    return "?" + urlencode(items) if items else ""


# ---------------------------------------------------------------- the settings file


def settings_text(values: dict[str, Any]) -> str:
    """Checked Train settings as a settings file."""
    return json.dumps({"format": FORMAT, "version": VERSION, "settings": values}, indent=1, ensure_ascii=False)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "text", list: "a list", dict: "an object", type(None): "null"}.get(type(value), "something else")


def read_settings_text(text: str) -> tuple[dict[str, Any], list[tuple[str, Any, str]]]:
    """A settings file's text: (the settings it gives, each checked alone; what it gives that was left out, and
    why). Raises SettingsError (a clause: "it is not JSON") for a file that is not a settings file: not JSON, not
    this format or version, or a setting of the wrong JSON type."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise SettingsError("it is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SettingsError(f'it is not a settings file of this app (one says "format": "{FORMAT}")')
    version = data.get("version")
    if version != VERSION or isinstance(version, bool):
        raise SettingsError(f"it is a version {settings.given(version)} settings file; this app reads version "
                            f"{VERSION}")
    values = data.get("settings")
    if not isinstance(values, dict):
        raise SettingsError('its "settings" is not an object of settings')
    ignored = [(k, None, "not part of a settings file") for k in data if k not in ("format", "version", "settings")]
    given: dict[str, Any] = {}
    for name, raw in values.items():
        s = limits.SETTINGS.get(name)
        if s is None:
            ignored.append((name, raw, "not a setting"))
            continue
        want = "text" if s.choices else "true or false" if s.widget == "checkbox" else "a number"
        if _json_kind(raw) != want:
            raise SettingsError(f"its {settings.given(name)} is {_json_kind(raw)}, where a settings file has {want}")
        try:
            given[name] = check(name, raw)
        except SettingsError as e:
            ignored.append((name, raw, reason(e)))
    return given, ignored


def read_settings_file(path: Path) -> tuple[dict[str, Any], list[tuple[str, Any, str]]]:
    """An uploaded settings file, read within MAX_FILE_BYTES (see read_settings_text). Raises SettingsError."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        raise SettingsError("the file could not be read") from None
    if len(data) > MAX_FILE_BYTES:
        raise SettingsError(f"it is larger than {MAX_FILE_BYTES:,} bytes (a settings file is under 1,000)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError("it is not text (UTF-8)") from None
    return read_settings_text(text)


def form_settings(values: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The form's Train settings, each checked alone (SettingsError for the first bad one), and a note: with your
    pairs chosen, the task and its lengths are left out (a link or a file carries settings, not data)."""
    own = values.get("task") == DATA_TASK
    checked = {name: check(name, values.get(name)) for name in limits.SETTINGS
               if not (own and name in ("task", *LENGTHS))}
    return checked, " Your pairs are not in it (it carries settings, not data)." if own else ""


# ---------------------------------------------------------------- the page


@dataclass
class ShareBox:
    """The Train tab's row for sharing its settings."""
    copy: gr.Button
    download: gr.Button
    upload: gr.UploadButton
    link: gr.Textbox
    message: gr.HTML
    file_text: gr.Textbox  # the settings file on its way to the browser, which saves it (links.js)


def build_notice() -> gr.HTML:
    """The message box near the top of the page where a link's ignored parameters are named."""
    return gr.HTML("", visible=False, elem_id="link-notice")


def build_share_box() -> ShareBox:
    """Copy link, the settings file down and up, and the link once made (built inside the Train tab's settings)."""
    with gr.Row(elem_id="share-row"):
        copy = gr.Button("Copy link", size="sm", elem_id="copy-link", min_width=90)
        download = gr.Button("Settings (.json)", size="sm", elem_id="download-settings", min_width=110)
        upload = gr.UploadButton("Load settings (.json)", file_types=[".json"], size="sm",
                                 elem_id="upload-settings", min_width=150)
    link = gr.Textbox(label="Link to these settings", interactive=False, visible=False, elem_id="share-link",
                      lines=1, max_lines=4, buttons=["copy"])
    message = gr.HTML("", visible=False, elem_id="share-message")
    file_text = gr.Textbox(visible=False, elem_id="settings-file-text")
    return ShareBox(copy, download, upload, link, message, file_text)


def page_address(url: Any) -> str:
    """The page's address as its browser sent it (http or https, no query), or "" when it is not one."""
    if not isinstance(url, str) or len(url) > 500:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc and not parts.query else ""


def query_items(request: gr.Request | None) -> list[tuple[str, str]]:
    params = getattr(request, "query_params", None) if request is not None else None
    if params is None:
        return []
    multi = getattr(params, "multi_items", None)
    return list(multi()) if callable(multi) else list(dict(params).items())


def wire_links(demo: gr.Blocks, train, decode, tabs: gr.Tabs, notice: gr.HTML) -> None:
    """A link read as the page loads; Copy link, and the settings file down and up."""
    from .train_tab import form_updates  # here, not at the top: the Train tab builds its share box from this module
    share: ShareBox = train.share
    form = train.form
    controls = {"source": decode.source, "model": decode.model_choice, "top_k": decode.top_k,
                **dict(zip(("strategy", *(n for n in DECODE_ROWS if n not in ("top_k", "strategy"))),
                           decode.strategy))}
    decode_defaults = {"source": decode.source.value, "model": decode.model_choice.value,
                       **{n: DECODING[row].default for n, row in DECODE_ROWS.items()}}
    default = settings.PRESETS[settings.DEFAULT_PRESET]
    task_parts = list(train.task_outputs(Task(make_spec(default["task"])), False))
    in_form = {id(c) for c in form.values()}
    form_outputs = [*form.values(), *[c for c in task_parts if id(c) not in in_form]]
    shown_by_preset = {id(c) for c in train.preset_outputs}
    link_outputs = [*train.preset_outputs, *[c for c in form_outputs if id(c) not in shown_by_preset]]

    def shown(values: dict[str, Any], task_changed: bool) -> dict:
        """The form showing `values` (every Train setting, or some over the form's current arch): the fields its
        architecture uses and, for a new task, the task's note, box and sources to watch."""
        updates = form_updates(form, values)
        if task_changed:
            try:
                task = Task(make_spec(values["task"], values["min_len"], values["max_len"]))
            except ValueError:  # lengths the task cannot take: shown as given, and Train says why
                task = Task(make_spec(values["task"]))
            updates.update(train.task_outputs(task, False))
            for name in LENGTHS:
                updates[form[name]] = gr.update(value=values[name], interactive=True)
        return updates

    @guarded
    def open_link(request: gr.Request):
        items = query_items(request)
        if not items:
            return {notice: gr.skip()}  # (an empty dict would be Gradio's error)
        link = read_link(items)
        out: dict = {notice: say(link.notice(), "notice")}
        if link.tab:
            out[tabs] = gr.Tabs(selected=link.tab)
        out.update({controls[name]: value for name, value in link.decode.items()})
        if link.preset or link.train:
            name = link.preset or settings.DEFAULT_PRESET
            values = combined(settings.PRESETS[name], link.train)
            try:  # the preset chosen as a person chooses it, with the link's values over it, in one update
                out.update(train.preset_updates(name, values))
            except ValueError:  # lengths its task cannot take: shown as given (Train says why), the preset named
                out.update({**shown(values, True), train.preset: name})
        return out

    @guarded
    def copy_link(page_url, **values):
        """The current settings as the shortest link to them (or a sentence naming the first bad one)."""
        try:
            train_values, note = form_settings(values)
            decode_values = {}
            for name in DECODE_NAMES:
                if name == "source" and not (isinstance(values.get(name), str) and values[name].strip()):
                    continue
                decode_values[name] = check(name, values.get(name))
        except SettingsError as e:
            return {share.link: gr.update(value="", visible=False), share.message: say(f"No link: {lowered(e)}")}
        preset, given = shortest(train_values)
        changed = {k: v for k, v in decode_values.items() if v != decode_defaults[k]}
        query = query_of(preset, given, changed)
        if len(query) > MAX_QUERY + 1 and "source" in changed:
            changed.pop("source")
            query = query_of(preset, given, changed)
            note += " The Decode tab's source is too long for a link: it is left out."
        url = page_address(page_url) + (query or "?")
        return {share.link: gr.update(value=url, visible=True),
                share.message: say("Whoever opens this link gets these settings in a page of their own, ready "
                                   "to train." + note, "info")}

    @guarded
    def download_settings(**values):
        try:
            checked, note = form_settings(values)
        except SettingsError as e:
            return {share.file_text: "", share.message: say(f"No file: {lowered(e)}")}
        name = f"seq2seq-settings-{checked.get('task', 'your-pairs')}.json"
        return {share.file_text: json.dumps({"name": name, "text": settings_text(checked)}),
                share.message: say(f"{name}: every Train setting; “Load settings (.json)” reads it back." + note,
                                   "info")}

    @guarded
    def load_settings(file, **current):
        """A settings file into the form: a file that is not one is a sentence, and the form stays as it was."""
        try:
            path = uploaded_path(file, "settings file (.json)", (".json",),
                                 "Settings come as a .json file, as “Settings (.json)” saves them.",
                                 "Cannot load settings")
        except gr.Error as e:
            return {share.message: say(e.message)}
        hold_upload(path)  # whatever happens next, the file goes (released below)
        try:
            name = short_name(path.name)
            given, ignored = read_settings_file(path)
        except SettingsError as e:
            return {share.message: say(f"Cannot load {name}: {e}. The form is unchanged.")}
        finally:
            release_upload(path)
        if current.get("task") == DATA_TASK and "task" not in given:  # your pairs' lengths are the data's
            ignored += [(n, given.pop(n), "your pairs' lengths are the data's") for n in LENGTHS if n in given]
        values = combined({n: current.get(n) for n in form}, given)
        shown_values = {n: values[n] for n in (*given, *LENGTHS) if n in values and (n in given or "task" in given)}
        try:
            shown_values["arch"] = check("arch", values.get("arch"))
        except SettingsError:
            shown_values["arch"] = "rnn"
        said = f"Loaded {len(given)} setting{'s' if len(given) != 1 else ''} from {name}."
        if ignored:
            rest = f"the other {len(given)} {'is' if len(given) == 1 else 'are'} loaded" if given else "nothing loaded"
            said = ignored_sentence(name, ignored, f" ({rest})")
        return {share.message: say(said, "notice" if ignored else "info"),
                **shown(shown_values, "task" in given and given["task"] != current.get("task"))}

    demo.load(open_link, None, [notice, tabs, *controls.values(), *link_outputs], **PRIVATE)
    share.copy.click(copy_link, [share.link], [share.link, share.message], inputs_kwargs={**form, **controls},
                     js="(...args) => { args[0] = location.origin + location.pathname; return args; }",
                     **PRIVATE).then(None, [share.link], None, js="(url) => window.s2sLinks?.copy(url)")
    share.download.click(download_settings, None, [share.file_text, share.message], inputs_kwargs=dict(form),
                         **PRIVATE).then(None, [share.file_text], None,
                                         js="(file) => window.s2sLinks?.download(file)")
    share.upload.upload(load_settings, [share.upload], [share.message, *form_outputs], inputs_kwargs=dict(form),
                        **PRIVATE)
