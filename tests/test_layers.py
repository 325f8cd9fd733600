"""The code's shape: the layers' contracts hold (import-linter), and nothing edits sys.path to find the project."""

import re
import shutil
import subprocess

import pytest

from helpers.paths import ROOT


def test_the_import_contracts_in_pyproject_hold():
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.fail("lint-imports is missing: pip install -r requirements-dev.txt")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_of_the_project_edits_sys_path():
    # The project is installed (pip install -e .); only the tests' child scripts, run from a string, may set a path.
    editors = [path.relative_to(ROOT) for folder in ("core", "dashboard", "bench", "harness")
               for path in (ROOT / folder).rglob("*.py") if re.search(r"^\s*sys\.path\.(insert|append)", path.read_text(), re.M)]
    assert editors == []


def test_every_page_is_one_function_called_at_its_bottom():
    for page in sorted((ROOT / "dashboard" / "views").glob("*.py")):
        if page.name == "__init__.py":
            continue
        lines = [line for line in page.read_text().splitlines() if line.strip()]
        assert re.fullmatch(r"[a-z_]+\(\)", lines[-1]), f"{page.name} ends with {lines[-1]!r}, not a call of its page function"
        top_level_calls = [line for line in lines if re.match(r"^[a-z_.]+\(", line)]
        assert top_level_calls == [lines[-1]], f"{page.name} runs more than its page function: {top_level_calls}"


def test_the_architecture_document_names_every_subpackage_of_core():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for package in sorted(path.parent.name for path in (ROOT / "core").glob("*/__init__.py")):
        assert f"core/{package}/" in text, f"docs/architecture.md does not describe core/{package}/"
