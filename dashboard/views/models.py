"""Models: the class's leaderboard and join link; import a model trained elsewhere; every saved model, their loss
curves side by side; rename and delete (a student only their own), download (any), its code; an MLP's first-layer
weights; the teacher's class rules and the class's handwriting as a data set to take home."""

import dataclasses
import functools
import html
from datetime import datetime, timezone
from pathlib import Path

import segno
import streamlit as st

from core import classroom
from core.classroom.class_set import ClassDigits, class_set_idx_zip, class_set_npz, count_text
from core.classroom.identity import teacher_key_set
from core.classroom.importing import MAX_FILE_BYTES, ImportRefused, import_model
from core.drawing.synthetic import LEADERBOARD_DIGITS
from core.evaluation.explain import first_layer_weights
from core.evaluation.metrics import drawn_accuracy
from core.model.config import LIMITS, PRESETS, describe_network, describe_training
from core.model.store import ModelStore, StoreError
from dashboard import action_message, caches, figures, session
from dashboard.code_panel import code_panel
from dashboard.explain_blocks import weights_grid_html
from dashboard.loss_curve import LossCurve, smoothing_for
from dashboard.plain_text import escape

WEIGHT_COLUMNS = 16  # the lecture's 64 hidden units in 4 rows
# How often the leaderboard re-reads the models folder while the page is open: a finished run shows up
# within 10 s, and a re-read that finds no file changed costs one directory listing (caches.saved_models).
LEADERBOARD_REFRESH = "10s"
NO_NAME = "students without a name"
QR_SCALE = 5  # pixels per QR module: a 33-module code is 165 px, readable by a phone across a classroom
IMPORT_ROUND = "models_import_round"  # part of the model uploader's key: each import starts from an empty uploader


def rename(name):
    try:
        new_name = session.rename_model(name, st.session_state[f"models_new_name_{name}"])
    except (StoreError, OSError) as error:
        action_message.report("manage", "error", f"{error}.")
        return
    action_message.report("manage", "success", f"Renamed {name} to {new_name}.")


def delete(name):
    try:
        ModelStore().delete(name, **session.acting())
    except (StoreError, OSError) as error:
        action_message.report("manage", "error", f"{error}.")
        return
    action_message.report("manage", "success", f"Deleted {name}.")


def save_rules():
    try:
        epochs, minutes = st.session_state["models_max_epochs"], st.session_state["models_max_minutes"]
        rules = classroom.ClassRules(tuple(st.session_state["models_allowed_presets"]), epochs or None,
                                     minutes or None)
        classroom.save_rules(rules)
    except (ValueError, OSError) as error:
        action_message.report("teacher", "error", f"The class rules were not saved: {error}.")
        return
    action_message.report("teacher", "success", "Saved the class rules: every student's next run must keep them.")


def _server_minutes() -> str:
    """This server's own longest run (MNIST_MAX_RUN_MINUTES), as the rules' minutes box names it."""
    try:
        minutes = classroom.server_run_minutes()
    except ValueError:
        return "unusable"
    return f"{minutes} min" if minutes else "no limit"


def clear_class():
    try:
        names = classroom.clear_class_models(ModelStore())
    except (StoreError, OSError) as error:
        action_message.report("teacher", "error", f"The class's models were not all deleted: {error}.")
        return
    st.session_state["models_sure_clear"] = False
    action_message.report("teacher", "success", f"Deleted the class's {len(names)} model(s).")


def remove_students_drawings():
    student = st.session_state["models_drawings_student"]
    try:
        count = ClassDigits().delete_student(student)
    except OSError as error:
        action_message.report("teacher", "error", f"The drawings were not all deleted: {error}.")
        return
    action_message.report("teacher", "success", f"Deleted {student or NO_NAME}'s {count_text(count)}.")


def clear_handwriting():
    try:
        count = ClassDigits().clear()
    except OSError as error:
        action_message.report("teacher", "error", f"The class's handwriting was not all deleted: {error}.")
        return
    st.session_state["models_sure_clear_drawings"] = False
    action_message.report("teacher", "success", f"Deleted the class's {count_text(count)}.")


@functools.lru_cache(maxsize=4)
def qr_html(url: str) -> str:
    """The join address as a QR code: a PNG in an <img>, as every picture of the app travels. An inline <svg>
    never reached the browser: st.html's sanitiser removes it, and the expander ended on "...or scan:"."""
    uri = segno.make(url, error="m").png_data_uri(scale=QR_SCALE, light="white")
    return f'<img src="{uri}" alt="QR code of {html.escape(url)}" style="image-rendering:pixelated">'


def join_link():
    """The address students open to join, and its QR code for their phones."""
    url = classroom.join_url(st.get_option("server.port"))
    with st.expander("Join this class", expanded=classroom.teacher_key_set()):
        st.markdown(f"Open **{url}** on a phone or laptop on this network, or scan:")
        st.html(qr_html(url))


@st.cache_resource(max_entries=256, show_spinner="Measuring a model on drawn digits...")
def _drawn_accuracy(path: str, mtime_ns: int, data_key: str, _data) -> float | None:
    return drawn_accuracy(ModelStore(Path(path).parent).load(Path(path).stem), _data)


def measured_drawn_accuracy(info, data_key: str, data) -> float | None:
    """The drawn-digit accuracy of a model saved without it (before the field existed), measured on
    ``data`` once per file version; None when its file cannot be read."""
    try:
        return _drawn_accuracy(str(info.path), info.path.stat().st_mtime_ns, data_key, data)
    except (StoreError, OSError):
        return None


def with_drawn_accuracy(models: list) -> list:
    """``models``, every student's with its drawn-digit accuracy: the training worker saves it with the
    model; older files are measured here on the server's digits."""
    data_key, data, _ = caches.default_data()
    return [dataclasses.replace(info, drawn_accuracy=measured_drawn_accuracy(info, data_key, data))
            if info.owner and info.drawn_accuracy is None else info for info in models]


def ranking(title: str, rows: list[classroom.LeaderboardRow]) -> None:
    st.markdown(f"**{title}**")
    st.table([{"place": place, "student": escape(row.owner), "best model": escape(row.model),
                   "accuracy": f"{row.accuracy:.1%}", "models": row.models}
                  for place, row in enumerate(rows, 1)], hide_index=True)


@st.fragment(run_every=LEADERBOARD_REFRESH)
def leaderboard():
    """Each student's best model on the test digits and on drawn digits, re-read while the page is open."""
    models = with_drawn_accuracy(caches.saved_models().models)
    by_test = classroom.leaderboard(models, "test")
    st.subheader("Leaderboard")
    if not by_test:
        st.caption("No student has saved a model yet: enter your name in the sidebar, then train one.")
        return
    with st.container(key="models_leaderboard"):
        # One under the other: side by side, a 1024-px screen clipped the "models" column of both.
        ranking("Test digits", by_test)
        ranking("Drawn digits", classroom.leaderboard(models, "drawn"))
        st.caption(f"*Drawn digits*: {LEADERBOARD_DIGITS} test digits redrawn as people draw on the Draw page's "
                   "pad (any size, place, pen width and colours), then read the way the Draw page reads yours.")


def import_panel() -> None:
    """A .keras file trained elsewhere becomes this session's model (core.classroom.importing), measured on the
    session's digits; the outcome, one line, shows under the uploader."""
    st.subheader("Import a model")
    st.caption("Trained a network at home or in a notebook? Upload its `.keras` file (Keras 3). It must take one "
               "digit as 28×28, 28×28×1 or 784 values and give 10 (logits or softmax probabilities); pixels go "
               "in as 0-1 floats, unless it starts with `Rescaling(1/255)` or its metadata.json says "
               '`"pixels": "0-255"`. It becomes your model: measured on the test digits, on the leaderboard, '
               "and on every page.")
    key = f"models_import_{st.session_state.get(IMPORT_ROUND, 0)}"
    upload = st.file_uploader("Upload a Keras model (.keras)", type=["keras"], key=key,
                              max_upload_size=MAX_FILE_BYTES // 2**20)  # refused while it streams in
    action_message.show("import")  # what the last upload gave, right under the uploader
    if upload is None:
        return
    st.session_state[IMPORT_ROUND] = st.session_state.get(IMPORT_ROUND, 0) + 1
    _, data = session.dataset()
    with st.spinner(f"Checking {escape(upload.name)} and measuring it on the test digits..."):
        try:
            info, found = import_model(upload.getvalue(), data, ModelStore(), owner=session.owner(),
                                       file_name=upload.name)
        except (ImportRefused, StoreError, OSError) as error:
            action_message.report("import", "error", f"{error}. Nothing was saved.")
        except Exception as error:  # noqa: BLE001 - whatever else, the page goes on
            action_message.report("import", "error", f"{upload.name} could not be imported "
                                                      f"({type(error).__name__}). Nothing was saved.")
        else:
            session.set_active_model(info.name)
            action_message.report("import", "success", found)
    st.rerun()


def class_set_downloads() -> None:
    """The class's handwriting (Draw page) as MNIST files to take home: the lecture's npz, or the four IDX files and
    a README in a zip. Both are written when a button is pressed."""
    drawings = ClassDigits().count()
    if not drawings:
        return
    st.markdown("**The class's handwriting as a data set**")
    if drawings < 2:
        st.caption(f"The class set holds {count_text(drawings)}: save at least 2 on the Draw page to download it.")
        return
    st.caption(f"{count_text(drawings)} as MNIST files: every fifth drawing of each digit is a test digit. The "
               ".npz opens with `np.load` as the lecture's file does, and on the Digits page.")
    npz_column, idx_column = st.columns(2)
    npz_column.download_button("Download as .npz", data=lambda: class_set_npz(ClassDigits().load()),
                               file_name="class-digits.npz", mime="application/octet-stream", on_click="ignore",
                               key="models_class_npz", icon=":material/download:")
    idx_column.download_button(
        "Download as IDX files (.zip)", file_name="class-digits-idx.zip", mime="application/zip", on_click="ignore",
        data=lambda: class_set_idx_zip(ClassDigits().load(), datetime.now(timezone.utc)), key="models_class_idx",
        icon=":material/download:")


def teacher_controls(models):
    """The teacher's rules for every student's run, and clearing the class's models."""
    st.subheader("Teacher")
    try:
        rules = classroom.load_rules()
    except ValueError as error:
        st.warning(f"{escape(error)}.")
        rules = classroom.ClassRules()
    st.multiselect("Presets students may train (none: any network)", list(PRESETS),
                   default=list(rules.allowed_presets), key="models_allowed_presets")
    most = LIMITS["epochs"].high  # a rule above every run's own limit limits nothing more: shown as that limit
    st.number_input("Most epochs per run (0: no limit)", min_value=0, max_value=most,
                    value=min(rules.max_epochs or 0, most), key="models_max_epochs")
    st.number_input(f"Longest run, in minutes as estimated before Start (0: this server's "
                    f"{classroom.MAX_RUN_MINUTES_VARIABLE}, {_server_minutes()})", min_value=0, max_value=24 * 60,
                    value=min(rules.max_minutes or 0, 24 * 60), key="models_max_minutes")
    st.button("Save class rules", on_click=save_rules)
    owned = sum(1 for info in models if info.owner)
    sure = st.checkbox(f"Yes, delete the {owned} model(s) students saved", key="models_sure_clear")
    st.button("Clear the class's models", on_click=clear_class, disabled=not (sure and owned))
    drawings = ClassDigits().count()
    sure = st.checkbox(f"Yes, delete the class's {count_text(drawings)} (Draw page)", key="models_sure_clear_drawings")
    st.button("Clear the class's handwriting", on_click=clear_handwriting, disabled=not (sure and drawings))
    if drawings:
        per_student = ClassDigits().load().per_student()
        student, button = st.columns([3, 1], vertical_alignment="bottom")
        student.selectbox("One student's drawings", list(per_student), key="models_drawings_student",
                          format_func=lambda name: f"{name or NO_NAME} ({count_text(per_student[name])})")
        button.button("Remove these drawings", on_click=remove_students_drawings)
    action_message.show("teacher")


def main():
    st.title("Models")
    listing = caches.saved_models()
    for file, why in listing.problems:
        st.warning(escape(f"{file} is skipped: {why}"))
    leaderboard()
    join_link()
    if session.teacher_unlocked():
        teacher_controls(listing.models)
    if not session.present_view():  # the projector shows no controls
        if session.teacher_unlocked() or not teacher_key_set():  # the teacher's, or anyone's with no class set up
            class_set_downloads()
        import_panel()
    if not listing.models:
        action_message.show("manage")  # "Deleted ..." of the last model
        st.info("No saved model yet: train one on the Train page, or import one above.")
        return
    st.subheader("All models")
    st.dataframe([{
        "name": info.name, "owner": info.owner, "origin": info.origin,
        "architecture": describe_network(info.config) if info.config is not None else info.network,
        "hyperparameters": f"{info.config.activation}, {describe_training(info.config)}"
                           + (" (stopped early)" if info.stopped else "") if info.config is not None else "",
        "test accuracy": info.test_accuracy, "drawn accuracy": info.drawn_accuracy,
        "train accuracy": info.train_accuracy,
        "training time (s)": info.training_seconds if info.config is not None else None,
        "parameters": info.parameters,
        "date": info.created.replace("T", " ").replace("+00:00", " UTC"), "data": info.data_description,
    } for info in listing.models], hide_index=True, column_config={
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "drawn accuracy": st.column_config.NumberColumn(format="percent"),
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
    if info.owner:
        owner = escape(info.owner)
        st.caption(f"{escape(name)} belongs to {owner}: only {owner} or the teacher can rename or delete it.")
    rename_column, delete_column, download_column = st.columns(3, vertical_alignment="bottom")
    rename_column.text_input("New name", value=name, key=f"models_new_name_{name}")
    rename_column.button("Rename", on_click=rename, args=(name,))
    sure = delete_column.checkbox(f"Yes, delete {escape(name)}", key=f"models_sure_{name}")
    delete_column.button("Delete", on_click=delete, args=(name,), disabled=not sure)
    download_column.download_button("Download .keras", data=info.path.read_bytes, file_name=f"{name}.keras",
                                    mime="application/octet-stream", on_click="ignore")
    action_message.show("manage")
    with st.expander(f"First-layer weights of {escape(name)}", key="models_weights", on_change="rerun") as weights:
        if weights.open:  # loading a model starts TensorFlow: only when asked
            show_weights(info)
    with st.expander("Code", key="models_code", on_change="rerun") as code:
        if code.open:
            show_code(info)


def show_code(info) -> None:
    """The run of a trained model as one standalone Keras script; an uploaded model's code is not here."""
    if info.config is None:
        st.info(f"{escape(info.name)} was uploaded, not trained here: its code is wherever it was trained. Every "
                "model trained here has its code, and so has the Train page's setup.")
        return
    code_panel(info.config, info.name, key="models_code_download")


def show_weights(info) -> None:
    """What each hidden unit of an MLP looks for, one 28x28 picture per unit; for a CNN, where to look instead."""
    try:
        model = caches.load_model(info)
    except StoreError as error:
        st.error(f"{escape(error)}. Pick another model.")
        return
    try:
        weights = first_layer_weights(model)  # (units, 28, 28)
    except ValueError:
        st.info(f"First-layer weights are shown for MLPs, whose hidden units each weigh every pixel. "
                f"{escape(info.name)} is a CNN: its first layer is small 3×3 filters slid over the digit. The "
                "Evaluate page shows which pixels drive its answers (Why this answer?), and the Draw page its "
                "feature maps.")
        return
    st.caption(f"One picture per hidden unit ({len(weights)}): red pixels push the unit up, blue ones push it down.")
    st.html(weights_grid_html(weights, columns=WEIGHT_COLUMNS))


main()
