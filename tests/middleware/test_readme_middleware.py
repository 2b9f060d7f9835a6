"""Every code block of the README's middleware sections runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Extending: middleware"


def section_blocks() -> list[str]:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


BLOCKS = section_blocks()


def test_the_section_has_its_examples() -> None:
    assert len(BLOCKS) == 3  # timing/metrics, tracing, signing


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"README.md middleware example {index}", "exec"), {})
