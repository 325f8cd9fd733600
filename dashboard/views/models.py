"""Models: every saved model, their loss curves side by side; rename, delete, download."""

import streamlit as st

from core.charts import LossCurve, smoothing_for
from core.models import describe_network, describe_training
from core.store import ModelStore, StoreError
from dashboard import caches, figures, session

MESSAGE = "models_message"  # (kind, text) left by the last rename or delete


def rename(name):
    try:
        new_name = ModelStore().rename(name, st.session_state[f"models_new_name_{name}"]).name
    except (StoreError, OSError) as error:
        st.session_state[MESSAGE] = ("error", f"{error}.")
        return
    if st.session_state.get(session.ACTIVE_MODEL) == name:
        session.set_active_model(new_name)
    st.session_state[MESSAGE] = ("success", f"Renamed {name} to {new_name}.")


def delete(name):
    try:
        ModelStore().delete(name)
    except (StoreError, OSError) as error:
        st.session_state[MESSAGE] = ("error", f"{error}.")
        return
    st.session_state[MESSAGE] = ("success", f"Deleted {name}.")


def main():
    st.title("Models")
    listing = caches.saved_models()
    for file, why in listing.problems:
        st.warning(f"{file} is skipped: {why}")
    kind, text = st.session_state.pop(MESSAGE, (None, None))
    if kind:
        getattr(st, kind)(text)
    if not listing.models:
        st.info("No saved model yet: train one on the Train page.")
        return
    st.dataframe([{
        "name": info.name, "architecture": describe_network(info.config),
        "hyperparameters": f"{info.config.activation}, {describe_training(info.config)}"
                           + (" (stopped early)" if info.stopped else ""),
        "test accuracy": info.test_accuracy, "train accuracy": info.train_accuracy,
        "training time (s)": info.training_seconds, "parameters": info.parameters,
        "date": info.created.replace("T", " ").replace("+00:00", " UTC"), "data": info.data_description,
    } for info in listing.models], hide_index=True, column_config={
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "train accuracy": st.column_config.NumberColumn(format="percent"),
        "training time (s)": st.column_config.NumberColumn(format="%.1f"),
    })

    names = [info.name for info in listing.models]
    chosen = st.multiselect("Loss curves to compare", names, default=names[:3], key="models_compare")
    curves = {info.name: LossCurve(smoothing_for(len(info.batch_losses))).update(info.batch_losses)
              for info in listing.models if info.name in chosen}
    if curves:
        st.plotly_chart(figures.loss_overlay(curves), key="models_losses")

    st.subheader("Manage")
    name = st.selectbox("Model", names, key="models_manage")
    info = next(info for info in listing.models if info.name == name)
    rename_column, delete_column, download_column = st.columns(3, vertical_alignment="bottom")
    rename_column.text_input("New name", value=name, key=f"models_new_name_{name}")
    rename_column.button("Rename", on_click=rename, args=(name,))
    sure = delete_column.checkbox(f"Yes, delete {name}", key=f"models_sure_{name}")
    delete_column.button("Delete", on_click=delete, args=(name,), disabled=not sure)
    download_column.download_button("Download .keras", data=info.path.read_bytes, file_name=f"{name}.keras",
                                    mime="application/octet-stream", on_click="ignore")


main()
