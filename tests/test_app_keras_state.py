"""Streamlit clears Keras' session after every script run; the dashboard switches that off (see
dashboard/keras_guard.py). These tests fail loudly if a Streamlit upgrade moves the clean-up elsewhere."""

from __future__ import annotations

import inspect


def test_streamlit_still_runs_the_clean_up_we_switch_off():
    from streamlit.runtime.scriptrunner import script_runner

    assert "_clean_problem_modules" in inspect.getsource(script_runner.ScriptRunner)


def test_after_a_script_run_keras_state_survives():
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    from dashboard.keras_guard import keep_keras_state

    keep_keras_state()

    keras.backend.clear_session()  # a known start: the next layer is called "dense"
    before = keras.layers.Dense(1).name
    script_runner._clean_problem_modules()  # what Streamlit calls after each run
    after = keras.layers.Dense(1).name
    assert after != before, "Keras' session was cleared: layer names started again from the beginning"
