"""roles/flask_app/files/longhaul_check_import.py: a release is switched to only when its entry point resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "roles" / "flask_app" / "files" / "longhaul_check_import.py"


def check(tmp_path, source: str, entry: str) -> subprocess.CompletedProcess:
    (tmp_path / "myapp.py").write_text(source)
    return subprocess.run([sys.executable, str(CHECK), entry], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path)}, timeout=30)


def test_a_callable_entry_point_passes(tmp_path):
    assert check(tmp_path, "def app(environ, start_response):\n    return []\n", "myapp:app").returncode == 0


def test_without_a_callable_name_uwsgi_looks_for_application(tmp_path):
    assert check(tmp_path, "application = lambda e, s: []\n", "myapp").returncode == 0
    assert check(tmp_path, "app = lambda e, s: []\n", "myapp").returncode == 1


def test_a_value_that_is_not_callable_is_refused_with_its_type(tmp_path):
    run = check(tmp_path, "app = 42\n", "myapp:app")
    assert run.returncode == 1 and "myapp:app is not callable: int" in run.stderr


def test_an_import_error_fails_with_python_s_message(tmp_path):
    run = check(tmp_path, "import not_installed_anywhere\napp = None\n", "myapp:app")
    assert run.returncode == 1 and "ModuleNotFoundError: No module named 'not_installed_anywhere'" in run.stderr


def test_no_argument_prints_the_usage(tmp_path):
    run = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "Usage: python longhaul_check_import.py" in run.stderr
