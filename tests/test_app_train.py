"""The Train page in Streamlit's AppTest: a run finishes and is saved, Stop stops it, a diverging run
says why, the lecture's experiments, and the setup's round trip through the URL."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, metrics, rerun_until
from core.models import preset
from core.store import ModelStore

APP = ROOT / "dashboard" / "app.py"


def train_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/train.py")
    at.query_params = dict(query or {})
    return at.run()


def button(at: AppTest, label: str):
    return next(widget for widget in at.button if widget.label == label)




def job_state(at: AppTest) -> str:
    return at.session_state["training_job"].snapshot().state


def test_a_run_finishes_shows_both_accuracies_and_is_saved(tiny_npz):
    at = train_page()
    at.number_input(key="train_epochs").set_value(2).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error
    assert button(at, "Start").disabled and not button(at, "Stop").disabled
    rerun_until(at, lambda at: "Accuracy on test data" in metrics(at))
    assert not at.exception
    assert set(metrics(at)) == {"Accuracy on training data", "Accuracy on test data"}
    assert all(re.fullmatch(r"[01]\.\d{4}", value) for value in metrics(at).values())  # 0.9615, like the lecture
    saved = [info.name for info in ModelStore().list().models]
    assert saved == ["mlp-64-tanh-sgd-2ep"]
    assert any("Saved as **mlp-64-tanh-sgd-2ep**" in message for message in [s.value for s in at.success])
    assert not button(at, "Start").disabled and button(at, "Stop").disabled

    at.text_input(key="train_name_mlp-64-tanh-sgd-2ep").set_value("first try")
    button(at, "Rename").click().run()
    assert [info.name for info in ModelStore().list().models] == ["first try"]
    assert "Saved as **first try**" in " ".join(s.value for s in at.success)


def test_stop_ends_the_run_early_and_keeps_the_model(tiny_npz):
    at = train_page()
    at.number_input(key="train_batch_size").set_value(1).run()  # 300 steps an epoch...
    at.number_input(key="train_epochs").set_value(500).run()  # ...150,000 in all: still running at Stop
    button(at, "Start").click().run()
    rerun_until(at, lambda at: at.session_state["training_job"].snapshot().step > 0)
    button(at, "Stop").click().run()
    rerun_until(at, lambda at: "Accuracy on test data" in metrics(at), timeout=30)
    progress = at.session_state["training_job"].snapshot()
    assert progress.state == "stopped" and progress.step < progress.total_steps
    assert any(info.value.startswith("Stopped after") for info in at.info)
    assert [info.stopped for info in ModelStore().list().models] == [True]


def test_a_diverging_run_shows_cores_message(tiny_npz):
    at = train_page({"preset": "lecture", "hidden": "512,512,512", "activation": "relu",
                     "optimizer": "momentum", "lr": "10.0", "batch_size": "8", "epochs": "5"})
    assert not at.warning
    button(at, "Start").click().run()
    rerun_until(at, lambda at: job_state(at) == "failed" and at.error)
    assert at.error[0].value.startswith("Training diverged: the loss became NaN or infinite")
    assert "try 1 or lower" in at.error[0].value
    assert not at.exception and ModelStore().list().models == []


def test_a_shared_link_fills_the_form_and_names_bad_values(tiny_npz):
    at = train_page({"preset": "wide-mlp", "epochs": "3", "hidden": "32,16", "lr": "abc"})
    assert at.selectbox(key="train_preset").value == "wide-mlp"
    assert at.number_input(key="train_epochs").value == 3
    assert at.text_input(key="train_hidden_units").value == "32, 16"
    assert at.number_input(key="train_learning_rate").value == preset("wide-mlp").learning_rate
    assert [warning.value for warning in at.warning] == [
        "lr='abc' in the link: learning_rate must be a number. Using the preset's '0.001'."
    ]
    assert at.query_params == {"preset": "wide-mlp", "hidden": "32,16", "epochs": "3"}


def test_editing_the_form_rewrites_the_link(tiny_npz):
    at = train_page()
    assert at.query_params == {"preset": "lecture"}
    at.number_input(key="train_learning_rate").set_value(0.1).run()
    at.selectbox(key="train_activation").set_value("relu").run()
    assert at.query_params == {"preset": "lecture", "activation": "relu", "lr": "0.1"}
    at.selectbox(key="train_preset").set_value("cnn").run()  # a preset replaces every field
    assert at.query_params == {"preset": "cnn"}
    filters = ", ".join(str(count) for count in preset("cnn").conv_filters)
    assert at.text_input(key="train_conv_filters").value == filters


def test_the_form_survives_a_visit_to_another_page(tiny_npz):
    at = train_page()
    at.number_input(key="train_epochs").set_value(7).run()
    at.switch_page("views/digits.py").run()
    at.query_params = {}  # the browser drops the query string when the page changes
    at.switch_page("views/train.py").run()
    assert at.number_input(key="train_epochs").value == 7


def test_a_form_value_that_cannot_train_says_which_field(tiny_npz):
    at = train_page()
    at.text_input(key="train_hidden_units").set_value("64, many").run()
    assert "Hidden layers: '64, many' is not a list of whole numbers" in at.error[0].value
    button(at, "Start").click().run()
    assert not at.exception
    assert "training_job" not in at.session_state


def test_the_lectures_two_experiments(tiny_npz):
    at = train_page()
    button(at, "Ask the untrained network").click().run()
    button(at, "Memorize the first five digits").click().run()
    assert not at.exception
    labels, untrained = at.session_state["train_untrained"]
    _, memorized = at.session_state["train_memorized"]
    assert untrained.shape == memorized.shape == (5, 10)
    assert untrained.max() < 0.6  # a guess
    assert all(memorized[row, label] > 0.9 for row, label in enumerate(labels))  # memorized


@pytest.mark.parametrize("page", ["digits", "evaluate", "models"])
def test_the_run_goes_on_while_the_user_is_elsewhere(tiny_npz, page):
    at = train_page()
    at.number_input(key="train_epochs").set_value(3).run()
    button(at, "Start").click().run()
    at.switch_page(f"views/{page}.py").run()
    rerun_until(at, lambda at: at.session_state["training_job"].snapshot().done)
    at.run()  # the sidebar of whatever page is open saves the finished run
    assert not at.exception
    assert [info.name for info in ModelStore().list().models] == ["mlp-64-tanh-sgd-3ep"]
    at.switch_page("views/train.py").run()
    assert "Accuracy on test data" in metrics(at)


def test_two_sessions_train_side_by_side_each_with_its_own_run(tiny_npz):
    first, second = train_page(), train_page()
    first.number_input(key="train_epochs").set_value(2).run()
    second.number_input(key="train_epochs").set_value(3).run()
    button(first, "Start").click().run()
    button(second, "Start").click().run()
    assert first.session_state["training_job"] is not second.session_state["training_job"]
    for at, epochs in ((first, 2), (second, 3)):
        rerun_until(at, lambda at: "Accuracy on test data" in metrics(at))
        assert at.session_state["training_job"].snapshot().epochs == epochs
        assert at.session_state["saved_model"] == f"mlp-64-tanh-sgd-{epochs}ep"
    assert sorted(info.name for info in ModelStore().list().models) == ["mlp-64-tanh-sgd-2ep", "mlp-64-tanh-sgd-3ep"]


def test_the_live_chart_stays_small_however_long_the_run():
    """What the browser redraws twice a second: two lines of at most 2,000 points, epoch lines, validation."""
    import numpy as np

    from core.charts import LossCurve
    from dashboard.figures import loss_figure

    steps_per_epoch, epochs = 1875, 50  # the lecture's batches, ten times its epochs
    curve = LossCurve(0.98).update(np.random.default_rng(0).random(steps_per_epoch * epochs))
    figure = loss_figure(curve, steps_per_epoch, steps_per_epoch * epochs, [(1, 0.91), (2, 0.94)])
    raw, smoothed, validation = figure.data
    assert len(raw.x) <= 2000 and len(smoothed.x) <= 2000
    assert list(validation.x) == [1875, 3750] and validation.yaxis == "y2"
    assert len(figure.layout.shapes) == epochs - 1  # a line after every epoch but the last
