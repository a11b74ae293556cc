"""The bench scripts refuse unreasonable arguments with one argparse error (exit 2) instead of a
traceback from inside a measurement, and run on small reasonable ones (the scripted LLM session
on any number of GPT-2 blocks)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

BAD_ARGS = [
    ("llm_loop", ["--layers", "0"]),
    ("llm_loop", ["--repeat", "0"]),
    ("llm_loop", ["--layers", "two"]),
    ("verify_scale", ["--repeat", "0"]),
    ("verify_scale", ["--sizes", "10", "-5"]),
    ("query_scale", ["--kinds", "bogus"]),
    ("query_scale", ["--sizes", "1000,0"]),
    ("query_scale", ["--sizes", ","]),
    ("text_size", ["--models", "bogus"]),
    ("text_size", ["--show", "bogus"]),
    ("import_lower", ["--runs", "0"]),
    ("import_lower", ["--models", "gpt2,nope"]),
    ("fusion", ["--runs", "0"]),
    ("fusion", ["--workloads", "bogus"]),
    ("fusion", ["--max-ops", "1"]),
    ("fusion", ["--threads", "-1"]),
]


@pytest.mark.parametrize("script, argv", BAD_ARGS)
def test_bad_arguments_are_usage_errors(script: str, argv: list[str], capsys) -> None:
    mod = importlib.import_module(script)
    with pytest.raises(SystemExit) as e:
        mod.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error: argument" in err


def test_fusion_json_path_is_checked_before_measuring(tmp_path: Path, capsys) -> None:
    fusion = importlib.import_module("fusion")
    assert fusion.main(["--quick", "--json", str(tmp_path / "missing" / "r.json")]) == 2
    assert "GS002" in capsys.readouterr().err


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_scripted_llm_session_on_few_blocks(layers: int, capsys) -> None:
    llm_loop = importlib.import_module("llm_loop")
    assert llm_loop.gpt2_session(layers, 1, d=96)  # 12 heads of 8 is True
    out = capsys.readouterr().out
    assert f"{layers} blocks" in out and "attempt 2 (accepted" in out
