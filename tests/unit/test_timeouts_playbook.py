"""playbooks/timeouts.yml and the timeouts role, run for real with ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import longhaul_contract as c

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def play(*args: str, playbook: str = "playbooks/timeouts.yml", inventory: str | None = None, roles_path: str = ""):
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                        "PATH": f"{BIN}:{os.environ['PATH']}"}
    if roles_path:
        env["ANSIBLE_ROLES_PATH"] = roles_path
    cmd = [str(BIN / "ansible-playbook"), playbook, *args]
    if inventory:
        cmd[1:1] = ["-i", inventory]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def role_tasks(tmp_path, role: str, tasks_from: str, *args: str):
    """Run one entry point of a role (e.g. its preflight) on localhost, with only the given extra vars."""
    book = tmp_path / f"{role}-{tasks_from}.yml"
    book.write_text(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: {role}
        tasks_from: {tasks_from}
""")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    return play(*args, playbook=str(book), inventory=str(inventory))


def test_writes_a_contract_in_which_every_rule_holds(tmp_path):
    out = tmp_path / "t.json"
    run = play("-e", "longhaul_request_timeout=300", "-e", "longhaul_lb_type=alb", "-e", f"longhaul_timeouts_json={out}")
    assert run.returncode == 0, run.stdout + run.stderr
    timeouts = json.loads(out.read_text())
    assert timeouts["request_timeout"] == 300 and set(timeouts) == set(c.KEYS)
    assert c.check(timeouts, "alb") == []
    # the table names every hop and every rule's verdict
    for key in c.KEYS:
        assert key in run.stdout
    assert "BROKEN" not in run.stdout and "ok     lb_idle_after_nginx_read" in run.stdout


def test_a_short_lb_idle_timeout_fails_naming_the_rule(tmp_path):
    out = tmp_path / "t.json"
    run = play("-e", "longhaul_request_timeout=120", "-e", '{"longhaul_timeout_overrides": {"lb_idle_timeout": 60}}',
               "-e", f"longhaul_timeouts_json={out}")
    assert run.returncode != 0
    assert "[lb_idle_after_nginx_read]" in run.stdout and "lb_idle_timeout=60" in run.stdout
    assert not out.exists(), "nothing may be written when the contract is broken"


def test_bad_input_fails_with_variable_and_fix():
    run = play("-e", "longhaul_request_timeout=two-minutes")
    assert run.returncode != 0
    assert "longhaul_request_timeout='two-minutes' (str) is not a whole number of seconds" in run.stdout


def test_a_broken_contract_stops_a_play_before_any_host_is_contacted(tmp_path):
    # The host does not exist: if anything tried to reach it, the run would end UNREACHABLE instead.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    ghost:\n      ansible_connection: containers.podman.podman\n"
        "      ansible_host: longhaul-no-such-container\n"
    )
    book = tmp_path / "touch.yml"
    book.write_text(
        "- hosts: all\n  gather_facts: false\n  roles: [timeouts]\n"
        "  tasks:\n    - ansible.builtin.ping:\n"
    )
    run = play("-e", "longhaul_request_timeout=120", "-e", '{"longhaul_timeout_overrides": {"lb_idle_timeout": 60}}',
               playbook=str(book), inventory=str(inventory), roles_path=str(ROOT / "roles"))
    assert run.returncode != 0
    assert "[lb_idle_after_nginx_read]" in run.stdout
    assert "UNREACHABLE" not in run.stdout and "unreachable=0" in run.stdout
