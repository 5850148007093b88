"""The repository's promises to a new user: the README's commands, its settings table, generated code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from newsdedup.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The shell commands of the README's first code blocks, before its first section heading."""
    opening = (ROOT / "README.md").read_text().split("\n## ")[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", opening, re.S)]


def test_readme_opens_with_exactly_the_serve_and_test_commands() -> None:
    serve, tests = readme_commands()
    assert serve.endswith("newsdedup serve") and "pip install ." in serve
    assert "pip install -e '.[test]'" in tests and tests.endswith("-m pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, f".ci/run must run the README's test command: {tests}"


def test_readme_settings_table_matches_the_settings_class() -> None:
    """Every setting is in the README with its flag, variable and default, and nothing else is."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `--([a-z-]+)` \| `(NEWSDEDUP_[A-Z_]+)` \| `([^`]*)` \| (.+) \|$", readme, re.M)
    documented = {flag: (env, default, meaning) for flag, env, default, meaning in rows}
    expected = {}
    for name, kind, default, help_text in Settings.describe():
        shown = repr(default) if kind is str else str(default)
        expected[name.replace("_", "-")] = (Settings.env_var(name), shown, help_text)
    assert documented == expected


def test_generated_code_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_protos.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
