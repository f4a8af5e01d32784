"""Every case of tests/reliability_cases.py: exit code, exactly one stderr line naming the problem,
no traceback, nothing half-written; successes produce the right output. docs/reliability.md
(scripts/reliability_table.py) shows the same cases with the exact messages."""
import re
from unittest import mock

import pytest

from reliability_cases import CASES
from reliability_harness import ROOT, problems, run_case
from rtstyle import cli
from rtstyle.errors import UserError


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One ONNX cache for the module: the mosaic net is exported once, not per case."""
    return tmp_path_factory.mktemp("engines")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case, tmp_path, cache_dir):
    folder = tmp_path / "run"
    folder.mkdir()
    result = run_case(case, folder, cache_dir)
    assert not problems(case, result, folder), (problems(case, result, folder), result.err)


def test_the_checks_catch_a_half_written_file(tmp_path, cache_dir):
    """The harness is not vacuous: a writer that keeps its temporary file on failure is caught."""
    case = next(c for c in CASES if c.id == "disk-full")
    with mock.patch("rtstyle.io.video_writer.VideoWriter.abort", lambda self: None):
        result = run_case(case, tmp_path, cache_dir)
    found = problems(case, result, tmp_path)
    assert any("temporary files left" in p for p in found) and any("files left behind" in p for p in found)


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        cli.main(["--debug", "video", "missing.mp4", "out.mp4", "--style", "mosaic"])


def test_doc_lists_every_case():
    doc = (ROOT / "docs" / "reliability.md").read_text()
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", doc, flags=re.M)
    assert ids == [c.id for c in CASES], "docs/reliability.md is stale: run scripts/reliability_table.py"
