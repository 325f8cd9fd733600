"""Evaluate: how a saved model does on every digit, and where it goes wrong."""

import streamlit as st

from core.evaluate import misclassified
from core.store import StoreError
from dashboard import caches, figures, session
from dashboard.html_blocks import gallery_html

GALLERY = 24  # misclassified digits shown, most confidently wrong first


def main():
    st.title("Evaluate")
    info = session.model_picker("evaluate_model")
    if info is None:
        st.info("No saved model yet: train one on the Train page, or with one click on the Draw page.")
        return
    data_key, data = session.dataset()
    try:
        evaluation = caches.evaluation(info, data_key, data)
    except (StoreError, ValueError) as error:
        st.error(f"{error}. Pick another model, or train a new one on the Train page.")
        return
    st.caption(f"{info.name}: trained on {info.data_description or 'unknown data'}; measured on {data.description}.")
    left, right = st.columns(2)
    # Fractions with four decimals, as the lecture's last cell prints them (0.9615).
    left.metric("Accuracy on training data", f"{evaluation.train_accuracy:.4f}")
    right.metric("Accuracy on test data", f"{evaluation.test_accuracy:.4f}")

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


main()
