"""Digits: browse the digits as the lecture does, look inside one, count them, or switch data sets."""

import numpy as np
import streamlit as st

from core.data.mnist import one_hot
from dashboard import action_message, caches, session
from dashboard.html_blocks import bar_chart_html, code_html, gallery_html, pixel_table_html
from dashboard.plain_text import escape

UPLOAD_ROUND = "digits_upload_round"  # part of the uploader's key: each upload starts from an empty uploader


def shuffle(seed):
    st.session_state["digits_seed"] = seed
    st.session_state["digits_page"] = 1


def uploaded(key):
    files = st.session_state[key]
    if files:
        error = session.use_upload(files)
        if error:
            action_message.report("upload", "error", f"{error} The digits in use have not changed.")
        else:
            action_message.clear("upload")
        st.session_state[UPLOAD_ROUND] = st.session_state.get(UPLOAD_ROUND, 0) + 1


def back_to_default():
    session.forget_upload()
    action_message.clear("upload")


def main() -> None:
    """The Digits page."""
    st.title("Digits")
    key, data = session.dataset()
    left, middle, right, last = st.columns(4)
    split = left.radio("Set", ["train", "test"], horizontal=True, key="digits_split")
    side = middle.slider("Grid size", 1, 10, 5, key="digits_side")
    wanted = right.selectbox("Label", ["all", *range(10)], key="digits_label",
                             format_func=lambda label: "all digits" if label == "all" else f"only {label}s")
    images, labels = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    pool = np.arange(len(labels)) if wanted == "all" else np.flatnonzero(labels == wanted)
    seed = st.session_state.get("digits_seed")
    if seed is not None:
        pool = np.random.default_rng(seed).permutation(pool)
    pages = max(1, -(-len(pool) // side**2))
    st.session_state["digits_page"] = min(st.session_state.get("digits_page", 1), pages)
    page = last.number_input(f"Page (of {pages:,})", 1, pages, key="digits_page")
    buttons = st.columns([1, 1, 6])
    buttons[0].button("Shuffle", on_click=shuffle, args=(int(np.random.default_rng().integers(2**31)),))
    buttons[1].button("In order", on_click=shuffle, args=(None,), disabled=seed is None)

    shown = [int(index) for index in pool[(page - 1) * side**2: page * side**2]]
    if not shown:
        st.info(f"No {wanted}s in the {split} set.")
    st.html(gallery_html([images[index] for index in shown], [str(labels[index]) for index in shown],
                         columns=side, size=max(56, 420 // side)))
    if len(shown) == side**2:
        lecture_call = f"print(y_{split}[:{side * side}].reshape([{side},{side}]))"
        st.caption(f"The labels, as the lecture prints them with {lecture_call}:")
        st.html(code_html(np.array2string(labels[shown].reshape(side, side))))

    st.subheader("One digit, pixel by pixel")
    if shown:
        index = st.selectbox("Digit to inspect", shown, key="digits_pick",
                             format_func=lambda i: f"#{i} in the {split} set: a {labels[i]}")
        heatmap, label_column = st.columns([2, 1])
        heatmap.html(pixel_table_html(images[index]))
        label_column.metric("Label", int(labels[index]))
        label_column.caption("One-hot, as the network is taught it:")
        label_column.html(code_html(str(one_hot(labels[index: index + 1])[0])))

    st.subheader("How many of each digit")
    counts = np.bincount(labels, minlength=10)
    st.html(bar_chart_html(counts.tolist(), [str(digit) for digit in range(10)]))
    st.caption("The average digit of each class:")
    means = caches.class_means(key, split, images, labels)
    st.html(gallery_html(means / 255.0, [str(digit) for digit in range(10)], columns=10, size=64))

    st.subheader("Use another data set")
    st.caption(f"Now: {escape(data.description)}.")
    if st.session_state.pop(session.UPLOAD_LET_GO, False):
        st.info("Your upload was let go while this page was closed, to free the server's memory; upload it again "
                "to use it.")
    upload_key = f"digits_upload_{st.session_state.get(UPLOAD_ROUND, 0)}"
    st.file_uploader("Upload an MNIST .npz file, or the four IDX files (.gz is fine) together",
                     accept_multiple_files=True, key=upload_key, on_change=uploaded, args=(upload_key,))
    action_message.show("upload", keep=True)
    if session.has_upload():
        st.button("Back to the default digits", on_click=back_to_default)


main()
