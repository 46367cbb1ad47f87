#!/usr/bin/env python3
"""Write (or --check) the "Variables" table of every role's README from its defaults/main.yml.

Each variable's row holds its name, its default as written and the comment lines right above it, so the README
cannot drift from the defaults (tests/unit/test_role_docs.py runs --check). The table stands between two
markers; a README without them gets a "## Variables" section at its end.

Usage: scripts/role_docs.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- variables: generated from defaults/main.yml by scripts/role_docs.py (make docs) -->"
END = "<!-- end of variables -->"


def variables(defaults: str) -> list[tuple[str, str, str]]:
    """(name, default as written, comment above it) for each top-level variable of a defaults file."""
    out: list[tuple[str, str, str]] = []
    comment: list[str] = []
    lines = defaults.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("#"):
            comment.append(line.lstrip("#").strip())
            continue
        match = re.match(r"^([a-z][a-z0-9_]*):\s?(.*)$", line)
        if not match:
            comment = []
            continue
        value = match.group(2).strip()
        if value in (">-", ">", "|", "|-"):
            block = []
            while i < len(lines) and lines[i].startswith("  "):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(block)
        out.append((match.group(1), value, " ".join(c for c in comment if c)))
        comment = []
    return out


def table(rows: list[tuple[str, str, str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    body = [f"| `{name}` | `{cell(value)}` | {cell(what) or 'see the row above'} |" for name, value, what in rows]
    return "\n".join([BEGIN, "", "| variable | default | what it is |", "| --- | --- | --- |", *body, "", END])


def render(readme: str, rows: list[tuple[str, str, str]]) -> str:
    generated = table(rows)
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        return head + generated + rest.split(END, 1)[1]
    return readme.rstrip("\n") + "\n\n## Variables\n\n" + generated + "\n"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print(__doc__, file=sys.stderr)
        return 2
    stale = []
    for defaults in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        role = defaults.parent.parent
        readme = role / "README.md"
        old = readme.read_text() if readme.exists() else f"# {role.name}\n"
        new = render(old, variables(defaults.read_text()))
        if new != old:
            stale.append(str(readme.relative_to(ROOT)))
            if not check:
                readme.write_text(new)
    if check and stale:
        print("README variables out of date (run make docs): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
