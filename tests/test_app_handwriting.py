"""The class's handwriting in Streamlit's AppTest: saved from the Draw page, measured on Evaluate, and
added to a run's training digits on the Train page."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.classroom import class_set as handwriting
from core.classroom.class_set import ClassDigits
from dashboard.class_set_panel import MEANT_LABEL, SAVE_LABEL, UNDO_LABEL
from helpers.apptest import BAR, button, draw_on_canvas, draw_page, html, open_page, texts, train_page
from helpers.digits import make_digits


def save_bar_as(at, label: int):
    """Draw the bar on the canvas, choose ``label`` under "Which digit did you mean?" and save it."""
    draw_on_canvas(at, BAR)
    meant = at.segmented_control[0]
    assert meant.label == MEANT_LABEL and meant.value is None and button(at, SAVE_LABEL).disabled
    meant.set_value(label).run()
    button(at, SAVE_LABEL).click().run()
    assert not at.exception
    return at


def test_a_drawing_saved_from_the_draw_page_joins_the_class_set(tiny_npz, saved_model):
    at = save_bar_as(draw_page(), 2)
    drawings = ClassDigits().load()
    assert drawings.labels.tolist() == [2] and drawings.students == ("",)
    seen = at.session_state["draw_digit"]  # the 28x28 digit the model saw, also the Evaluate map's star
    assert np.abs(drawings.images[0] / 255 - seen).max() <= 0.5 / 255
    assert texts(at.success) == ["Saved as a 2 — the class set now has 1 drawing."]
    assert at.session_state["draw_round"] == 1 and not at.segmented_control  # a fresh canvas for the next digit

    button(at, UNDO_LABEL).click().run()
    assert not at.exception
    assert len(ClassDigits().load()) == 0
    assert texts(at.success) == ["Removed: the class set has 0 drawings."]


def test_a_student_at_the_cap_is_told_and_nothing_is_saved(tiny_npz, saved_model, monkeypatch):
    monkeypatch.setattr(handwriting, "MAX_PER_STUDENT", 1)
    at = draw_page()
    at.session_state["student_name"] = "Ada"
    at = save_bar_as(at, 2)
    assert ClassDigits().load().students == ("Ada",)
    at = save_bar_as(at, 2)  # on the fresh canvas the first save left
    assert len(ClassDigits().load()) == 1
    assert "Ada already has 1 drawings in the class set" in at.warning[0].value


def test_two_students_without_a_name_each_have_a_cap_of_their_own(tiny_npz, saved_model, monkeypatch):
    """issue 22: after 200 unnamed drawings every unnamed student was refused."""
    monkeypatch.setattr(handwriting, "MAX_PER_STUDENT", 1)
    first = save_bar_as(draw_page(), 2)
    first = save_bar_as(first, 3)
    assert "You already have 1 drawings in the class set" in first.warning[0].value
    save_bar_as(draw_page(), 3)  # another browser, nobody named either: saved
    drawings = ClassDigits().load()
    assert drawings.labels.tolist() == [2, 3] and len(set(drawings.sessions)) == 2


def test_the_teacher_removes_one_students_drawings_on_the_models_page(tiny_npz, teacher_key):
    images, labels = make_digits(4, seed=3)
    for image, label, student in zip(images, labels, ("Mallory", "Ada", "Mallory", "Mallory")):
        ClassDigits().add(image, int(label), student)
    at = open_page("models")
    at.sidebar.text_input(key="sidebar_teacher_passphrase").set_value(teacher_key).run()
    next(widget for widget in at.sidebar.button if widget.label == "Unlock teacher mode").click().run()
    at.selectbox(key="models_drawings_student").set_value("Mallory").run()
    button(at, "Remove these drawings").click().run()
    assert not at.exception and "Deleted Mallory's 3 drawings." in at.success[0].value
    assert ClassDigits().load().students == ("Ada",)


def add_drawings(count: int, mislabelled: int) -> None:
    """``count`` of the tiny set's kind of digit, the first ``mislabelled`` saved as another digit."""
    images, labels = make_digits(count, seed=7)
    for index, (image, label) in enumerate(zip(images, labels)):
        meant = (int(label) + 1) % 10 if index < mislabelled else int(label)
        ClassDigits().add(image, meant, "Ada" if index % 2 else "Grace")


def test_evaluate_says_how_to_fill_an_empty_class_set(tiny_npz, saved_model):
    at = open_page("evaluate", evaluate_tab="How well does it read us?")
    assert "The class set is empty" in texts(at.info)[0] and "Save to the class set" in texts(at.info)[0]


def test_evaluate_reads_the_class_set_beside_the_test_digits(tiny_npz, saved_model, tiny_result):
    from core.evaluation.metrics import evaluate_accuracy

    add_drawings(20, mislabelled=3)
    drawings = ClassDigits().load()
    at = open_page("evaluate", evaluate_tab="How well does it read us?")
    shown = {metric.label: metric.value for metric in at.metric}
    expected = evaluate_accuracy(tiny_result.model, drawings.images, drawings.labels)
    assert shown["Accuracy on the class's handwriting"] == f"{expected:.4f}"
    assert shown["Accuracy on test data"] == f"{tiny_result.test_accuracy:.4f}"
    assert shown["Class drawings"] == "20"
    table = at.dataframe[-1].value
    assert sorted(table["student"]) == ["Ada", "Grace"] and table["drawings"].sum() == 20
    assert table["read right"].sum() == round(expected * 20)
    assert html(at).count("<figure") == round((1 - expected) * 20) >= 3  # the three mislabelled ones at least


def test_the_train_page_adds_the_class_set_to_the_runs_digits(tiny_npz, fake_scheduler):
    """The page asks for the class set; test_scheduler.py shows a worker adding it to the run's digits."""
    at = train_page()
    box = at.checkbox(key="train_class_digits")
    assert box.disabled and box.label == "Add the class's handwriting (none saved yet)"
    add_drawings(20, mislabelled=0)
    at.run()
    box = at.checkbox(key="train_class_digits")
    assert not box.disabled and box.label == "Add the class's handwriting (20 drawings)"
    box.check().run()
    at.number_input(key="train_epochs").set_value(1).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error
    job = at.session_state["training_job"]
    assert Path(job.class_digits) == ClassDigits().folder.resolve() and job.config.epochs == 1
