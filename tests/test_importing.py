"""core.classroom.importing and `python -m core import`: a .keras file from elsewhere becomes a student's model that
works everywhere a trained one does; a malicious or broken file is refused with one line, memory bounded, and
nothing else in the models folder changes."""

from __future__ import annotations

import os

import numpy as np
import psutil
import pytest

from core.classroom.importing import MAX_FILE_BYTES, ImportRefused, import_model
from core.classroom.leaderboard import leaderboard
from core.evaluation.evaluate import evaluate
from core.evaluation.explain import activations, first_layer_weights, saliency
from core.model.predict import ModelIO, predict_drawing, predict_proba
from core.model.store import ModelStore
from helpers.cli import run_cli
from helpers.digits import make_tiny_data, seven_canvas
from helpers.keras_files import (
    custom_layer_model,
    declaring_pixels,
    edited_config,
    hand_built_cnn,
    hand_built_mlp,
    hdf5_bomb,
    keras_file,
    lambda_model,
    nan_weights_model,
    plain_model,
    raw_file,
    residual_model,
    shifted_labels_model,
    with_entry,
    zip_bomb,
)


@pytest.fixture(scope="module")
def data():
    return make_tiny_data()


@pytest.fixture(scope="module")
def mlp(data):
    """A student's own MLP (784 values in, softmax probabilities out), trained here with Keras' fit."""
    return hand_built_mlp(data)


@pytest.fixture
def mlp_file(mlp, tmp_path):
    return keras_file(mlp, tmp_path / "my mlp (home).keras")


@pytest.fixture
def store(private_models_dir):
    return ModelStore(private_models_dir)


def folder_state(store: ModelStore) -> dict[str, int]:
    """Every file in the models folder with its modification time."""
    return {path.name: path.stat().st_mtime_ns for path in store.folder.rglob("*")} if store.folder.exists() else {}


def test_a_hand_built_784_input_probability_model_becomes_the_students_and_reads_as_in_keras(mlp, mlp_file, data,
                                                                                           store):
    info, found = import_model(mlp_file, data, store, owner="Ada")
    assert (info.name, info.owner, info.origin, info.config) == ("my mlp -home", "Ada", "uploaded", None)
    assert info.io == ModelIO((784,), "0-1", "probabilities", 1000)
    assert "784 values" in found and "softmax probabilities (detected)" in found and info.name in found
    loaded = store.load(info.name)
    expected = mlp.predict_on_batch(data.x_test.reshape(-1, 784) / 255.0)
    np.testing.assert_allclose(predict_proba(loaded, data.x_test), expected, rtol=1e-4, atol=1e-6)
    measured = evaluate(loaded, data)
    assert measured.test_accuracy == pytest.approx(info.test_accuracy) and info.test_accuracy > 0.9
    assert info.drawn_accuracy is not None and info.parameters == mlp.count_params()
    assert [row.owner for row in leaderboard(store.list().models)] == ["Ada"]
    assert info.summary == "uploaded: 784 → dense 32 relu → dense 10 softmax"


def test_an_imported_models_explanations_work_like_a_trained_ones(mlp_file, data, store):
    info, _ = import_model(mlp_file, data, store)
    model = store.load(info.name)
    (name, hidden), = activations(model, data.x_test[:3])
    assert hidden.shape == (3, 32) and np.all(hidden >= 0)  # the relu layer
    attributions = saliency(model, data.x_test[0], target=int(data.y_test[0]))
    assert attributions.shape == (28, 28) and np.isfinite(attributions).all() and np.abs(attributions).sum() > 0
    assert first_layer_weights(model).shape == (32, 28, 28)
    digit, probabilities = predict_drawing(model, seven_canvas())
    assert digit.shape == (28, 28) and probabilities.sum() == pytest.approx(1, abs=1e-5)


def test_a_functional_model_with_a_residual_connection_explains_itself_too(data, store, tmp_path):
    """Not a chain of layers: the explanations read its own graph at its pooling and hidden dense layers."""
    info, found = import_model(keras_file(residual_model(data), tmp_path / "residual.keras"), data, store)
    assert "28×28×1" in found and "softmax probabilities (detected)" in found
    model = store.load(info.name)
    # The pooled maps and both hidden dense layers (their names are Keras' counters in this process).
    assert [values.shape for _, values in activations(model, data.x_test[:2])] == [(2, 14, 14, 4), (2, 16), (2, 16)]
    attributions = saliency(model, data.x_test[:3])  # each digit's own answer
    assert attributions.shape == (3, 28, 28) and np.isfinite(attributions).all()


def test_a_model_starting_with_rescaling_takes_0_255_pixels_and_outputs_logits(data, store, tmp_path):
    cnn = hand_built_cnn(data, rescaling=True)
    info, found = import_model(keras_file(cnn, tmp_path / "cnn.keras"), data, store)
    assert info.io == ModelIO((28, 28, 1), "0-255", "logits", info.io.batch)
    assert "outputs logits (detected)" in found and "pixels 0-255" in found
    expected = cnn.predict_on_batch(data.x_test[..., None].astype("float32"))
    np.testing.assert_allclose(predict_proba(store.load(info.name), data.x_test),
                               np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    assert [values.shape for _, values in activations(store.load(info.name), data.x_test[:2])] == [(2, 13, 13, 4)]


def test_a_model_whose_metadata_says_0_255_is_fed_so(data, store, tmp_path):
    cnn = hand_built_cnn(data, rescaling=False)
    path = keras_file(cnn, tmp_path / "raw.keras")
    info, _ = import_model(declaring_pixels(path, "0-255"), data, store)
    assert info.io.pixels == "0-255"
    expected = cnn.predict_on_batch(data.x_test[..., None].astype("float32")).argmax(axis=1)
    np.testing.assert_array_equal(predict_proba(store.load(info.name), data.x_test).argmax(axis=1), expected)
    with pytest.raises(ImportRefused, match="pixels 'grey'"):
        import_model(declaring_pixels(path, "grey"), data, store)


def test_a_model_trained_here_and_downloaded_comes_back_as_the_students_upload(tiny_result, data, store, tmp_path):
    trained = ModelStore(tmp_path / "elsewhere").save("lecture", tiny_result)
    info, found = import_model(trained.path.read_bytes(), data, store, name="mine", owner="Bo", file_name="x.keras")
    assert (info.name, info.origin, info.owner, info.config) == ("mine", "uploaded", "Bo", None)
    assert info.io == ModelIO() and "28×28" in found
    assert info.test_accuracy == pytest.approx(tiny_result.test_accuracy)
    again, _ = import_model(trained.path, data, store, name="mine")
    assert again.name == "mine-2"  # the name was taken: a free one


def test_the_cli_imports_a_file_and_prints_the_name_it_saved_last(mlp_file, tiny_npz, private_models_dir):
    result = run_cli("import", str(mlp_file), "--name", "home net", "--data", tiny_npz, models=private_models_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "home net" and "softmax probabilities (detected)" in lines[-2]
    assert ModelStore(private_models_dir).info("home net").origin == "uploaded"
    listed = run_cli("list", models=private_models_dir)
    assert "uploaded: 784 → dense 32 relu" in listed.stdout


def test_the_cli_refuses_a_bad_file_with_one_line_and_status_2(tmp_path, tiny_npz, private_models_dir):
    junk = tmp_path / "notes.keras"
    junk.write_text("my homework")
    result = run_cli("import", junk, "--data", tiny_npz, models=private_models_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: notes.keras is not a .keras file (a .keras file is a zip archive; this is not one): save your model "
        "with model.save('name.keras')"]
    assert not private_models_dir.exists() or not list(private_models_dir.iterdir())


MALICIOUS = {
    "not a zip": (lambda path, model: raw_file(path, b"\x89PNG\r\n\x1a\n not a model"), "is not a .keras file"),
    "Keras 2 HDF5": (lambda path, model: raw_file(path, b"\x89HDF\r\n\x1a\n" + bytes(100)),
                     "HDF5 \\(.h5\\) file, Keras 2's format"),
    "zip bomb": (lambda path, model: zip_bomb(keras_file(model, path)), "refused as a zip bomb"),
    "HDF5 bomb": (lambda path, model: hdf5_bomb(keras_file(model, path)), "refused as a bomb"),
    "Lambda layer": (lambda path, model: lambda_model(path), "has a Lambda layer"),
    "custom layer": (lambda path, model: custom_layer_model(path), "uses a custom object \\(Home>Doubler\\)"),
    "32x32 input": (lambda path, model: plain_model(path, input_shape=(32, 32)),
                    "takes input of shape \\(None, 32, 32\\)"),
    "5 outputs": (lambda path, model: plain_model(path, outputs=5), "gives output of shape \\(None, 5\\)"),
    "NaN weights": (lambda path, model: nan_weights_model(path), "has NaN or infinite weights"),
    "below chance": (lambda path, model: shifted_labels_model(model, path), "below the 10% of guessing: it is "
                                                                            "probably fed otherwise"),
    "a billion units": (lambda path, model: edited_config(keras_file(model, path), lambda config: config["config"][
        "layers"][1]["config"].update(units=10**9)), "cannot be built|more than the 25,000,000"),
    "unexpected entry": (lambda path, model: with_entry(keras_file(model, path), "run_me.sh", b"rm -rf ~"),
                         "holds run_me.sh"),
}


@pytest.mark.parametrize("case", MALICIOUS)
def test_a_malicious_or_broken_file_is_refused_with_one_line_and_the_folder_untouched(case, mlp, tiny_result,
                                                                                      data, store, tmp_path):
    store.save("kept", tiny_result)
    before = folder_state(store)
    make, message = MALICIOUS[case]
    path = make(tmp_path / "upload.keras", mlp)
    with pytest.raises(ImportRefused, match=message) as refused:
        import_model(path, data, store, owner="Eve")
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400
    assert folder_state(store) == before


def test_a_config_of_a_billion_units_is_refused_without_allocating_it(mlp, data, store, tmp_path):
    """Dense(10**9) between 784 inputs and 10 outputs declares 3 TB of weights (795 billion: 784 x 10**9 + 10**9 +
    10**9 x 10 + 10); the check reads them from the config alone."""
    path = edited_config(keras_file(mlp, tmp_path / "big.keras"), lambda config: config["config"]["layers"][1][
        "config"].update(units=10**9))
    path = edited_config(path, lambda config: config["config"]["layers"][2]["build_config"].update(
        input_shape=[None, 10**9]))
    process = psutil.Process()
    before = process.memory_info().rss
    with pytest.raises(ImportRefused, match="has 795,000,000,010 weights, more than"):
        import_model(path, data, store)
    assert process.memory_info().rss - before < 200 * 2**20


def test_a_layer_too_large_to_run_is_refused_before_anything_runs(data, store, tmp_path):
    import keras
    from keras import layers

    huge = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.UpSampling2D(200), layers.GlobalMaxPooling2D(),
                             layers.Dense(10)])  # 5,600 x 5,600 values per digit
    with pytest.raises(ImportRefused, match="a layer of 31,360,000 values per digit"):
        import_model(keras_file(huge, tmp_path / "huge.keras"), data, store)


def test_a_file_over_50_mb_is_refused_before_it_is_read(data, store, tmp_path):
    path = tmp_path / "huge.keras"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written, so reading it would show
    with pytest.raises(ImportRefused, match="is 50.0 MB, more than the 50 MB"):
        import_model(path, data, store)
    with pytest.raises(ImportRefused, match="more than the 50 MB"):
        import_model(bytes(MAX_FILE_BYTES + 1), data, store, file_name="big.keras")


def test_an_imported_model_without_code_says_so_on_export(mlp_file, data, store, private_models_dir):
    info, _ = import_model(mlp_file, data, store)
    result = run_cli("export-code", "--model", info.name, models=private_models_dir)
    assert result.returncode == 2
    assert "was uploaded, not trained here" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_keras_safe_mode_stays_on_for_saved_models(tmp_path, store):
    """Even a Lambda model put straight into the folder (not through import) is never run: load refuses it."""
    import zipfile

    from core.model.store import META_ENTRY, StoreError

    path = lambda_model(tmp_path / "sneaky.keras")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(META_ENTRY, '{"version": 1, "config": {}, "train_accuracy": 0.5, "test_accuracy": 0.5, '
                                     '"training_seconds": 1, "created": "2025-01-01"}')
    store.folder.mkdir(parents=True, exist_ok=True)
    os.replace(path, store.folder / "sneaky.keras")
    with pytest.raises(StoreError, match="Lambda"):
        store.load("sneaky")
