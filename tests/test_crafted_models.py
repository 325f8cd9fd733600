"""Crafted files in the models folder (issue 10): each is skipped with a note, and the CLI's listing and
every page still work; temporary files of saves that died are cleaned up, live ones are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from core.model import store as store_module
from core.model.store import META_ENTRY, ModelStore, StoreError
from helpers.paths import ROOT

PAGES = ["lecture", "digits", "train", "evaluate", "draw", "models"]


def meta_of(result) -> dict:
    return {
        "config": result.config.to_dict(), "train_accuracy": 0.5, "test_accuracy": 0.5,
        "training_seconds": 1.0, "created": "2024-01-01T00:00:00+00:00",
    }


def write_meta(folder, name: str, text: str, compress: int = zipfile.ZIP_STORED) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}.keras", "w", compression=compress) as archive:
        archive.writestr(META_ENTRY, text)


def crafted(folder, result) -> dict[str, str]:
    """Write one file per probe; returns {file name: words its problem must contain}."""
    meta = meta_of(result)
    write_meta(folder, "deep", "[" * 100_000 + "]" * 100_000)
    write_meta(folder, "huge-number", json.dumps(meta)[:-1] + ', "parameters": 1e400}')
    write_meta(folder, "nan-accuracy", json.dumps({**meta, "test_accuracy": float("nan")}))
    write_meta(folder, "accuracy-above-one", json.dumps({**meta, "test_accuracy": 7}))
    write_meta(folder, "string-seconds", json.dumps({**meta, "training_seconds": "soon"}))
    write_meta(folder, "a-list", json.dumps([1, 2, 3]))
    write_meta(folder, "config-a-string", json.dumps({**meta, "config": "mlp"}))
    write_meta(folder, "version-zero", json.dumps({**meta, "version": 0}))
    # issue 22: each of these broke the Models page's table or loss chart for everyone, or became the active model
    write_meta(folder, "many-parameters", json.dumps({**meta, "parameters": 1e300}))
    write_meta(folder, "text-losses", json.dumps({**meta, "batch_losses": ["low", "lower"]}))
    write_meta(folder, "ragged-losses", json.dumps({**meta, "batch_losses": [[2.3, 1.1], 0.5]}))
    write_meta(folder, "huge-losses", json.dumps({**meta, "batch_losses": [2.3, 1e300]}))  # no 4-byte float
    write_meta(folder, "odd-epochs", json.dumps({**meta, "epoch_history": [{"epoch": "one"}]}))
    write_meta(folder, "no-date", json.dumps({**meta, "created": "yesterday"}))
    write_meta(folder, "owner-a-list", json.dumps({**meta, "owner": ["Ada", "Alan"]}))
    # 64 MB of spaces that deflate to 64 kB: refused before it is inflated.
    write_meta(folder, "bomb", json.dumps(meta) + " " * (64 * 2**20), compress=zipfile.ZIP_DEFLATED)
    return {
        "deep.keras": "nested too deep", "huge-number.keras": "not a finite number",
        "nan-accuracy.keras": "not a finite number", "accuracy-above-one.keras": "between 0 and 1",
        "string-seconds.keras": "not a finite number", "a-list.keras": "not an object",
        "config-a-string.keras": "damaged", "version-zero.keras": "older than any", "bomb.keras": "would inflate",
        "many-parameters.keras": "not a whole number from 0 to 10,000,000,000",
        "text-losses.keras": "'low' is not a finite number", "ragged-losses.keras": "[2.3, 1.1] is not a finite number",
        "huge-losses.keras": "too large for a 4-byte float",
        "odd-epochs.keras": "not a record of", "no-date.keras": "Invalid isoformat string",
        "owner-a-list.keras": "owner is a list, not a str",
    }


def test_each_crafted_file_is_skipped_with_a_note(private_models_dir, tiny_result):
    store = ModelStore(private_models_dir)
    store.save("good", tiny_result)
    expected = crafted(store.folder, tiny_result)
    listing = store.list()
    assert [info.name for info in listing.models] == ["good"]
    problems = dict(listing.problems)
    assert set(problems) == set(expected)
    for name, words in expected.items():
        assert words in problems[name], (name, problems[name])
        with pytest.raises(StoreError, match="damaged|older than any"):
            store.info(name.removesuffix(".keras"))


def test_a_save_keeps_its_story_uncompressed_so_the_bomb_check_never_refuses_it(private_models_dir, tiny_result):
    info = ModelStore(private_models_dir).save("plain", tiny_result)
    with zipfile.ZipFile(info.path) as archive:
        assert archive.getinfo(META_ENTRY).compress_type == zipfile.ZIP_STORED


def test_the_cli_lists_the_good_model_and_names_the_bad_files(private_models_dir, tiny_result):
    ModelStore(private_models_dir).save("good", tiny_result)
    expected = crafted(private_models_dir, tiny_result)
    output = subprocess.run([sys.executable, "-m", "core", "list", "--models-dir", str(private_models_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    assert "Traceback" not in output.stdout + output.stderr
    assert "good" in output.stdout
    for name in expected:
        assert name in output.stdout + output.stderr


@pytest.mark.parametrize("page", PAGES)
def test_every_page_still_works_beside_crafted_files(tiny_npz, saved_model, private_models_dir, tiny_result, page):
    crafted(private_models_dir, tiny_result)
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    if page != "lecture":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception
    assert f"**Active model:** {saved_model}" in " ".join(element.value for element in at.sidebar.markdown)


def test_a_crafted_model_is_never_made_active_nor_plotted(tiny_npz, saved_model, private_models_dir, tiny_result):
    crafted(private_models_dir, tiny_result)  # each newer than the good model: the newest becomes active unchecked
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    at.session_state["active_model"] = "many-parameters"  # as if chosen before the file was crafted
    at.switch_page("views/models.py").run()
    assert not at.exception
    assert at.session_state["active_model"] == saved_model
    assert at.multiselect(key="models_compare").options == [saved_model]
    skipped = " ".join(warning.value for warning in at.warning)
    assert "many-parameters.keras is skipped" in skipped and "ragged-losses.keras is skipped" in skipped


def test_a_dead_saves_temporary_file_is_removed_and_a_live_ones_kept(private_models_dir, tiny_result):
    store = ModelStore(private_models_dir)
    store.save("kept", tiny_result)
    dead, live = store.folder / ".kept-dead1234.keras", store.folder / ".kept-live5678.keras"
    dead.write_bytes(b"half a zip")
    live.write_bytes(b"a save still writing")
    long_ago = time.time() - store_module.STALE_SAVE_SECONDS - 60
    os.utime(dead, (long_ago, long_ago))
    listing = store.list()
    assert [info.name for info in listing.models] == ["kept"] and listing.problems == []
    assert not dead.exists() and live.exists()


def test_a_model_saved_under_wider_limits_is_still_listed_and_its_setup_refused_for_a_new_run(private_models_dir,
                                                                                            tiny_result):
    meta = meta_of(tiny_result)
    meta["config"] = {**meta["config"], "dropout": 0.95, "validation_split": 0.6, "learning_rate": 1e-7,
                      "seed": 3_000_000_000}  # each allowed before core.model.config.LIMITS narrowed it
    write_meta(private_models_dir, "older-limits", json.dumps(meta))
    store = ModelStore(private_models_dir)
    listing = store.list()
    assert listing.problems == [] and [info.name for info in listing.models] == ["older-limits"]
    config = listing.models[0].config
    assert (config.dropout, config.seed) == (0.95, 3_000_000_000)
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to 2,147,483,647"):
        config.replace(epochs=1)  # the first field out of today's limits is named
