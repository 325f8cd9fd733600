"""What belongs to one browser session: its data set, its active model and its training run.

Everything here lives in ``st.session_state``, so two browsers never see each
other's uploads, choices or runs. Shared, server-wide things are in caches.py.
"""

from __future__ import annotations

import uuid

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.classroom.class_set import ClassDigits
from core.classroom.identity import check_student_name, teacher_key_set
from core.classroom.rules import check_duration, check_run
from core.data.mnist import DataError, MnistData
from core.data.uploads import server_pool
from core.model.config import TrainConfig, default_model_name
from core.model.store import ModelInfo, ModelStore
from core.training.progress import Progress
from core.training.scheduler import ScheduledJob
from dashboard import caches
from dashboard.loss_curve import LossCurve, smoothing_for
from dashboard.plain_text import escape

# st.session_state keys, one browser session each.
UPLOADED = "uploaded_data"  # the key of this session's upload in core.data.uploads.server_pool()
SESSION_TAG = "session_tag"  # see session_tag()
UPLOAD_LET_GO = "upload_let_go"  # True when the server let this session's upload go while it was away
ACTIVE_MODEL = "active_model"  # name of the model Evaluate and Draw use
JOB = "training_job"  # the ScheduledJob, kept while the user visits other pages
CURVE = "training_curve"  # the LossCurve of the job's live chart, None until the run knows its length
LECTURE_CURVE = "training_lecture_curve"  # the same for the lecture's loss of the same batches (Lecture, step 13)
SAVED = "saved_model"  # name the finished run was saved under ("" if saving failed)
SAVE_ERROR = "save_error"
NAME = "student_name"  # the student's name, their saved models' owner ("" for none); also ?name= in the URL
NAME_PARAMETER = "name"
TEACHER = "teacher_unlocked"  # True once this session typed MNIST_TEACHER_KEY (core.classroom)
PRESENT = "present_view"  # True once the session was opened with ?present=1 (other pages rewrite the URL)
PRESENT_PARAMETER = "present"
DRAWN_DIGIT = "draw_digit"  # the (28, 28) float 0-1 digit the Draw page read last; Evaluate's map shows it as a star
URL_PARAMETERS = (NAME_PARAMETER, PRESENT_PARAMETER)  # the session's own, kept when a page rewrites the URL


def dataset() -> tuple[str, MnistData]:
    """(key, data): this session's upload, else the server's digits; the key names the data for caches."""
    data = _upload()
    if data is not None:
        return st.session_state[UPLOADED], data
    key, data, _ = caches.default_data()
    return key, data


def _upload() -> MnistData | None:
    """This session's upload; None without one, and once the server let it go while the session was away."""
    key = st.session_state.get(UPLOADED)
    if key is None:
        return None
    data = server_pool().data(key)
    if data is None:
        st.session_state.pop(UPLOADED)
        st.session_state[UPLOAD_LET_GO] = True
    return data


def has_upload() -> bool:
    return _upload() is not None


def session_tag() -> str:
    """A random name for this browser session, kept while it lasts: what the server holds its upload for and
    counts its unnamed drawings by (Streamlit's own session id is the same in every AppTest session)."""
    if SESSION_TAG not in st.session_state:
        st.session_state[SESSION_TAG] = uuid.uuid4().hex
    return st.session_state[SESSION_TAG]


def _holder() -> str:
    """Who holds this session's upload in the server's pool: Streamlit's session id, then session_tag."""
    return f"{get_script_run_ctx().session_id} {session_tag()}"


def _holder_alive(holder: str) -> bool:
    """Whether the browser session of a _holder is still connected (always where no Streamlit server runs)."""
    return not Runtime.exists() or Runtime.instance().is_active_session(holder.rsplit(" ", 1)[0])


def use_upload(files) -> str:
    """Switch this session to uploaded files (Streamlit UploadedFile objects); returns a message if unusable.

    The upload is held in the server's pool (core.data.uploads.UploadPool): once per distinct upload, within the
    session's and the server's memory budgets, and let go a while after the last session holding it has gone.
    core.data.uploads answers any bad name, content or size with a DataError; anything else it could still raise
    (the server out of memory for a set within its limits) becomes a message too, never an error box.
    """
    pool = server_pool()
    try:
        key = pool.hold(_holder(), [(file.name, file.getvalue()) for file in files])
    except DataError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - the page must go on with the digits it had
        return (f"The upload could not be read ({type(error).__name__}). "
                "Upload one MNIST .npz file, or the four IDX files together.")
    pool.start_reaper(_holder_alive)
    st.session_state[UPLOADED] = key
    st.session_state.pop(UPLOAD_LET_GO, None)
    return ""


def forget_upload() -> None:
    server_pool().release(_holder())
    st.session_state.pop(UPLOADED, None)


def active_model(own: bool = False) -> ModelInfo | None:
    """The model this session works with: its last choice if still saved, else the newest of its own (see
    ``own_models``), else the newest of all (Evaluate and Draw name whose it is). own=True: only one of its own,
    never another student's, as the Lecture (and so the projector) shows, even after a student picked a
    classmate's model on the Evaluate page; None when it has none."""
    mine, models = own_models(), caches.saved_models().models
    chosen = next((info for info in (mine if own else models) if info.name == st.session_state.get(ACTIVE_MODEL)),
                  None)
    chosen = chosen or (mine[0] if mine else None if own else (models[0] if models else None))
    if not own:
        st.session_state[ACTIVE_MODEL] = chosen.name if chosen else None
    return chosen


def own_models() -> list[ModelInfo]:
    """The saved models this session may use without choosing them, newest first: its own (a student's name, or
    no owner for the teacher and a session without a name, the projector), then the teacher's (no owner)."""
    me = "" if teacher_unlocked() else student_name()
    models = caches.saved_models().models
    return [info for info in models if info.owner == me] + [info for info in models if info.owner == "" != me]


def owner_text(info: ModelInfo) -> str:
    """Whose model it is, for a page that names it: 'by Ada', 'the teacher's', or 'no owner' without a class."""
    if info.owner:
        return f"by {escape(info.owner)}"
    return "the teacher's" if teacher_key_set() else "no owner"


def set_active_model(name: str) -> None:
    st.session_state[ACTIVE_MODEL] = name


def rename_model(name: str, new_name: str) -> str:
    """Rename a saved model as this session may (``acting``); returns the new name.

    The session's active model and its last run's saved name follow the model. Raises StoreError (a bad
    or taken name, someone else's model) or OSError (the folder refused), for the page to show.
    """
    new_name = ModelStore().rename(name, new_name, **acting()).name
    if st.session_state.get(ACTIVE_MODEL) == name:
        set_active_model(new_name)
    if st.session_state.get(SAVED) == name:
        st.session_state[SAVED] = new_name
    return new_name


def model_picker(key: str) -> ModelInfo | None:
    """A select box of saved models that changes the session's active model, and whose it is; None if none is
    saved."""
    current = active_model()
    if current is None:
        return None
    names = [info.name for info in caches.saved_models().models]
    st.selectbox("Model", names, index=names.index(current.name), key=key,
                 on_change=lambda: set_active_model(st.session_state[key]))
    owner = escape(current.owner) if current.owner else "the teacher" if teacher_key_set() else "none"
    st.caption(f"Owner: {owner}")
    return current


def job() -> ScheduledJob | None:
    return st.session_state.get(JOB)


def progress() -> Progress | None:
    """A snapshot of this session's run, or None if it has not started one."""
    current = job()
    return current.snapshot() if current is not None else None


def training_running() -> bool:
    snapshot = progress()
    return snapshot is not None and not snapshot.done


def check_rules(config: TrainConfig) -> None:
    """Raise ValueError naming the class rule ``config`` breaks (core.classroom.check_run); the teacher's runs keep
    none. Checked before the estimate: a network the rules refuse is never built or timed."""
    if not teacher_unlocked():
        check_run(config)


def start_training(config: TrainConfig, add_class_digits: bool = False) -> None:
    """Queue this session's run on the server's training scheduler (core/training/scheduler.py): a worker process,
    or the Ray cluster at RAY_ADDRESS, trains and saves it; the page polls it.

    add_class_digits : whether the class's drawings (core.classroom.class_set) join the training digits.
    Raises ValueError when ``config`` breaks the teacher's class rules (core.classroom.check_run), is estimated
    to take longer than a run may (core.classroom.check_duration; the message shows the estimate), is too large to
    time here, when this student has a run queued or training already (in another tab: one at a time), or the
    server's MNIST_MAX_TRAINING setting is unusable; the message says which and what to do.
    The teacher's own runs belong to nobody and keep no limit: clearing the class's models keeps them, and they
    stay off the leaderboard.
    """
    check_rules(config)
    upload = _upload()  # None: the worker loads the server's digits
    if not teacher_unlocked():
        try:
            # Never waits for the network's timing (wait=0: the timed figure if there is one, else the first
            # guess from its size): a Start that waited a second for it was lost when the teacher pressed Next
            # meanwhile, since Streamlit ends a callback's run at the next click (issue 19, steps 13 -> 14).
            estimate = caches.training_estimate(config, upload or caches.default_data()[1], wait=0)
        except RuntimeError:  # the timing process cannot answer: the run is not held up by it
            estimate = None
        if estimate is not None:
            check_duration(estimate.seconds, estimate.text())
    student = None if teacher_unlocked() else f"name {student_name()}" if student_name() else f"session {session_tag()}"
    st.session_state[JOB] = ScheduledJob(config, upload, store=ModelStore(), save_name=default_model_name(config),
                                         owner=owner(),
                                         class_digits=ClassDigits().folder if add_class_digits else None,
                                         student=student).start()
    st.session_state[CURVE] = st.session_state[LECTURE_CURVE] = None
    st.session_state.pop(SAVED, None)
    st.session_state.pop(SAVE_ERROR, None)


def loss_curve(snapshot: Progress, lecture: bool = False) -> LossCurve:
    """The live chart's curve for this session's job, brought up to date with ``snapshot``: its batch losses, or
    with ``lecture`` the same batches' loss as the lecture wrote it (Progress.lecture_losses)."""
    if snapshot.total_steps == 0:  # still starting: nothing to draw yet
        return LossCurve()
    key = LECTURE_CURVE if lecture else CURVE
    if st.session_state.get(key) is None:
        st.session_state[key] = LossCurve(smoothing_for(snapshot.total_steps))
    return st.session_state[key].update(snapshot.lecture_losses if lecture else snapshot.batch_losses)


def collect_finished_run() -> None:
    """Note, once, the name this session's finished run was saved under and make it the active model."""
    snapshot = progress()
    if snapshot is None or SAVED in st.session_state:
        return
    if not snapshot.done or snapshot.failed or snapshot.step == 0:  # failed, or stopped in the queue
        return
    st.session_state[SAVED] = snapshot.saved_as
    if snapshot.saved_as:
        set_active_model(snapshot.saved_as)
    else:
        st.session_state[SAVE_ERROR] = snapshot.message


def student_name() -> str:
    """This session's name: the one entered, else a usable ?name= from the address bar (kept from then on)."""
    if NAME not in st.session_state:
        try:
            st.session_state[NAME] = check_student_name(st.query_params.get(NAME_PARAMETER, ""))
        except ValueError:
            st.session_state[NAME] = ""
    return st.session_state[NAME]


def set_student_name(text: str) -> None:
    """Keep a name for this session and put it in the address bar; raises ValueError for an unusable name."""
    name = check_student_name(text)
    st.session_state[NAME] = name
    if name:
        st.query_params[NAME_PARAMETER] = name
    else:
        st.query_params.pop(NAME_PARAMETER, None)


def owner() -> str:
    """Whom a model this session saves (trains or imports) belongs to: the student's name; nobody ("") for the
    teacher's, which stay when the class's models are cleared and off the leaderboard."""
    return "" if teacher_unlocked() else student_name()


def acting() -> dict:
    """Who asks the store to rename or delete a model (ModelStore's ``by`` and ``unowned_shared``): the
    teacher may change any; a student their own, and models with no owner only while there is no class."""
    return {"by": None if teacher_unlocked() else student_name(), "unowned_shared": not teacher_key_set()}


def teacher_unlocked() -> bool:
    """Whether this session is the teacher's: it typed the passphrase, and the server still has one."""
    return bool(st.session_state.get(TEACHER)) and teacher_key_set()


def set_teacher_unlocked(unlocked: bool) -> None:
    st.session_state[TEACHER] = unlocked


def present_view() -> bool:
    """Whether this session shows the projector view: opened with ?present=1, kept while the session lasts."""
    if st.query_params.get(PRESENT_PARAMETER) == "1":
        st.session_state[PRESENT] = True
    return bool(st.session_state.get(PRESENT))
