"""The sidebar every page shares: where the digits came from, the active model, this session's run."""

from __future__ import annotations

import streamlit as st

from dashboard import caches, session

FULL_SET_HINT = ("For the full 70,000 digits: set MNIST_PATH to an MNIST .npz, put mnist.npz in "
                 "~/.keras/datasets/, or upload it on the Digits page.")


def sidebar() -> None:
    session.collect_finished_run()
    _, data = session.dataset()
    _, _, problem = caches.default_data()
    with st.sidebar:
        if data.is_sample:
            st.warning(f"**Data:** {data.description}. {FULL_SET_HINT}")
        else:
            full = len(data.x_train) == 60_000 and len(data.x_test) == 10_000
            uploaded = " (uploaded)" if session.has_upload() else ""
            st.markdown(f"**Data:** {'full MNIST, ' if full else ''}{data.description}{uploaded}")
        if problem and not session.has_upload():
            st.error(problem)
        model = session.active_model()
        if model is None:
            st.markdown("**Active model:** none saved yet; train one on the Train page.")
        else:
            st.markdown(f"**Active model:** {model.name} ({model.test_accuracy:.2%} on test digits)")
        if session.training_running():
            fraction = session.progress().fraction
            st.progress(fraction, text=f"Training: {fraction:.0%} done; watch it on the Train page")
