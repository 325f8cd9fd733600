"""The Train page's form: a preset fills it, the user edits it, and it round-trips through the URL.

Every field is a widget whose key is ``train_<TrainConfig field>``, kept for the
whole session (persist_state) so a visit to another page does not reset it. One more
checkbox adds the class's handwriting (core.classroom.class_set) to the training digits; it is
about the data, not the network, so it stays out of the shared link.
"""

from __future__ import annotations

import streamlit as st

from core.classroom.class_set import ClassDigits, count_text
from core.model.config import (
    ACTIVATIONS,
    LIMITS,
    MAX_UNITS_TEXT,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    format_units,
    parse_units,
    preset,
    random_seed,
)
from core.model.share_links import SEED_PARAMETER, from_query, to_query
from dashboard import session
from dashboard.plain_text import escape

PRESET_LABELS = {"lecture": "Lecture", "wide-mlp": "Wide MLP", "cnn": "CNN", "quick-cnn": "Quick CNN"}
PRESET_KEY = "train_preset"
LINK_WRITTEN = "train_link"  # the query string this session last put in the URL
LINK_WARNINGS = "train_link_warnings"
CLASS_DIGITS = "train_class_digits"  # the checkbox that adds the class's drawings to the training digits
CLASS_DIGITS_LABEL = "Add the class's handwriting"
KEEP = dict(persist_state="session")
PARSED = "train_parsed"  # (the form's raw values, the TrainConfig parsed from them): see config()


def _key(field: str) -> str:
    return f"train_{field}"


def _range(field: str) -> dict:
    """The min and max of a field's number input or slider: its limits (core.model.config.LIMITS), which TrainConfig
    and a shared link keep too, so every value the form is given fits its widget."""
    low, high = LIMITS[field]
    return dict(min_value=low, max_value=high)


def fill(preset_name: str, config: TrainConfig) -> None:
    """Put a preset name and a config into the form's widgets (before they are drawn)."""
    st.session_state[PRESET_KEY] = preset_name
    for field, value in config.to_dict().items():
        st.session_state[_key(field)] = format_units(value) if isinstance(value, list) else value


def _preset_chosen() -> None:
    fill(st.session_state[PRESET_KEY], preset(st.session_state[PRESET_KEY]).replace(seed=random_seed()))
    st.session_state.pop(LINK_WARNINGS, None)


def load_link() -> None:
    """Fill the form from the URL when it holds a setup this session did not write (a shared link).

    A setup without a seed gets one drawn at random (core.model.config.random_seed): every student's run then
    differs, and the seed goes into the link (save_link), so the link repeats the run exactly."""
    params = _setup_params()
    if params and params != st.session_state.get(LINK_WRITTEN):
        name, config, warnings = from_query(params)
        fill(name, config if SEED_PARAMETER in params else config.replace(seed=random_seed()))
        st.session_state[LINK_WARNINGS] = warnings
        st.session_state[LINK_WRITTEN] = params
    elif PRESET_KEY not in st.session_state:
        fill("lecture", preset("lecture").replace(seed=random_seed()))


def save_link(config: TrainConfig) -> None:
    """Write the setup into the URL, so the address bar is a link that opens it."""
    query = to_query(st.session_state[PRESET_KEY], config)
    if _setup_params() != query:
        kept = {key: value for key, value in st.query_params.to_dict().items() if key in session.URL_PARAMETERS}
        st.query_params.from_dict({**kept, **query})
    st.session_state[LINK_WRITTEN] = query


def _setup_params() -> dict[str, str]:
    """The address bar's parameters that describe a setup: all but the session's own (?name=, ?present=)."""
    return {key: value for key, value in st.query_params.to_dict().items() if key not in session.URL_PARAMETERS}


def form(disabled: bool = False) -> None:
    """Draw the form's widgets; their values stay in st.session_state."""
    for warning in st.session_state.get(LINK_WARNINGS, []):
        st.warning(escape(warning))
    st.selectbox("Preset", list(PRESET_LABELS), format_func=PRESET_LABELS.get, key=PRESET_KEY,
                 on_change=_preset_chosen, disabled=disabled, **KEEP)
    left, middle, right = st.columns(3)
    architecture = left.selectbox("Architecture", ["mlp", "cnn"], key=_key("architecture"), disabled=disabled,
                                  format_func={"mlp": "MLP (dense layers)", "cnn": "CNN (convolutions)"}.get, **KEEP)
    left.text_input("Hidden layers (units each)", key=_key("hidden_units"), disabled=disabled, max_chars=MAX_UNITS_TEXT,
                    help="One number per dense layer, e.g. 64 (the lecture) or 256, 128.", **KEEP)
    left.text_input("Convolution filters per block", key=_key("conv_filters"), max_chars=MAX_UNITS_TEXT,
                    disabled=disabled or architecture != "cnn", help="CNN only, e.g. 32, 64.", **KEEP)
    middle.selectbox("Activation", ACTIVATIONS, key=_key("activation"), disabled=disabled, **KEEP)
    middle.selectbox("Optimizer", OPTIMIZERS, key=_key("optimizer"), disabled=disabled, **KEEP)
    middle.number_input("Learning rate", **_range("learning_rate"), step=0.001, format="%g",
                        key=_key("learning_rate"), disabled=disabled, **KEEP)
    right.number_input("Batch size", **_range("batch_size"), key=_key("batch_size"), disabled=disabled, **KEEP)
    right.number_input("Epochs", **_range("epochs"), key=_key("epochs"), disabled=disabled, **KEEP)
    right.slider("Validation split", **_range("validation_split"), step=0.05, key=_key("validation_split"),
                 disabled=disabled, help="Fraction of the training digits held out to watch for overfitting.", **KEEP)
    right.number_input("Seed", **_range("seed"), key=_key("seed"), disabled=disabled, **KEEP,
                       help="Drawn at random for each new setup, so that every student's run differs; the same seed "
                            "with the same setup trains the same model again (the link keeps it).")
    with st.expander("More options: dropout, batch normalization, schedule, augmentation"):
        st.slider("Dropout", **_range("dropout"), step=0.05, key=_key("dropout"), disabled=disabled, **KEEP)
        st.checkbox("Batch normalization", key=_key("batch_norm"), disabled=disabled, **KEEP)
        st.selectbox("Learning-rate schedule", SCHEDULES, key=_key("lr_schedule"), disabled=disabled, **KEEP)
        st.checkbox("Augment the digits (shifts, zoom, rotation, stroke width)", key=_key("augment"),
                    disabled=disabled, **KEEP)
    drawings = ClassDigits().count()  # file names only: this runs on every redraw of the page
    st.checkbox(f"{CLASS_DIGITS_LABEL} ({count_text(drawings) if drawings else 'none saved yet'})",
                key=CLASS_DIGITS, disabled=disabled or not drawings, **KEEP,
                help="The drawings saved on the Draw page, each with the digit its author meant, join the training "
                     "digits of this run; the saved model's data description says so. Evaluate's "
                     "*How well does it read us?* tab measures any model on them.")


def add_class_digits() -> bool:
    """Whether the run adds the class's drawings: the box is ticked and there are drawings to add."""
    return bool(st.session_state.get(CLASS_DIGITS)) and ClassDigits().count() > 0


def config() -> TrainConfig:
    """The form's values as a TrainConfig; ValueError names the field that cannot train.

    Parsed once per change of the form: Start's callback and the page's run that follows both ask, and both get
    the TrainConfig kept with the raw values it came from.
    """
    values = {field: st.session_state[_key(field)] for field in TrainConfig().to_dict()}
    raw = tuple(values.items())
    kept = st.session_state.get(PARSED)
    if kept is not None and kept[0] == raw:
        return kept[1]
    values["hidden_units"] = parse_units(values["hidden_units"], "Hidden layers")
    values["conv_filters"] = parse_units(values["conv_filters"], "Convolution filters")
    parsed = TrainConfig(**values)
    st.session_state[PARSED] = (raw, parsed)
    return parsed
