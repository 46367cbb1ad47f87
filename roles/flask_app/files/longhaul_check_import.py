"""Check that a release's WSGI entry point imports and resolves to a callable, as uWSGI will load it.

Usage: python longhaul_check_import.py MODULE[:CALLABLE]   (CALLABLE defaults to "application", as in uWSGI)
Run from the release's app directory with its import path set; exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import importlib
import sys


def resolve(entry_point: str):
    """The object ``module:attr`` names (``application`` when no attr is given); raises what the import raises."""
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr or "application")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    app = resolve(argv[0])
    if not callable(app):
        print(f"{argv[0]} is not callable: {type(app).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
