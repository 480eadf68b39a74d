"""The README's main-job command works on a fresh clone, exactly as written."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _readme_command(prefix: str) -> str:
    """The command of the README's "Two commands" block that starts with ``prefix``, without
    its comment."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README has no 'Two commands' bash block"
    for line in block.group(1).splitlines():
        if line.startswith(prefix):
            return line.split("#", 1)[0].strip()
    raise AssertionError(f"README names no command starting with {prefix!r}")


@pytest.mark.slow
def test_readme_main_job_runs_on_a_fresh_clone(tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    command = _readme_command("bash scripts/run.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    completed = subprocess.run(
        command,
        shell=True,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    assert "COMPLETED, integrity sound" in output
    result = json.loads((clone / "runs" / "latest" / "result.json").read_text())
    envelopes = (clone / "runs" / "latest" / "envelopes.jsonl").read_bytes()
    assert hashlib.sha256(envelopes).hexdigest() == result["envelopes_sha256"]
    assert result["orders"] > 0 and result["markets"] == 12
