"""The README's code runs as written (against a tiny model standing in for the published one)."""

import re
from pathlib import Path

import pytest
from helpers import run_python
from pydicom.data import get_testdata_file


pytestmark = pytest.mark.compat
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(name: str) -> str:
    match = re.search(rf"<!-- tested: {name}\b.*?-->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"README has no block marked 'tested: {name}'"
    return match.group(1)


def test_grounding_quickstart_runs_on_a_dicom(tiny_dir, tmp_path):
    code = readme_block("grounding-quickstart")
    code = code.replace('"genmilab/MedMO-8B"', repr(str(tiny_dir))).replace('"chest.dcm"', repr(get_testdata_file("RG1_UNCR.dcm")))
    code = code.replace("max_new_tokens=256", "max_new_tokens=8")
    run_python(code, cwd=tmp_path)
    from PIL import Image

    with Image.open(tmp_path / "findings.png") as overlay:
        assert overlay.size == (1841, 1955)  # drawn on the original radiograph
