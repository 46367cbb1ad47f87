"""Check that the installed Ansible collections match the pins in requirements.yml.

The ansible package from PyPI ships the collections; this fails loudly when its versions drift
from requirements.yml (for example after someone bumps one file but not the other).
"""

from __future__ import annotations

import json
import subprocess
import sys

import yaml


def main(path: str) -> int:
    with open(path, encoding="utf-8") as fh:
        wanted = {c["name"]: str(c["version"]) for c in yaml.safe_load(fh)["collections"]}
    out = subprocess.run(
        ["ansible-galaxy", "collection", "list", "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    installed: dict[str, str] = {}
    # ansible-galaxy lists paths by precedence; the first one holding a collection wins, as for ansible.
    for collections in reversed(list(json.loads(out).values())):
        installed.update({name: info["version"] for name, info in collections.items()})
    bad = [f"{n}: wanted {v}, installed {installed.get(n, 'none')}" for n, v in wanted.items()
           if installed.get(n) != v]
    if bad:
        print("collection pins do not match requirements.yml:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    print(f"collections ok: {', '.join(f'{n} {v}' for n, v in wanted.items())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
