"""Evaluate: how a saved model does on the test digits, where it goes wrong, and why.

Only the test digits are measured on the way in: the training accuracy is the one saved with
the model when these are the digits it was trained on, else measured when asked. When the
saved figures apply, they show at once, before TensorFlow starts. The tabs run only when opened.
"""

from collections import Counter

import numpy as np
import streamlit as st

from core.classroom.class_set import ClassDigits, count_text
from core.evaluation.evaluate import Evaluation, misclassified, place_among, saved_train_accuracy, trained_on
from core.evaluation.explain import EMBED_METHODS, activations, first_layer_weights, saliency
from core.evaluation.metrics import train_accuracy_sample
from core.model.store import StoreError
from dashboard import caches, figures, session
from dashboard.explain_blocks import probabilities_html, saliency_html, weights_grid_html
from dashboard.html_blocks import gallery_html
from dashboard.plain_text import escape

GALLERY = 24  # misclassified digits shown, most confidently wrong first
MEASURE_TRAIN = "evaluate_measure_train"  # st.session_state key: (model file, data key) pairs asked to measure
TABS = ("Accuracy", "Why this answer?", "Embedding map", "First-layer weights", "How well does it read us?")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
WEIGHT_COLUMNS = 16  # the lecture's 64 units in 4 rows
STAR_NEIGHBOURS = 5  # the drawing goes to the mean place of this many nearest test digits: no single odd one decides
TRAIN_LABEL, TEST_LABEL = "Accuracy on training data", "Accuracy on test data"  # the lecture's own words
CLASS_LABEL = "Accuracy on the class's handwriting"
NO_NAME = "(no name)"


def measure_train(request: tuple[str, str]) -> None:
    st.session_state.setdefault(MEASURE_TRAIN, set()).add(request)


def train_accuracy_metric(slot, column, info, data_key, data, evaluation: Evaluation) -> None:
    """In ``slot``: the saved training accuracy when it belongs to these digits, else the measured one
    if asked for; else "not measured", with a button below it in ``column``."""
    saved = saved_train_accuracy(info, data, evaluation)
    if saved is not None:
        held_out = (f" The {info.config.validation_split:.0%} of them held out for validation are not counted."
                    if info.config is not None and info.config.validation_split else "")
        slot.metric(TRAIN_LABEL, f"{saved:.4f}", help=f"Measured when {escape(info.name)} finished training on these "
                                                      f"digits, and saved with it.{held_out}")
        return
    measured = len(train_accuracy_sample(len(data.x_train)))
    digits = (f"the {measured:,} training digits" if measured == len(data.x_train)
              else f"{measured:,} of the {len(data.x_train):,} training digits")
    request = (str(info.path), data_key)
    if request in st.session_state.get(MEASURE_TRAIN, ()):
        slot.metric(TRAIN_LABEL, f"{caches.train_accuracy(info, data_key, data):.4f}",
                    help=f"Measured here on {digits}, spread evenly over the set, as training measures it.")
        return
    slot.metric(TRAIN_LABEL, "not measured", help="The figure saved with the model belongs to the digits it was "
                                                  "trained on, which are not these.")
    column.button(f"Measure on {digits}", on_click=measure_train, args=(request,), key="evaluate_measure_train_button")


def show_accuracy(data, evaluation: Evaluation) -> None:
    matrix, per_class = st.columns(2)
    matrix.subheader("Confusion matrix")
    matrix.plotly_chart(figures.confusion_figure(evaluation.confusion), key="evaluate_confusion")
    per_class.subheader("Per digit")
    per_class.plotly_chart(figures.precision_recall_figure(evaluation.precision, evaluation.recall),
                           key="evaluate_precision_recall")
    per_class.dataframe(
        {"digit": list(range(10)), "precision": evaluation.precision, "recall": evaluation.recall},
        hide_index=True, column_config={
            "precision": st.column_config.NumberColumn(format="percent", help="right among the digits predicted"),
            "recall": st.column_config.NumberColumn(format="percent", help="right among the true digits"),
        },
    )

    st.subheader("Misclassified test digits")
    wrong = misclassified(evaluation, data.y_test, limit=GALLERY)
    if not len(wrong):
        st.success("Every test digit is classified right.")
    predictions = evaluation.predictions
    st.html(gallery_html(
        [data.x_test[index] for index in wrong],
        [f"true {data.y_test[index]}, said {predictions[index]} "
         f"({evaluation.test_probabilities[index, predictions[index]]:.0%})" for index in wrong],
        columns=8, size=96,
    ))

    st.subheader("The lecture's first five test digits")
    st.html(gallery_html(data.x_test[:5], [f"a {label}" for label in data.y_test[:5]], columns=5, size=112))
    st.plotly_chart(figures.probability_table(evaluation.test_probabilities[:5], data.y_test[:5].tolist()),
                    key="evaluate_first_five")


def show_why(model, data, evaluation: Evaluation) -> None:
    """Integrated-gradients saliency of one misclassified test digit, for a class the user picks."""
    wrong = misclassified(evaluation, data.y_test, limit=None)
    if not len(wrong):
        st.success("Every test digit is classified right: there is no mistake to explain.")
        return
    predictions, labels = evaluation.predictions, data.y_test
    index = st.selectbox(
        f"Misclassified test digit ({len(wrong):,}, most confidently wrong first)", wrong.tolist(),
        format_func=lambda i: f"#{i}: a {labels[i]}, read as {predictions[i]} "
                              f"({evaluation.test_probabilities[i, predictions[i]]:.1%})",
        key="evaluate_why_digit",
    )
    true, said = int(labels[index]), int(predictions[index])
    names = {said: f"{said} (the model's answer)", true: f"{true} (the true digit)"}
    target = st.radio("Class to explain", list(range(10)), index=said, horizontal=True,
                      format_func=lambda digit: names.get(digit, str(digit)), key=f"evaluate_why_class_{index}",
                      help="Which class's evidence to show: the answer the model gave, the right one, or any other.")
    digit_column, saliency_column, probability_column = st.columns([1, 1, 2])
    digit_column.html(gallery_html([data.x_test[index]], [f"test digit #{index}: a {true}"], columns=1, size=168))
    saliency_column.html(saliency_html(
        data.x_test[index], saliency(model, data.x_test[index], target=target), size=168, label=str(target),
        caption=f"What makes this a {target}? Red pixels push towards {target}, blue ones against it "
                "(integrated gradients from a black image).",
    ))
    probability_column.html(probabilities_html(evaluation.test_probabilities[index]))


def drawn_digit() -> np.ndarray | None:
    """The digit this session last drew on the Draw page, or None."""
    digit = st.session_state.get(session.DRAWN_DIGIT)
    if digit is None or np.shape(digit) != (28, 28):
        return None
    return np.asarray(digit, np.float32)


def show_map(info, model, data_key, data, evaluation: Evaluation) -> None:
    """Test digits placed by the model's last hidden layer; clicking one shows it."""
    method = st.radio(
        "Projection", EMBED_METHODS, format_func=METHOD_NAMES.get, horizontal=True, key="evaluate_map_method",
        help="PCA shows the two directions in which the digits differ most, at once. t-SNE keeps each digit "
             "near the digits the model finds most alike; it takes a while the first time (a bar shows how far).",
    )
    try:
        embedding = caches.embedding(info, data_key, data, method)
    except ImportError:
        st.error("t-SNE needs scikit-learn, which is not installed here: run `pip install scikit-learn`, "
                 "or choose PCA.")
        return
    except StoreError as error:
        st.error(f"{escape(error)}. Pick another model.")
        return
    except ValueError as error:
        st.warning(f"No map for these digits: {escape(error)}. Use a data set with more test digits.")
        return
    drawing = drawn_digit()
    star = None
    if drawing is not None:
        features = caches.embedding_features(info, data_key, data)  # (N, units)
        star = place_among(features, embedding.points, activations(model, drawing)[-1][1], STAR_NEIGHBOURS)
    labels, predictions = data.y_test[embedding.indices], evaluation.predictions[embedding.indices]
    event = st.plotly_chart(
        figures.embedding_figure(embedding.points, labels, predictions, embedding.indices, star=star),
        on_select="rerun", selection_mode="points", key="evaluate_map",
    )
    mistakes = int(np.sum(labels != predictions))
    st.caption(f"{len(embedding.indices):,} test digits by what the last hidden layer makes of them, coloured by "
               f"the true digit; the {mistakes} crosses are wrong answers. "
               + (f"The star is your drawing from the Draw page, put among the {STAR_NEIGHBOURS} digits closest to "
                  "it in that layer. "
                  if star is not None else "Draw a digit on the Draw page to see where it lands. ")
               + "Click a point to see its digit.")
    index = figures.selected_digit(event.selection)
    if index is not None and np.isin(index, embedding.indices):  # a click kept from other data is not shown
        said = int(evaluation.predictions[index])
        st.html(gallery_html([data.x_test[index]], [f"test digit #{index}: a {data.y_test[index]}, read as {said} "
                                                    f"({evaluation.test_probabilities[index, said]:.1%})"],
                             columns=1, size=140))


def show_weights(model) -> None:
    try:
        weights = first_layer_weights(model)  # (units, 28, 28)
    except ValueError:
        st.info("First-layer weights are shown for MLPs: each hidden unit of an MLP weighs every pixel, so its "
                "weights make a 28×28 picture. This model is a CNN, whose first layer is small 3×3 filters slid "
                "over the digit. See what it looks at in the **Why this answer?** tab, and its feature maps "
                "under the guess on the Draw page.")
        return
    st.caption(f"One picture per hidden unit ({len(weights)}): red pixels push the unit up, blue ones push it down. "
               "Each picture has its own colour scale.")
    st.html(weights_grid_html(weights, columns=WEIGHT_COLUMNS))


def show_class_digits(info, data, evaluation: Evaluation) -> None:
    """How well the model reads the class's own drawings (core.classroom.class_set), beside the test digits."""
    drawings = ClassDigits().load()
    if drawings.skipped:
        st.caption(f"{len(drawings.skipped)} file(s) in {escape(ClassDigits().folder)} are not drawings and are "
                   "left out.")
    if not len(drawings):
        st.info("The class set is empty. On the Draw page, draw a digit, choose which digit you meant under the "
                "guess, and press **Save to the class set**: every drawing saved there is measured here.")
        return
    try:
        ours = caches.evaluation(info, drawings.key, drawings.as_test_data())
    except (StoreError, ValueError) as error:
        st.error(f"{escape(error)}. Pick another model.")
        return
    per_student = drawings.per_student()
    class_column, test_column, count_column = st.columns(3)
    class_column.metric(CLASS_LABEL, f"{ours.test_accuracy:.4f}",
                        help="The share of the class's drawings read as the digit their author meant.")
    test_column.metric(TEST_LABEL, f"{evaluation.test_accuracy:.4f}", help=f"On {escape(data.description)}.")
    count_column.metric("Class drawings", f"{len(drawings):,}",
                        help=f"By {len(per_student)} student(s), saved on the Draw page.")

    right = Counter(student for student, correct in zip(drawings.students, ours.predictions == drawings.labels)
                    if correct)
    st.dataframe({"student": [student or NO_NAME for student in per_student],
                  "drawings": list(per_student.values()),
                  "read right": [right[student] for student in per_student]}, hide_index=True)

    st.subheader("Class drawings it reads wrong")
    wrong = misclassified(ours, drawings.labels, limit=GALLERY)
    if not len(wrong):
        st.success(f"It reads all {count_text(len(drawings))} of the class right.")
        return
    predictions = ours.predictions
    st.html(gallery_html(
        [drawings.images[index] for index in wrong],
        [f"meant {drawings.labels[index]}, read {predictions[index]} "
         f"({ours.test_probabilities[index, predictions[index]]:.0%})"
         + (f", by {drawings.students[index]}" if drawings.students[index] else "") for index in wrong],
        columns=8, size=96,
    ))


def main():
    st.title("Evaluate")
    info = session.model_picker("evaluate_model")
    if info is None:
        st.info("No saved model yet: train one on the Train page, or with one click on the Draw page.")
        return
    data_key, data = session.dataset()
    st.caption(f"{escape(info.name)}: trained on {escape(info.data_description or 'unknown data')}; "
               f"measured on {escape(data.description)}.")
    left, right = st.columns(2)
    train_slot, test_slot = left.empty(), right.empty()
    if trained_on(info, data):  # the figures saved with the model, at once; confirmed below by the test digits
        train_slot.metric(TRAIN_LABEL, f"{info.train_accuracy:.4f}")
        test_slot.metric(TEST_LABEL, f"{info.test_accuracy:.4f}")
    try:
        evaluation = caches.evaluation(info, data_key, data)
        model = caches.load_model(info)
    except (StoreError, ValueError) as error:
        train_slot.empty()
        test_slot.empty()
        st.error(f"{escape(error)}. Pick another model, or train a new one on the Train page.")
        return
    # Fractions with four decimals, as the lecture's last cell prints them (0.9615).
    train_accuracy_metric(train_slot, left, info, data_key, data, evaluation)
    test_slot.metric(TEST_LABEL, f"{evaluation.test_accuracy:.4f}")

    accuracy_tab, why_tab, map_tab, weights_tab, class_tab = st.tabs(TABS, key="evaluate_tab", on_change="rerun")
    with accuracy_tab:
        if accuracy_tab.open:
            show_accuracy(data, evaluation)
    with why_tab:
        if why_tab.open:
            show_why(model, data, evaluation)
    with map_tab:
        if map_tab.open:
            show_map(info, model, data_key, data, evaluation)
    with weights_tab:
        if weights_tab.open:
            show_weights(model)
    with class_tab:
        if class_tab.open:
            show_class_digits(info, data, evaluation)


main()
