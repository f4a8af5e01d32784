"""README, CI and packaging agree: CI runs the README's commands, and the dev extra holds what the
tests need (the train extra's plotting included), so the README's test command passes on a fresh
machine and not only on one that has a package installed by hand."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.commands((ROOT / "README.md").read_text())


def _extras() -> dict[str, list[str]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return meta["optional-dependencies"]


def _names(reqs):
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in reqs}


def test_readme_has_the_two_setup_commands():
    cmds = _readme_commands()
    assert len(cmds) == 2
    assert cmds[0].startswith("pip install -e . && rtstyle video samples/")
    assert cmds[1] == "pip install -e '.[dev]' && python -m pytest -q"
    src = re.search(r"samples/\S+\.mp4", cmds[0]).group(0)
    assert (ROOT / src).exists()


def test_ci_runs_what_the_readme_says():
    run = (ROOT / ".ci" / "run").read_text()
    assert "readme_commands.py README.md" in run
    assert "python3 -m venv" in run and "--system-site-packages" not in run
    assert "check_video.py" in run


def test_dev_extra_covers_the_train_extra():
    extras = _extras()
    missing = _names(extras["train"]) - _names(extras["dev"])
    assert not missing, f"tests run `rtstyle train`, so dev needs {sorted(missing)}"


def test_train_extra_has_the_loss_plot():
    assert "matplotlib" in _names(_extras()["train"])
