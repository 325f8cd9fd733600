"""python -m core, run as a student would: real processes on tiny digits and a private models folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.drawing.preprocess import canvas_to_mnist
from core.model.config import describe, preset
from core.model.predict import predict_proba
from core.model.store import ModelStore
from helpers.cli import RESULT_LINE, run_cli
from helpers.digits import draw_png, make_tiny_data
from helpers.paths import ROOT


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Tiny digits as an npz, a models folder, and one model trained and saved through the CLI."""
    folder = tmp_path_factory.mktemp("cli")
    tiny = make_tiny_data()
    data = folder / "tiny.npz"
    np.savez(data, X_train=tiny.x_train, y_train=tiny.y_train, X_test=tiny.x_test, y_test=tiny.y_test)
    models = folder / "models"
    trained = run_cli(
        "train", "--preset", "lecture", "--epochs", "2", "--lr", "0.3", "--batch-size", "16", "--seed", "3",
        "--data", data, "--save", "tiny", models=models,
    )
    return {"folder": folder, "data": data, "models": models, "train": trained}


def stderr_lines(completed: subprocess.CompletedProcess) -> list[str]:
    return [line for line in completed.stderr.split("\n") if line.strip()]


def test_train_prints_progress_then_accuracies(workspace):
    trained = workspace["train"]
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.strip().splitlines()
    match = RESULT_LINE.match(lines[-1])
    assert match, lines[-1]
    assert f"Accuracy on test data: {match.group(1)}" in lines
    assert any(line.startswith("Accuracy on training data: ") for line in lines)
    assert float(match.group(1)) >= 0.9
    assert "trained 36 steps" in trained.stdout  # 2 epochs of 300 // 16 batches: the flags were used
    estimate = next(index for index, line in enumerate(lines) if line.startswith("estimate: "))
    assert re.fullmatch(r"estimate: about \d+(\.\d)? (s|min|h) here", lines[estimate]), lines[estimate]
    assert estimate < next(index for index, line in enumerate(lines) if line.startswith("trained "))
    # stderr holds the progress bar, redrawn with carriage returns, and nothing else (no TensorFlow notes).
    assert "\r" in trained.stderr and "epoch 2/2 [" in trained.stderr and "100%" in trained.stderr
    assert all(line.startswith("\repoch ") for line in stderr_lines(trained)), trained.stderr[:500]


def test_train_takes_the_quick_cnn_preset(workspace):
    trained = run_cli("train", "--preset", "quick-cnn", "--epochs", "1", "--batch-size", "32",
                      "--data", workspace["data"], models=workspace["models"])
    assert trained.returncode == 0, trained.stderr
    assert f"model: {describe(preset('quick-cnn').replace(epochs=1, batch_size=32))}" in trained.stdout
    assert "trained 9 steps" in trained.stdout  # 300 // 32 batches


def test_train_saved_the_model_with_its_config(workspace):
    info = ModelStore(workspace["models"]).info("tiny")
    assert (info.config.epochs, info.config.learning_rate, info.config.batch_size, info.config.seed) == (2, 0.3, 16, 3)
    accuracy = RESULT_LINE.match(workspace["train"].stdout.strip().splitlines()[-1]).group(1)
    assert f"{info.test_accuracy:.4f}" == accuracy
    assert len(info.batch_losses) == 36


def test_evaluate_prints_test_and_per_class_accuracy(workspace):
    evaluated = run_cli("evaluate", "--model", "tiny", "--data", workspace["data"], models=workspace["models"])
    assert evaluated.returncode == 0, evaluated.stderr
    assert stderr_lines(evaluated) == []
    lines = evaluated.stdout.splitlines()
    assert "per-class accuracy (recall):" in lines
    per_class = [line for line in lines if re.fullmatch(r"  \d: [01]\.\d{4}", line)]
    assert [line.split(":")[0].strip() for line in per_class] == [str(digit) for digit in range(10)]
    # The same model on the same digits: the accuracy training printed.
    assert lines[-1] == workspace["train"].stdout.strip().splitlines()[-1]


def test_predict_reads_a_drawn_digit_through_canvas_to_mnist(workspace):
    png = draw_png(workspace["folder"] / "seven.png")
    predicted = run_cli("predict", png, "--model", "tiny", models=workspace["models"])
    assert predicted.returncode == 0, predicted.stderr
    assert stderr_lines(predicted) == []
    match = re.fullmatch(r"digit: (\d) \(probability (\d\.\d{3})\)", predicted.stdout.strip())
    assert match, predicted.stdout
    digit = canvas_to_mnist(np.asarray(Image.open(png).convert("RGBA")))
    probabilities = predict_proba(ModelStore(workspace["models"]).load("tiny"), digit[None])[0]
    assert int(match.group(1)) == int(np.argmax(probabilities))
    assert match.group(2) == f"{probabilities.max():.3f}"


def test_list_shows_models_and_reports_a_broken_file(workspace, tmp_path):
    models = tmp_path / "listed"
    models.mkdir()
    (models / "tiny.keras").write_bytes((workspace["models"] / "tiny.keras").read_bytes())
    (models / "broken.keras").write_bytes(b"not a zip")
    listed = run_cli("list", models=models)
    assert listed.returncode == 0
    assert listed.stdout.startswith("tiny\ttest ")
    assert stderr_lines(listed) == [listed.stderr.strip()] and listed.stderr.startswith("skipped broken.keras: ")


ERRORS = {
    "missing data file": (["train", "--data", "{folder}/absent.npz"], "absent.npz"),
    "data file not an npz": (["train", "--data", "{folder}/notes.npz"], "not an npz file"),
    "zero epochs": (["train", "--epochs", "0", "--data", "{data}"], "epochs"),
    "negative learning rate": (["train", "--lr", "-1", "--data", "{data}"], "learning_rate"),
    "zero batch size": (["train", "--batch-size", "0", "--data", "{data}"], "batch_size"),
    "unknown preset": (["train", "--preset", "resnet"], "resnet"),
    "bad hidden sizes": (["train", "--hidden", "64,x"], "64,x"),
    "bad save name": (["train", "--save", "../escape", "--data", "{data}"], "not a usable model name"),
    "unknown model (evaluate)": (["evaluate", "--model", "nope"], "nope"),
    "bad data (evaluate)": (["evaluate", "--model", "tiny", "--data", "{folder}/absent.npz"], "absent.npz"),
    "unknown model (predict)": (["predict", "{folder}/seven.png", "--model", "nope"], "nope"),
    "not an image": (["predict", "{folder}/notes.npz", "--model", "tiny"], "not an image"),
    "blank image": (["predict", "{folder}/blank.png", "--model", "tiny"], "blank"),
    "no model given": (["predict", "{folder}/seven.png"], "--model"),
    "no command": ([], "required"),
    "empty save name": (["train", "--save", "", "--data", "{data}"], "not a usable model name"),
    "seed beyond 64 bits": (["train", "--seed", str(2**64), "--data", "{data}"], "argument --seed: seed must be"),
    "negative seed": (["train", "--seed", "-1"], "argument --seed: seed must be"),
    "data from a device": (["train", "--data", "/dev/zero"], "not a plain file"),
    "timedelta images": (["train", "--data", "{folder}/timedelta.npz"], "timedelta64"),
    "complex images (evaluate)": (["evaluate", "--model", "tiny", "--data", "{folder}/complex.npz"], "complex128"),
    "image from a device": (["predict", "/dev/zero", "--model", "tiny"], "not a plain file"),
    "image that is a folder": (["predict", "{folder}", "--model", "tiny"], "not a plain file"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_an_error_is_one_line_and_exit_status_2(workspace, case):
    folder = workspace["folder"]
    (folder / "notes.npz").write_text("not digits")
    draw_png(folder / "seven.png")
    draw_png(folder / "blank.png", strokes=())
    tiny = make_tiny_data()
    for dtype, name in (("timedelta64[ns]", "timedelta.npz"), ("complex128", "complex.npz")):
        np.savez(folder / name, X_train=tiny.x_train.astype(dtype), y_train=tiny.y_train, X_test=tiny.x_test,
                 y_test=tiny.y_test)
    args, expected = ERRORS[case]
    args = [arg.format(folder=folder, data=workspace["data"]) for arg in args]
    failed = run_cli(*args, models=workspace["models"])
    assert failed.returncode == 2, (failed.stdout, failed.stderr)
    assert "Traceback" not in failed.stderr
    lines = stderr_lines(failed)
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]


def test_an_empty_save_name_is_refused_before_training(workspace):
    refused = run_cli("train", "--save", "", "--data", workspace["data"], models=workspace["models"])
    assert refused.returncode == 2 and refused.stdout == ""  # not even the data was read


def test_a_seed_out_of_range_is_refused_before_tensorflow_loads(workspace):
    script = ("import sys; from core.cli import main\n"
              "try:\n status = main(['train', '--seed', str(2**64)])\n"
              "except SystemExit as exit:\n status = exit.code\n"
              "print(status, 'tensorflow' in sys.modules)")
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.stdout.split() == ["2", "False"], child.stdout + child.stderr


def image_in_mode(mode: str, path: Path) -> Path:
    """The drawn seven of draw_png, converted to PIL ``mode`` and saved in a format that stores that mode."""
    drawing = Image.open(draw_png(path.with_suffix(".rgba.png"))).convert("L")
    converted = drawing.convert(mode)
    if mode == "P":
        converted.info["transparency"] = bytes([0] + [255] * 255)  # a see-through background, opaque strokes
    converted.save(path)
    return path


@pytest.mark.parametrize("mode, suffix", [("1", "png"), ("P", "png"), ("LA", "png"), ("I;16", "png"),
                                          ("I", "tif"), ("F", "tif"), ("CMYK", "jpg")])
def test_predict_reads_an_image_of_any_mode(workspace, tmp_path, capsys, mode, suffix):
    """In this process (one TensorFlow start for all modes): a digit on stdout, nothing on stderr."""
    from core.cli import main

    image = image_in_mode(mode, tmp_path / f"seven.{suffix}")
    assert main(["predict", str(image), "--model", "tiny", "--models-dir", str(workspace["models"])]) == 0
    printed = capsys.readouterr()
    assert re.fullmatch(r"digit: \d \(probability \d\.\d{3}\)", printed.out.strip()), printed.out
    assert printed.err == ""


def test_a_diverging_run_ends_with_one_error_line(workspace):
    failed = run_cli(
        "train", "--hidden", "128,128,128,128", "--activation", "relu", "--lr", "10", "--epochs", "3",
        "--data", workspace["data"], models=workspace["models"],
    )
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    *progress, last = stderr_lines(failed)
    assert all(line.startswith("\repoch ") for line in progress), failed.stderr[:500]  # the bar, ended cleanly
    assert last.startswith("error: Training diverged")
    assert "learning rate 10" in last and "lower" in last
    assert "test_accuracy=" not in failed.stdout


def test_the_installed_mnist_classroom_command_is_python_m_core(tmp_path):
    """pyproject.toml's console script runs the same CLI, from any folder (the project is installed)."""
    command = shutil.which("mnist-classroom")
    assert command, "mnist-classroom is not on PATH: install the project with pip install -e ."
    env = {**os.environ, "MNIST_MODELS_DIR": str(tmp_path / "models")}
    listed = subprocess.run([command, "list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == run_cli("list", models=tmp_path / "models").stdout
    help_text = subprocess.run([command, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120).stdout
    assert all(verb in help_text for verb in ("train", "evaluate", "predict", "list"))
