"""core.model.store: save, list, load, rename and delete; atomic writes; bad files reported, never fatal."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import core.model.store as store_module
from core.model.config import preset
from core.model.network import build_model
from core.model.predict import predict_proba
from core.model.store import META_ENTRY, ModelStore, StoreError, check_name
from core.training.loop import train
from helpers.digits import make_tiny_data
from helpers.paths import ROOT


@pytest.fixture(scope="module")
def result():
    """One short lecture run on tiny digits, shared by the tests (saving does not change it)."""
    return train(preset("lecture").replace(epochs=1), make_tiny_data())


@pytest.fixture
def store(private_models_dir) -> ModelStore:
    return ModelStore(private_models_dir)


def meta_of(result) -> dict:
    return {
        "config": result.config.to_dict(), "train_accuracy": 0.5, "test_accuracy": 0.5,
        "training_seconds": 1.0, "created": "2024-01-01T00:00:00+00:00",
    }


def test_save_info_load_round_trip(store, result):
    saved = store.save("lecture run", result)
    assert saved.path == store.folder / "lecture run.keras" and saved.path.is_file()
    info = store.info("lecture run")
    assert info.name == "lecture run"
    assert info.config == result.config
    assert info.test_accuracy == result.test_accuracy and info.train_accuracy == result.train_accuracy
    assert info.training_seconds == pytest.approx(result.wall_seconds)
    assert info.batch_losses == pytest.approx(result.batch_losses, abs=1e-5)
    assert info.batch_losses.itemsize == 4  # every listing holds every model's losses: 4 bytes each, not 32
    assert [record["epoch"] for record in info.epoch_history] == [1]
    assert info.epoch_history[0]["train_loss"] == pytest.approx(result.epoch_history[0].train_loss)
    assert info.parameters == 50_890
    assert info.data_description == result.data_description and not info.stopped
    assert info.created.startswith("20") and "T" in info.created
    images = make_tiny_data().x_test[:5]
    np.testing.assert_allclose(
        predict_proba(store.load("lecture run"), images), predict_proba(result.model, images), rtol=1e-5, atol=1e-7,
    )


def test_list_shows_saved_models(store, result):
    assert store.list().models == []
    store.save("a", result)
    store.save("b", result)
    listing = store.list()
    assert sorted(info.name for info in listing.models) == ["a", "b"]
    assert listing.problems == []


def test_list_is_newest_first(store, result):
    for name, created in (("old", "2024-01-01T00:00:00+00:00"), ("new", "2025-06-01T00:00:00+00:00")):
        store.save(name, result)
        rewrite_meta(store.path_of(name), created=created)
    assert [info.name for info in store.list().models] == ["new", "old"]


def rewrite_meta(path: Path, **changes) -> None:
    """Copy the model file with its metadata entry changed."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(entries[META_ENTRY])
    meta.update(changes)
    entries[META_ENTRY] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def test_overwrite(store, result):
    store.save("run", result)
    with pytest.raises(StoreError, match="already exists"):
        store.save("run", dataclasses.replace(result, test_accuracy=0.25), overwrite=False)
    assert store.info("run").test_accuracy == result.test_accuracy
    store.save("run", dataclasses.replace(result, test_accuracy=0.25))
    assert store.info("run").test_accuracy == 0.25


def test_rename_and_delete(store, result):
    store.save("first", result)
    store.save("taken", result)
    renamed = store.rename("first", "second")
    assert renamed.name == "second"
    assert not store.path_of("first").exists()
    assert store.load("second").count_params() == 50_890
    with pytest.raises(StoreError, match="already exists"):
        store.rename("second", "taken")
    with pytest.raises(StoreError, match="no saved model"):
        store.rename("first", "third")
    store.delete("second")
    assert sorted(info.name for info in store.list().models) == ["taken"]
    with pytest.raises(StoreError, match="no saved model"):
        store.delete("second")
    with pytest.raises(StoreError, match="no saved model"):
        store.load("second")
    with pytest.raises(StoreError, match="no saved model"):
        store.info("second")


BAD_NAMES = ["", "   ", "../escape", "a/b", ".hidden", "-dash", "trailing.", "x" * 65, "tab\tname"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_rejected(store, result, name):
    with pytest.raises(StoreError, match="not a usable model name"):
        store.save(name, result)
    assert not store.folder.exists() or not any(store.folder.iterdir())


def test_good_names_are_kept():
    assert check_name("  lecture 2024-01_b.v2  ") == "lecture 2024-01_b.v2"
    assert check_name("x" * 64) == "x" * 64


def test_unique_name(store, result):
    assert store.unique_name("lecture") == "lecture"
    store.save("lecture", result)
    assert store.unique_name("lecture") == "lecture-2"
    store.save("lecture-2", result)
    assert store.unique_name("lecture") == "lecture-3"


def test_a_crash_in_the_middle_of_a_save_keeps_the_earlier_version(store, result, monkeypatch):
    store.save("precious", result)
    before = store.path_of("precious").read_bytes()
    temporaries = []

    def crash(source, target):
        temporaries.append(Path(source))
        assert Path(source).stat().st_size > 0  # the new version was written, but not yet moved in
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk unplugged"):
        store.save("precious", dataclasses.replace(result, test_accuracy=0.01))
    monkeypatch.undo()
    assert temporaries and temporaries[0].parent == store.folder
    assert store.path_of("precious").read_bytes() == before
    assert store.info("precious").test_accuracy == result.test_accuracy
    assert sorted(path.name for path in store.folder.iterdir()) == ["precious.keras"]  # no temp file left


def test_a_killed_save_leaves_only_a_hidden_temp_file_that_is_ignored(store, result):
    store.save("kept", result)
    (store.folder / ".kept-abc123.keras").write_bytes(b"half a zip")
    listing = store.list()
    assert [info.name for info in listing.models] == ["kept"]
    assert listing.problems == []


def test_corrupt_and_foreign_files_are_reported_and_skipped(store, result):
    import keras

    store.save("good", result)
    (store.folder / "garbage.keras").write_bytes(os.urandom(500))
    with zipfile.ZipFile(store.folder / "foreign.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    build_model(preset("lecture")).save(store.folder / "plain-keras.keras")  # saved by Keras, not by this tool
    with zipfile.ZipFile(store.folder / "bad-config.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps({**meta_of(result), "config": {"batch_size": 0}}))
    with zipfile.ZipFile(store.folder / "bad-json.keras", "w") as archive:
        archive.writestr(META_ENTRY, "{not json")
    (store.folder / "folder.keras").mkdir()
    (store.folder / "notes.txt").write_text("not a model, and not a .keras file either")
    assert keras.saving.load_model(store.folder / "plain-keras.keras") is not None

    listing = store.list()
    assert [info.name for info in listing.models] == ["good"]
    problems = dict(listing.problems)
    assert set(problems) == {
        "garbage.keras", "foreign.keras", "plain-keras.keras", "bad-config.keras", "bad-json.keras", "folder.keras",
    }
    assert "not saved by this tool" in problems["foreign.keras"]
    assert "not saved by this tool" in problems["plain-keras.keras"]
    assert "batch_size" in problems["bad-config.keras"]
    with pytest.raises(StoreError, match="garbage.keras"):
        store.info("garbage")


def test_metadata_without_a_model_fails_to_load_with_a_store_error(store, result):
    store.folder.mkdir(parents=True)
    with zipfile.ZipFile(store.folder / "hollow.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta_of(result)))
    assert store.info("hollow").test_accuracy == 0.5  # it lists fine...
    with pytest.raises(StoreError, match="hollow.keras could not be loaded"):
        store.load("hollow")  # ...but is no model


def test_loading_uses_keras_safe_mode(store, result, monkeypatch):
    import keras

    calls = []
    real_load = keras.saving.load_model

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(keras.saving, "load_model", spy)
    store.save("safe", result)
    store.load("safe")
    assert len(calls) == 1 and calls[0].get("safe_mode") is True


def test_safe_mode_refuses_a_model_that_carries_code(store, result):
    """A Lambda layer stores Python bytecode; safe mode must not run it."""
    import keras

    inputs = keras.Input(shape=(28, 28))
    flat = keras.layers.Lambda(lambda x: keras.ops.reshape(x, (-1, 784)), output_shape=(784,))(inputs)
    outputs = keras.layers.Dense(10)(flat)
    store.folder.mkdir(parents=True)
    path = store.folder / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta_of(result)))
    assert [info.name for info in store.list().models] == ["lambda"]
    assert keras.saving.load_model(path, safe_mode=False) is not None  # it is a loadable model...
    with pytest.raises(StoreError, match="could not be loaded.*arbitrary code"):
        store.load("lambda")  # ...that the store will not run


def test_default_folder(monkeypatch, private_models_dir):
    assert ModelStore().folder == private_models_dir  # MNIST_MODELS_DIR
    monkeypatch.delenv(store_module.MODELS_DIR_VARIABLE)
    assert ModelStore().folder == Path("models")
    assert ModelStore(private_models_dir / "elsewhere").folder == private_models_dir / "elsewhere"


def test_listing_a_missing_folder_is_empty(tmp_path):
    listing = ModelStore(tmp_path / "never-created").list()
    assert listing.models == [] and listing.problems == []


def test_listing_does_not_import_tensorflow(store, result):
    store.save("listed", result)
    code = (
        "import sys; from core.model.store import ModelStore; "
        f"names = [info.name for info in ModelStore({str(store.folder)!r}).list().models]; "
        "print(names, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "['listed'] False False"


def test_metadata_carries_its_format_version_and_older_files_still_list(store, result):
    info = store.save("versioned", result)
    with zipfile.ZipFile(info.path) as archive:
        assert json.loads(archive.read(META_ENTRY))["version"] == store_module.META_VERSION
    store.folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(store.folder / "before-versions.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta_of(result)))  # no "version": saved before the field existed
    assert store.info("before-versions").test_accuracy == 0.5


def test_a_file_from_a_newer_format_is_reported_not_misread(store, result):
    store.folder.mkdir(parents=True)
    with zipfile.ZipFile(store.folder / "future.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps({**meta_of(result), "version": store_module.META_VERSION + 1}))
    listing = store.list()
    assert not listing.models
    assert "newer version" in dict(listing.problems)["future.keras"]


def test_a_model_file_from_another_store_is_added_under_a_free_name(store, result, tmp_path):
    elsewhere = ModelStore(tmp_path / "elsewhere")
    content = elsewhere.save("remote", result).path.read_bytes()
    info = store.add_file("fetched", content)
    assert info.name == "fetched" and info.test_accuracy == result.test_accuracy
    assert predict_proba(store.load("fetched"), make_tiny_data().x_test[:2]).shape == (2, 10)
    with pytest.raises(StoreError, match="already exists"):
        store.add_file("fetched", content)
    with pytest.raises(StoreError, match="damaged or not a model file"):
        store.add_file("junk", b"not a zip")
    assert [path.name for path in store.folder.iterdir()] == ["fetched.keras"]
    assert store.add_new_file("fetched", content).name == "fetched-2"  # a Ray run's model: the next free name
    with pytest.raises(StoreError, match="damaged or not a model file"):
        store.add_new_file("junk", b"not a zip")
    assert sorted(path.name for path in store.folder.iterdir()) == ["fetched-2.keras", "fetched.keras"]


def test_the_owner_is_saved_and_older_files_have_none(store, result):
    assert store.save("ada-model", result, owner="Ada").owner == "Ada"
    assert store.save("nobodys", result).owner == ""
    store.folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(store.folder / "before-owners.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta_of(result)))  # no "owner": saved before the field existed
    assert {info.name: info.owner for info in store.list().models} == {
        "ada-model": "Ada", "nobodys": "", "before-owners": ""}


def test_only_the_owner_renames_or_deletes_a_students_model(store, result):
    store.save("ada-model", result, owner="Ada")
    with pytest.raises(StoreError, match="'ada-model' belongs to Ada: only Ada or the teacher can rename it"):
        store.rename("ada-model", "mine", by="Bob")
    with pytest.raises(StoreError, match="belongs to Ada: only Ada or the teacher can delete it"):
        store.delete("ada-model", by="")
    assert store.rename("ada-model", "ada-best", by="Ada").owner == "Ada"
    store.delete("ada-best", by=None)  # the teacher
    assert store.list().models == []


def test_a_model_without_an_owner_is_shared_unless_the_class_says_otherwise(store, result):
    store.save("nobodys", result)
    with pytest.raises(StoreError, match="has no owner: in this class only the teacher can rename it"):
        store.rename("nobodys", "mine", by="Bob", unowned_shared=False)
    with pytest.raises(StoreError, match="has no owner: in this class only the teacher can delete it"):
        store.delete("nobodys", by="", unowned_shared=False)  # a student who has not typed a name yet
    store.rename("nobodys", "mine", by="Bob")
    store.delete("mine", by="")
    assert store.list().models == []


def test_a_rename_never_replaces_a_model_saved_under_the_new_name_meanwhile(store, result):
    store.save("first", result)
    store.save("second", result)
    with pytest.raises(StoreError, match="'second' already exists"):
        store.rename("first", "second")
    assert {info.name for info in store.list().models} == {"first", "second"}
    assert store.rename("first", "third").name == "third"
    assert not store.path_of("first").exists()


def _rename_at_the_same_moment(folder: str, new_name: str, start, outcomes) -> None:
    """One of two processes renaming the same model (a server each, in effect)."""
    store = ModelStore(folder)
    start.wait()
    try:
        store.rename("shared", new_name)
        outcomes.put("renamed")
    except StoreError as error:
        outcomes.put(str(error))


def test_two_servers_renaming_one_model_at_the_same_moment_never_make_two_copies(store, result):
    """issue 22: 10 of 20 rounds at store level ended with two copies (a link to the new name, then the old removed)."""
    import multiprocessing

    content = store.save("template", result).path.read_bytes()
    context = multiprocessing.get_context("fork")  # plain file work, no TensorFlow in the children
    for round_ in range(20):
        store.path_of("shared").write_bytes(content)
        start, outcomes = context.Barrier(2), context.Queue()
        racers = [context.Process(target=_rename_at_the_same_moment,
                                  args=(str(store.folder), f"round{round_}-{side}", start, outcomes))
                  for side in "ab"]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(60)
        results = sorted(outcomes.get(timeout=10) for _ in racers)
        copies = sorted(path.name for path in store.folder.glob(f"round{round_}-*.keras"))
        assert len(copies) == 1 and not store.path_of("shared").exists(), (round_, copies, results)
        assert results[1] == "renamed" and "no saved model named 'shared'" in results[0], results


def test_the_drawn_accuracy_is_saved_and_older_files_have_none(store, result):
    assert store.save("measured", result, drawn_accuracy=0.875).drawn_accuracy == 0.875
    assert store.save("unmeasured", result).drawn_accuracy is None
    with zipfile.ZipFile(store.folder / "before-drawn.keras", "w") as archive:
        archive.writestr(META_ENTRY, json.dumps(meta_of(result)))  # no "drawn_accuracy": saved before the field
    assert {info.name: info.drawn_accuracy for info in store.list().models} == {
        "measured": 0.875, "unmeasured": None, "before-drawn": None}


def test_a_run_saved_while_others_take_free_names_gets_the_next_one(store, result):
    store.save("lecture", result, owner="Grace")
    store.save("lecture-2", result, owner="Alan")
    saved = store.save_new("lecture", result, owner="Ada")
    assert (saved.name, saved.owner) == ("lecture-3", "Ada")
    assert [path.name for path in store.folder.iterdir() if path.name.startswith(".")] == []  # nothing left behind


def test_three_writers_saving_under_one_name_all_keep_their_models(store, result):
    """issue 22: 3 writers x 150 saves under one free name dropped 41 trained models, each "could not be saved"
    with "Check that ... is writable", which was not the cause. Threads here: the same files and names race."""
    problems, saved = [], []

    def write(writer: int) -> None:
        for _ in range(15):
            try:
                saved.append(store.save_new("lecture", result, owner=f"writer {writer}").name)
            except StoreError as error:
                problems.append(str(error))

    writers = [threading.Thread(target=write, args=(writer,)) for writer in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert problems == [] and len(set(saved)) == 45
    assert len(store.list().models) == 45


def test_a_save_that_fails_says_the_true_cause(store, result, tmp_path):
    blocked = ModelStore(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreError, match=r"could not be saved in .*a-file: File exists; a file stands where the "
                                         r"models folder should be"):
        blocked.save_new("lecture", result)
