"""Every role's README is its reference: the variables table matches defaults/main.yml, and it shows an example
playbook; no doc cites a file the repository does not have."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def test_the_variables_tables_are_generated_from_the_defaults():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "role_docs.py"), "--check"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_each_role_has_a_readme_with_an_example_playbook(role):
    readme = role / "README.md"
    assert readme.exists(), f"{role.name} has no README.md"
    text = readme.read_text()
    assert "## Example" in text and "```yaml" in text.split("## Example", 1)[1], f"{role.name}: no example playbook"


def test_no_file_cites_a_design_or_stack_file_the_repository_does_not_have():
    files = [p for p in ROOT.rglob("*") if p.is_file() and p.suffix in (".md", ".yml", ".py", ".j2", ".sh")
             and not {".venv", ".git", ".cache"} & set(p.parts)]
    for path in files:
        for name in re.findall(r"\b([A-Za-z_/.-]*(?:DESIGN\.md|group_vars/all/stack\.yml))", path.read_text()):
            assert (ROOT / name).exists() or (path.parent / name).exists(), f"{path.relative_to(ROOT)} cites {name}"
