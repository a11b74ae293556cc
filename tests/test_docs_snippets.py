"""The Python blocks of the guides run as written: each guide's blocks, in order, in one fresh
interpreter started in the repository root (a block may use what an earlier one defined).  They
run as a module would be imported (``__name__`` is not ``"__main__"``), so a block showing the
end of a tool script (``if __name__ == "__main__": ...``) does not start the tool."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ["docs/adding-ops.md", "docs/writing-passes.md"]


def blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


@pytest.mark.parametrize("guide", GUIDES)
def test_python_blocks_run_as_written(guide: str, tmp_path: Path) -> None:
    code = blocks(ROOT / guide)
    assert code, f"{guide} has no python block"
    script = tmp_path / "guide.py"
    script.write_text("\n\n".join(code))
    runner = f"import runpy; runpy.run_path({str(script)!r}, run_name='guide')"
    run = subprocess.run([sys.executable, "-c", runner], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{guide}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
