"""Shared fixtures: the `lpzero` command line (for files lpzero itself writes) and a scratch folder.

The command line is ``$LPZERO_BIN``, else ``../target/release/lpzero`` or ``../target/debug/lpzero``
of this checkout. Tests that need it skip when none is there, unless ``LPZERO_REQUIRE_ALL=1``
(as ``.ci/run`` sets), where a missing binary or package is a failure.
"""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _require_all() -> bool:
    return os.environ.get("LPZERO_REQUIRE_ALL") == "1"


def missing(what: str):
    """Skips (or, under LPZERO_REQUIRE_ALL=1, fails) a test that lacks `what`."""
    if _require_all():
        pytest.fail(f"{what} is missing and LPZERO_REQUIRE_ALL=1")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def lpzero_bin() -> str:
    candidates = [os.environ.get("LPZERO_BIN")] + [str(ROOT / "target" / k / "lpzero") for k in ("release", "debug")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    missing("the lpzero command line (set LPZERO_BIN, or cargo build)")


def run_cli(binary: str, *args: str) -> subprocess.CompletedProcess:
    """Runs the command line and fails the test, with its stderr, when it fails."""
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    assert r.returncode == 0, f"lpzero {' '.join(args)} exited {r.returncode}:\n{r.stderr}"
    return r
