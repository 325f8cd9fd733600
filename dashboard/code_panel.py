"""A run's code on a page (core.training.export_code): the standalone Keras script, shown and downloadable."""

from __future__ import annotations

import streamlit as st

from core.model.config import TrainConfig
from core.training.export_code import script_file_name, training_script


def code_panel(config: TrainConfig, name: str, key: str) -> None:
    """The script that trains ``config`` again (``name``: the saved model's, or the run's default), with a
    download button above it and how to run it."""
    script = training_script(config, name)
    file_name = script_file_name(name)
    download, how = st.columns([1, 3], vertical_alignment="center")
    download.download_button("Download the code", data=script, file_name=file_name, mime="text/x-python",
                             key=key, icon=":material/download:", on_click="ignore")
    how.caption(f"One standalone Keras 3 file, nothing of this app: `python {file_name} --data mnist_data.npz` "
                "trains the same network the same way and prints `test_accuracy=...` at the end.")
    st.code(script, language="python")
