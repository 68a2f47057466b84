"""The README's SDK example runs as written against a live server, so the docs cannot
drift from the code."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from events.models import Metric
from tests.conftest import Account

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_readme_sdk_example_runs_against_the_server(live_server, owner: Account):
    Metric.objects.create(tenant=owner.tenant, key="lessons-completed", name="Lessons")
    [example] = python_blocks(README.read_text())
    code = example.replace("http://127.0.0.1:8000", live_server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"KEY": owner.key})
    total, length = out.getvalue().splitlines()[0].split()
    assert (total, length) == ("1.0", "1")
