"""The pages of issue 21 in AppTest: a .keras file uploaded on Models becomes the student's model on every page, a
bad one is refused in one line; each trained model and the Train page's setup have their Code; the Lecture page
gives the lesson as a notebook; the teacher takes the class set home and it uploads back on Digits."""

from __future__ import annotations

import numpy as np

from core.classroom.class_set import ClassDigits, class_set_npz
from core.model.config import preset
from core.model.store import ModelStore
from core.training.export_code import training_script
from helpers.apptest import BAR, draw_on_canvas, lecture_page, metrics, open_page, texts
from helpers.digits import make_digits, make_tiny_data
from helpers.keras_files import hand_built_mlp, keras_file, lambda_model


def download_labels(at) -> list[str]:
    return [button.proto.label for button in at.get("download_button")]


def test_an_uploaded_keras_file_becomes_the_students_model_on_every_page(tiny_npz, tmp_path):
    upload = keras_file(hand_built_mlp(make_tiny_data()), tmp_path / "home.keras").read_bytes()
    at = open_page("models", student_name="Ada")
    at.file_uploader[0].set_value(("home.keras", upload, "application/octet-stream")).run()
    assert not at.exception and not at.error
    (success,) = texts(at.success)
    assert success.startswith("Imported as 'home': input 784 values, pixels 0-1, outputs softmax probabilities")
    row = at.dataframe[-1].value.iloc[0]
    assert (row["name"], row["owner"], row["origin"]) == ("home", "Ada", "uploaded")
    assert row["architecture"] == "784 → dense 32 relu → dense 10 softmax"
    assert at.session_state["active_model"] == "home"

    at.switch_page("views/evaluate.py").run()
    assert not at.exception and float(metrics(at)["Accuracy on test data"]) > 0.9
    at.switch_page("views/draw.py").run()
    draw_on_canvas(at, BAR)
    assert not at.exception and "Prediction" in metrics(at)
    for step in ("14", "15"):  # the Lecture's test steps, in the same session: with its own model
        at.query_params = {"step": step}
        lecture = at.switch_page("views/lecture.py").run()
        assert not lecture.exception, lecture.exception[0].stack_trace
        assert not lecture.error
    assert "Accuracy on test data" in metrics(lecture)


def test_a_refused_upload_says_why_in_one_line_and_saves_nothing(tiny_npz, tmp_path, private_models_dir):
    at = open_page("models")
    at.file_uploader[0].set_value(("trick.keras", lambda_model(tmp_path / "trick.keras").read_bytes(),
                                   "application/octet-stream")).run()
    assert not at.exception
    (error,) = texts(at.error)
    assert error.startswith("trick.keras has a Lambda layer") and error.endswith("Nothing was saved.")
    assert not ModelStore().list().models


def test_a_trained_model_and_the_train_pages_setup_have_their_code(tiny_npz, saved_model, tiny_result):
    at = open_page("models", models_code=True)
    assert not at.exception
    assert at.code[0].value == training_script(tiny_result.config, saved_model).rstrip("\n")  # st.code trims it
    assert "Download the code" in download_labels(at)
    train = open_page("train", train_code=True)
    assert not train.exception
    seed = train.number_input(key="train_seed").value  # drawn for this setup: every student's run differs
    assert train.code[0].value == training_script(preset("lecture").replace(seed=seed), "lecture").rstrip("\n")


def test_an_uploaded_model_says_where_its_code_is(tiny_npz, tmp_path):
    from core.classroom.importing import import_model

    import_model(keras_file(hand_built_mlp(make_tiny_data(), epochs=2), tmp_path / "home.keras"), make_tiny_data())
    at = open_page("models", models_code=True)
    assert not at.exception and not at.code
    assert any("was uploaded, not trained here" in text for text in texts(at.info))


def test_the_lecture_page_gives_the_lesson_as_a_notebook(tiny_npz):
    at = lecture_page()
    assert not at.exception
    assert download_labels(at) == ["Download this lesson"]


def test_the_teacher_downloads_the_class_set_and_it_uploads_back_on_digits(tiny_npz, teacher_key):
    images, _ = make_digits(12, seed=3)
    for index, image in enumerate(images):
        ClassDigits().add(np.maximum(image, 1), index % 10, "Ada" if index % 2 else "Bo")
    student = open_page("models")
    assert "Download as .npz" not in download_labels(student)  # a class is set up: the teacher's alone
    teacher = open_page("models", teacher_unlocked=True)
    assert {"Download as .npz", "Download as IDX files (.zip)"} <= set(download_labels(teacher))
    digits = open_page("digits")
    digits.file_uploader[0].set_value(("class-digits.npz", class_set_npz(ClassDigits().load()),
                                       "application/octet-stream")).run()
    assert not digits.exception and not digits.error
    assert "11 train / 1 test digits from class-digits.npz" in " ".join(texts(digits.sidebar.markdown))
