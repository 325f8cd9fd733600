"""The one private-API patch in the dashboard: keep Streamlit from clearing Keras' state after each script run.

Once Keras is imported, Streamlit calls ``keras.backend.clear_session()`` after
every script run, fragment reruns included (``ScriptRunner`` ->
``_clean_problem_modules`` in streamlit/runtime/scriptrunner/script_runner.py).
That holds the GIL for up to half a second (a full garbage collection), empties
TensorFlow's kernel cache, and resets Keras' per-thread state under a model being
built or trained on another thread: a live chart polling twice a second would
slow training tens of times and freeze every other session. Models here live in
caches and training jobs, never in script state, so there is nothing to clean.

Tested on streamlit 1.67 (requirements.txt pins that range); keep_keras_state raises at start-up if the
hook is gone, and tests/test_app_keras_state.py fails if an upgrade moves the clean-up elsewhere.
"""

from __future__ import annotations

from streamlit.runtime.scriptrunner import script_runner

PATCHED_NAME = "_clean_problem_modules"


def keep_keras_state() -> None:
    """Replace Streamlit's clean-up with a no-op; raise RuntimeError if Streamlit no longer has it."""
    if not callable(getattr(script_runner, PATCHED_NAME, None)):
        raise RuntimeError(
            f"streamlit {script_runner.__name__}.{PATCHED_NAME} is gone: this Streamlit version moved the Keras "
            "clean-up. Pin streamlit to the range in requirements.txt, or update dashboard/keras_guard.py."
        )
    setattr(script_runner, PATCHED_NAME, lambda: None)
