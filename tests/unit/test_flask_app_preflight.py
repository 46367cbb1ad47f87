"""The flask_app role's preflight refuses a local source it cannot find before anything on a host changes; the
bake identifies the app (and the platform) it bakes."""

from __future__ import annotations

import re
from pathlib import Path

from test_timeouts_playbook import play, role_tasks

ROOT = Path(__file__).resolve().parents[2]


def run_preflight(tmp_path, *extra: str):
    return role_tasks(tmp_path, "flask_app", "preflight", *extra)


def test_a_local_source_without_its_directory_is_refused_naming_the_variable(tmp_path):
    # The role has no default app: outside this project's inventories the user names theirs.
    run = run_preflight(tmp_path)
    assert run.returncode != 0
    out = " ".join(run.stdout.split())
    assert "flask_app_local_dir= must be the directory of the app" in out
    assert "(rule: the chosen source must exist on the controller)" in out and "Fix" in out


def test_a_local_source_that_is_not_a_directory_is_refused(tmp_path):
    run = run_preflight(tmp_path, "-e", f"flask_app_local_dir={tmp_path / 'nowhere'}")
    assert run.returncode != 0
    assert f"flask_app_local_dir={tmp_path / 'nowhere'} must be the directory of the app" in " ".join(run.stdout.split())


def test_the_demo_app_directory_passes(tmp_path):
    run = run_preflight(tmp_path, "-e", f"flask_app_local_dir={ROOT / 'examples' / 'app'}")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_bake_refuses_an_app_it_cannot_identify(tmp_path):
    # The AMI is tagged with the app's commit or a digest of its files: with neither, the bake stops first.
    stack = '{"longhaul_stack": {"cloud": "local"}}'
    run = role_tasks(tmp_path, "ami", "preflight", "-e", stack)
    assert run.returncode != 0
    assert "ami_app_commit is empty and ami_app_source_dir= is not a directory" in " ".join(run.stdout.split())
    demo = f"flask_app_local_dir={ROOT / 'examples' / 'app'}"
    named = role_tasks(tmp_path, "ami", "preflight", "-e", stack, "-e", demo)
    assert named.returncode == 0, named.stdout + named.stderr


def test_the_platform_is_part_of_the_bake_id(tmp_path):
    """One app baked on two platforms is two images: an image of one is never reused for the other."""
    book = tmp_path / "identity.yml"
    book.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: ami
        tasks_from: identity
    - ansible.builtin.debug:
        msg: "IDENTITY {{ __ami_tags['longhaul:platform'] }} {{ __ami_tags['longhaul:bake-id'] }}"
""")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    seen = {}
    for platform in ("debian-12", "ubuntu-24.04"):
        run = play("-e", f"longhaul_platform={platform}", "-e", f"flask_app_local_dir={ROOT / 'examples' / 'app'}",
                   playbook=str(book), inventory=str(inventory))
        assert run.returncode == 0, run.stdout + run.stderr
        [(tag, bake_id)] = re.findall(r"IDENTITY (\S+) ([0-9a-f]{12})", run.stdout)
        seen[tag] = bake_id
    assert set(seen) == {"debian-12", "ubuntu-24.04"} and seen["debian-12"] != seen["ubuntu-24.04"], seen
