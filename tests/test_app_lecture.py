"""The Lecture page in Streamlit's AppTest: every step renders on the small digits, Previous/Next and the
step list move and keep ?step= in the address bar, a bad link warns, and its training step is the Train
page's run."""

from __future__ import annotations

import numpy as np
import pytest

from core.lecture import lecture_loss_floor
from core.model.config import preset
from helpers.apptest import app_in_a_fresh_interpreter, button, code_blocks, lecture_page, metrics, run_to_the_end
from helpers.digits import make_tiny_data

STEP_COUNT = 15


def heading(at) -> str:
    return at.header[0].value


def step_button(at, label: str, where: str = "top"):
    """The Previous or Next button above the step (``where="top"``) or below it ("bottom")."""
    return at.button(key=f"lecture_{label.lower()}_{where}")


def test_every_step_renders_on_the_small_digits(tiny_npz):
    at = lecture_page()
    assert heading(at) == "1. Load the digits"
    titles = at.radio(key="lecture_jump_1").options  # each step's list is its own widget
    assert len(titles) == STEP_COUNT
    for number in range(1, STEP_COUNT + 1):
        at.query_params = {"step": str(number)}
        at.run()
        assert not at.exception, (number, at.exception)
        assert not at.error and not at.warning, number
        assert heading(at).startswith(f"{number}. ")
        language, code = code_blocks(at)[0]  # each step opens with the lecture's code
        assert language == "python" and code.strip(), number


def test_next_and_previous_move_and_the_address_bar_follows(tiny_npz):
    at = lecture_page()
    assert step_button(at, "Previous").disabled and not step_button(at, "Next").disabled
    step_button(at, "Next").click().run()
    assert heading(at) == "2. One digit, pixel by pixel"
    assert at.query_params == {"step": "2"}
    step_button(at, "Next", "bottom").click().run()
    assert heading(at).startswith("3. ") and at.query_params == {"step": "3"}
    step_button(at, "Previous").click().run()
    assert heading(at).startswith("2. ") and at.query_params == {"step": "2"}
    at.radio(key="lecture_jump_2").set_value(STEP_COUNT).run()
    assert heading(at) == f"{STEP_COUNT}. Accuracy" and at.query_params == {"step": str(STEP_COUNT)}
    assert step_button(at, "Next").disabled and not step_button(at, "Previous").disabled
    assert not at.exception


def test_a_link_opens_its_step(tiny_npz):
    at = lecture_page("12")
    assert heading(at) == "12. Re-initialize"
    assert at.radio(key="lecture_jump_12").value == 12
    assert not at.warning


@pytest.mark.parametrize("bad", ["abc", "0", "16", "-3"])
def test_a_bad_step_in_the_link_is_named_and_step_1_opens(tiny_npz, bad):
    at = lecture_page(bad)
    assert [warning.value for warning in at.warning] == [
        f"step={bad!r} in the link is not a step number from 1 to {STEP_COUNT}; opening step 1."
    ]
    assert heading(at) == "1. Load the digits" and at.query_params == {"step": "1"}
    assert not at.exception


def test_the_first_steps_show_the_digits_in_use(tiny_npz):
    data = make_tiny_data()
    at = lecture_page()
    assert code_blocks(at)[1] == ("text", f"{data.x_train.shape}\n{data.x_test.shape}")  # (300, 28, 28), (100, 28, 28)
    assert any("<img" in block.value for block in at.get("html"))  # the first digit, inline
    at = lecture_page("3")
    assert code_blocks(at)[1] == ("text", str(data.y_train[:25].reshape(5, 5)))
    at = lecture_page("4")
    assert code_blocks(at)[1] == ("text", f"({len(data.x_train)}, 784)\n({len(data.x_test)}, 784)")


def test_the_network_step_counts_its_parameters(tiny_npz):
    from core.model.network import build_model

    at = lecture_page("7")
    table = at.table[0].value
    assert list(table["weights"]) == ["W1", "b1", "W2", "b2"]
    total = build_model(preset("lecture")).count_params()
    assert table["numbers"].sum() == total
    assert f"**{total:,} numbers**" in " ".join(markdown.value for markdown in at.markdown)


def test_the_loss_step_shows_both_losses_and_the_floor(tiny_npz):
    at = lecture_page("8")
    values = metrics(at)
    floor = lecture_loss_floor()
    assert values["Lowest the lecture's loss can go"] == f"{floor:.4f}"
    assert float(values["The lecture's loss (softmax twice)"]) >= floor
    at.number_input(key="lecture_digit").set_value(7).run()
    assert not at.exception
    assert "X_train[7]" in at.get("html")[-1].value


def test_one_sgd_step_lowers_the_loss_on_the_page(tiny_npz):
    at = lecture_page("9")
    values = metrics(at)
    before = float(values["Loss on this batch before the step"])
    after = float(values["Loss on this batch after one step"])
    assert after < before


def test_re_initializing_again_draws_new_weights(tiny_npz):
    at = lecture_page("12")
    first = at.get("plotly_chart")[0].proto.spec
    button(at, "Re-initialize again").click().run()
    assert at.session_state["lecture_reseed"] == 2
    assert at.get("plotly_chart")[0].proto.spec != first
    assert not at.exception


def test_the_cells_between_the_steps_run_live_in_the_lectures_order(tiny_npz):
    at = lecture_page("5")  # In[11]'s print(train_data[0]): all 784 values
    printed = code_blocks(at)[-1][1]
    assert len(printed.replace("[", " ").replace("]", " ").split()) == 784
    at = lecture_page("6")  # In[12]: the body of to_one_hot
    assert "one_hot_labels[np.arange(labels.shape[0]), labels] = 1.0" in code_blocks(at)[0][1]
    labels = make_tiny_data().y_train[:5].tolist()
    assert f"(0, {labels[0]}), (1, {labels[1]})" in " ".join(markdown.value for markdown in at.markdown)
    at = lecture_page("7")  # In[13]-[14]: TensorFlow and the placeholders; In[15]: the weights' first values
    code, text = code_blocks(at)[0][1], " ".join(markdown.value for markdown in at.markdown)
    assert code.startswith("import tensorflow as tf") and "tf.placeholder(tf.float32, [None, 784])" in code
    assert "`(None, 28, 28)`" in text and "(5, 10)" in text and "TensorFlow 2." in text
    starting = at.table[1].value
    assert list(starting["weights"]) == ["W1", "b1", "W2", "b2"] and list(starting["limit"])[:2] == ["0.0841", "0.0000"]
    at = lecture_page("10")  # In[19]-[20]: the session and the initialisation
    assert "tf.global_variables_initializer().run()" in code_blocks(at)[0][1]
    assert "eager" in " ".join(markdown.value for markdown in at.markdown)
    assert not at.exception and not at.error


def test_200_more_steps_move_the_five_answers_further_towards_their_labels(tiny_npz):
    at = lecture_page("11")
    button(at, "200 more steps").click().run()
    button(at, "200 more steps").click().run()
    assert at.session_state["lecture_memorize_rounds"] == 3
    memo = at.session_state["lecture_memo"]
    rounds = {key[-1]: probabilities for key, probabilities in memo.items() if key[0] == "memorized"}
    labels = make_tiny_data().y_train[:5]
    sure = {count: rounds[count][np.arange(5), labels].mean() for count in (1, 3)}  # of the right digits
    assert sure[1] < sure[3] < 1
    assert "After 600 steps" in " ".join(caption.value for caption in at.caption)


def test_the_training_step_is_the_train_pages_run(tiny_npz):
    """The Lecture page's run trains for real, in a worker process."""
    at = lecture_page("13")
    button(at, "Train for 5 epochs").click().run()
    assert not at.exception
    job = at.session_state["training_job"]
    assert job.config == preset("lecture").replace(seed=job.config.seed)  # the lecture's run, a seed of its own
    run_to_the_end(at)
    progress = job.snapshot()
    assert metrics(at)["Accuracy on test data"] == f"{progress.test_accuracy:.4f}"
    assert "the lecture's loss (softmax twice)" in at.get("plotly_chart")[0].proto.spec  # beside the cross-entropy

    at.query_params = {"step": "15"}  # the lecture's last cell shows the same run's accuracies
    at.run()
    assert metrics(at) == {"Accuracy on training data": f"{progress.train_accuracy:.4f}",
                           "Accuracy on test data": f"{progress.test_accuracy:.4f}"}

    at.switch_page("views/train.py")
    at.query_params = {}  # the browser drops the query string when the page changes
    at.run()
    assert at.session_state["training_job"] is job
    assert metrics(at)["Accuracy on test data"] == f"{progress.test_accuracy:.4f}"
    assert "Saved as **lecture**" in " ".join(success.value for success in at.success)
    assert not at.exception


def test_without_a_model_the_last_steps_say_how_to_get_one(tiny_npz):
    for step in ("14", "15"):
        at = lecture_page(step)
        assert "No trained network yet" in at.info[0].value
        assert not at.exception and not at.error


def test_the_last_steps_use_the_active_saved_model(tiny_npz, saved_model):
    at = lecture_page("8")
    assert at.radio(key="lecture_network").value == "trained"
    at = lecture_page("14")
    assert f"**{saved_model}**" in " ".join(markdown.value for markdown in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    at = lecture_page("15")
    assert set(metrics(at)) == {"Accuracy on training data", "Accuracy on test data"}
    assert not at.exception and not at.error


def test_presenting_enlarges_the_type(tiny_npz):
    at = lecture_page()
    styles = lambda at: [block.value for block in at.get("html") if block.value.startswith("<style>")]  # noqa: E731
    assert styles(at) == []
    presenting = lambda at: at.button(key="lecture_presenting_button")  # noqa: E731
    assert presenting(at).proto.type == "secondary"
    presenting(at).click().run()
    assert len(styles(at)) == 1 and "font-size" in styles(at)[0]
    assert presenting(at).proto.type == "primary"  # filled while on
    step_button(at, "Next").click().run()  # it stays on from step to step
    assert len(styles(at)) == 1
    at.switch_page("views/digits.py").run()
    at.switch_page("views/lecture.py").run()  # and from page to page
    assert len(styles(at)) == 1
    presenting(at).click().run()
    assert styles(at) == [] and presenting(at).proto.type == "secondary"


def test_the_first_step_never_imports_tensorflow(tiny_npz):
    """The app's first page: checked in a fresh interpreter, since other tests here have imported TensorFlow."""
    shown = app_in_a_fresh_interpreter(
        "at = AppTest.from_file(APP, default_timeout=60).run()\n"
        "print(json.dumps([at.header[0].value, len(at.exception), 'tensorflow' in sys.modules,"
        " any('<img' in block.value for block in at.get('html'))]))\n")
    assert shown == ["1. Load the digits", 0, False, True]


def test_choosing_a_step_in_the_list_goes_there_and_folds_the_list(tiny_npz):
    at = lecture_page()
    at.radio(key="lecture_jump_1").set_value(6).run()
    assert heading(at) == "6. One-hot labels" and at.query_params == {"step": "6"}
    assert at.session_state["lecture_step_list"] is False  # folded away
    assert not at.exception


# Element kinds whose code Streamlit's front end fetches before it paints a page that shows one: on a cold
# 2-core machine a text box, a select box or a code block each added 0.2-0.3 s to a minimal app's first paint
# (bench/startup.py's method); the other kinds here load the same input code or more (sliders bring date and
# number formatting, latex KaTeX). Inside a popover they are fetched when it opens.
SLOW_TO_FIRST_PAINT = {"text_input", "text_area", "number_input", "selectbox", "multiselect", "slider",
                       "select_slider", "date_input", "time_input", "code", "latex"}


def kinds_outside_popovers(block) -> set[str]:
    kinds = set()
    for child in block.children.values():
        kinds.add(child.type)
        if child.type != "popover" and hasattr(child, "children"):
            kinds |= kinds_outside_popovers(child)
    return kinds


def test_the_first_page_paints_without_waiting_for_slow_elements(tiny_npz):
    """What keeps bench/startup.py's first page within 1.2x a minimal app: no slow kind outside a popover."""
    at = lecture_page()
    shown = kinds_outside_popovers(at.main) | kinds_outside_popovers(at.sidebar)
    assert "html" in shown and "popover" in shown and "button" in shown
    assert not shown & SLOW_TO_FIRST_PAINT, shown & SLOW_TO_FIRST_PAINT
    assert at.sidebar.text_input(key="sidebar_name") is not None  # the name box, in its popover
