"""Bad input that reaches the pages: whatever a user types (a shared link's values, an upload's name, a model's
or a student's name, an error quoting one) shows as typed, never as a link, a picture or formatting
(dashboard/plain_text.py); and a link or a class rule outside a field's limits (core.model.config.LIMITS) gives a
warning or a bounded widget, never a broken page."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import pytest
from markdown_it import MarkdownIt

from core.classroom.rules import rules_path
from core.data.uploads import load_upload
from core.model.config import LIMITS, preset
from core.model.share_links import QUERY_FIELDS
from core.model.store import ModelStore
from dashboard.plain_text import WORD_JOINER, escape
from helpers.apptest import lecture_page, open_page, texts, train_page
from helpers.digits import make_tiny_data, npz_bytes

# CommonMark, as Streamlit's renderer reads it, with GitHub's strikethrough and tables.
MARKDOWN = MarkdownIt("commonmark").enable(["strikethrough", "table"])
# What Streamlit's renderer looks for in the text left once markdown is parsed (its StreamlitMarkdown.tsx, and
# mdast-util-gfm-autolink-literal): web and e-mail addresses, icons, emoji and logo shortcodes, directives.
TEXT_PATTERNS = re.compile(r"https?://|www\.|[\w.+-]@[\w-]|:material/|:[\w+-]+:|:[a-z-]+\[", re.IGNORECASE)
LINK = "[Click here](https://example.com/login)"
IMAGE = "![p](http://127.0.0.1:9/track.png)"
UPLOAD_NAME = "[Click here](https:example.com).npz"
MODEL_NAME = "a __bold__ b"
OWNER = "Ada __x__"
NASTY = [
    LINK, IMAGE, UPLOAD_NAME, MODEL_NAME, "*a* _b_ `c` ~~d~~ <b>e</b> <https://f.org> &lt; &#65;",
    ":material/home: :smile: :streamlit: :red[g] :blue-background[h] :small[i] $x^2$ $$y$$",
    "www.example.com and ada@example.com", "- item", "+ item", "1. item", "12) item", "# heading", "> quote",
    "---", "***", "    code", "| a | b |", "a\n\n# two lines\n---", "a \\ b \\* c", "[x]: http://e.org",
    "tiny_mnist.npz", "é_é", "```js", "~~~",
]


def visible(rendered: str) -> str:
    """The text a reader sees of rendered HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def assert_shown_as_typed(markdown: str, typed: str) -> None:
    """``markdown`` (a page's text holding what a user typed) shows ``typed`` character for character, and
    holds no link, picture, address or Streamlit shortcode (the page's own text has none either)."""
    rendered = MARKDOWN.render(markdown)
    assert " ".join(typed.split()) in visible(rendered).replace(WORD_JOINER, ""), rendered
    assert not re.search(r"<(a|img)\b", rendered), rendered
    assert not TEXT_PATTERNS.search(visible(rendered)), rendered
    assert not re.search(r"(?<!\\)\$", markdown), markdown


def markdown_texts(at) -> list[str]:
    """Every text of an AppTest page that Streamlit renders as markdown: bodies of markdown, captions and
    alerts, labels and help of widgets and expanders, metric values, progress texts; and table cells."""
    found = []

    def walk(node):
        proto = getattr(node, "proto", None)
        for field in ("body", "label", "help", "text"):
            value = getattr(proto, field, None)
            if isinstance(value, str) and value:
                found.append(value)
        if type(node).__name__ == "Expander":
            found.append(node.label)
        if getattr(node, "type", None) == "popover":
            found.append(node.proto.popover.label)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    for table in at.table:
        found += [str(cell) for cell in table.value.to_numpy().ravel()]
    return found


@pytest.mark.parametrize("text", NASTY)
def test_escaped_text_renders_exactly_as_typed(text):
    markdown = escape(text)
    rendered = MARKDOWN.render(markdown)
    assert re.sub(r"</?p>", "", rendered).count("<") == 0, rendered  # no element but the paragraph
    assert visible(rendered).replace(WORD_JOINER, "") == " ".join(text.split())
    assert_shown_as_typed(markdown, text)


def test_an_underscore_inside_a_word_is_kept_so_file_names_stay_readable():
    description = "300 train / 100 test digits from tiny_mnist.npz"
    assert escape(description) == description


@pytest.mark.parametrize(("parameter", "value", "field", "kept"), [
    ("validation_split", "0.9", "validation_split", "0.0"), ("dropout", "0.95", "dropout", "0.0"),
    ("lr", "1e-7", "learning_rate", "0.5"), ("seed", "3000000000", "seed", "0"), ("epochs", "501", "epochs", "5"),
    ("batch_size", "5000", "batch_size", "32"),
])
def test_a_link_value_outside_the_limits_warns_and_keeps_the_presets(tiny_npz, parameter, value, field, kept):
    at = train_page({"preset": "lecture", parameter: value})
    assert not at.exception
    (warning,) = texts(at.warning)
    assert warning.startswith(f"{parameter}={value!r} in the link: {field} must be a ")
    assert f"number from {LIMITS[field].low:g} to " in warning and warning.endswith(f"Using the preset's {kept!r}.")
    widget = at.slider if field in ("dropout", "validation_split") else at.number_input
    assert widget(key=f"train_{field}").value == getattr(preset("lecture"), field)


@pytest.mark.parametrize("end", ["low", "high"])
def test_the_form_takes_every_value_the_limits_allow(tiny_npz, end):
    """The widgets' ranges are the limits themselves, so a link at either end of every range fills the form."""
    url_names = {field: name for name, field in QUERY_FIELDS.items()}
    at = train_page({"preset": "lecture", **{url_names[field]: str(getattr(limit, end))
                                             for field, limit in LIMITS.items()}})
    assert not at.exception and not at.warning
    for field, limit in LIMITS.items():
        widget = (at.slider if field in ("dropout", "validation_split") else at.number_input)(key=f"train_{field}")
        assert (widget.min, widget.max) == limit, field
        assert widget.value == getattr(limit, end), field


@pytest.mark.parametrize("typed", [LINK, IMAGE])
def test_a_link_value_is_shown_as_typed_in_its_warning(tiny_npz, typed):
    at = train_page({"preset": "lecture", "activation": typed})
    (warning,) = texts(at.warning)
    assert warning.startswith("activation=") and "Using the preset's 'tanh'" in warning
    assert_shown_as_typed(warning, typed)


def test_a_bad_lecture_step_in_the_link_is_shown_as_typed(tiny_npz):
    (warning,) = texts(lecture_page(IMAGE).warning)
    assert_shown_as_typed(warning, IMAGE)


def test_an_uploads_name_is_shown_as_typed_in_the_sidebar_and_on_evaluate(tiny_npz, tiny_result):
    upload = npz_bytes(make_tiny_data(train=120, test=40))
    at = open_page("digits")
    at.file_uploader[0].set_value((UPLOAD_NAME, upload, "application/octet-stream")).run()
    assert not at.exception and not at.error
    (data_line,) = [text for text in texts(at.sidebar.markdown) if text.startswith("**Data:**")]
    assert_shown_as_typed(data_line, UPLOAD_NAME)
    assert_shown_as_typed(next(text for text in texts(at.caption) if text.startswith("Now:")), UPLOAD_NAME)

    at.file_uploader[0].set_value((UPLOAD_NAME, b"not an npz", "application/octet-stream")).run()
    assert_shown_as_typed(at.error[0].value, UPLOAD_NAME)  # the message names the file

    # A model trained on that upload, opened in another session: Evaluate names the data it was trained on.
    description = load_upload([(UPLOAD_NAME, upload)]).description
    ModelStore().save("on-the-upload", dataclasses.replace(tiny_result, data_description=description))
    at = open_page("evaluate")
    assert not at.error
    (caption,) = [text for text in texts(at.caption) if text.startswith("on-the-upload")]
    assert_shown_as_typed(caption, description)


@pytest.mark.parametrize("page", ["models", "evaluate", "draw"])
def test_a_model_and_owner_name_are_shown_as_typed(tiny_npz, tiny_result, page):
    ModelStore().save(MODEL_NAME, tiny_result, owner=OWNER)
    at = open_page(page)
    assert not at.exception
    shown = markdown_texts(at)
    naming_the_model = [text for text in shown if "bold" in text]
    assert naming_the_model  # the sidebar's active model, at least
    for text in naming_the_model:
        assert_shown_as_typed(text, MODEL_NAME)
    for text in (text for text in shown if "Ada" in text):  # on Models: whose model it is, the leaderboard
        assert_shown_as_typed(text, OWNER)
    picker = at.selectbox(key=f"{page}_manage" if page == "models" else f"{page}_model")
    assert picker.options == [MODEL_NAME]  # select-box options are plain text: shown as they are


def test_a_students_name_is_shown_as_typed_on_its_popover(tiny_npz):
    at = open_page("lecture")
    at.sidebar.text_input(key="sidebar_name").set_value("1. _Ada_ 'x'-y").run()
    labels = [text for text in markdown_texts(at) if text.startswith("Your name: ")]
    assert len(labels) == 1
    assert_shown_as_typed(labels[0], "Your name: 1. _Ada_ 'x'-y")


def test_an_error_quoting_a_typed_name_shows_it_as_typed(tiny_npz, saved_model):
    at = open_page("models")
    at.text_input(key=f"models_new_name_{saved_model}").set_value(LINK)
    next(button for button in at.button if button.label == "Rename").click().run()
    assert "is not a usable model name" in at.error[0].value
    assert_shown_as_typed(at.error[0].value, LINK)


def test_a_class_rule_beyond_the_epoch_limit_keeps_the_teachers_page_working(tiny_npz, teacher_key):
    rules_path().parent.mkdir(parents=True, exist_ok=True)
    rules_path().write_text(json.dumps({"allowed_presets": [], "max_epochs": LIMITS["epochs"].high + 500}))
    at = open_page("models", teacher_unlocked=True)
    assert at.number_input(key="models_max_epochs").value == LIMITS["epochs"].high  # the same limit, in effect
