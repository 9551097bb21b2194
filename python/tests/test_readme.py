"""The README's "Your own model" example runs as written and prints what it says it prints."""

import pathlib
import re
import subprocess
import sys

from conftest import missing

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text.split("## Your own model", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m, "README's 'Your own model' section has no python block"
    return m.group(1)


def test_the_readme_example_runs():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        missing("torch and transformers")
    code = readme_example()
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "[]", lines  # snip has no lint warnings
    assert lines[1].startswith("{'snip': 0.30"), lines
    assert "'name': 'evolved'" in lines[2] and "'valid': 4" in lines[2], lines
