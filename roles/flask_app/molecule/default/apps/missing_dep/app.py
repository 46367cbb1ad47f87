"""An app whose dependency is not installed (no requirements file names it): the release must be refused."""

import longhaul_verify_no_such_dependency  # noqa: F401

app = None
