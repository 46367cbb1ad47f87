"""One way in: a timeout set as a role variable (group_vars, host_vars, -e) is refused before anything changes.

The host is unreachable on purpose: the refusal must come from the contract, on the controller, before any
connection; a play that got past it would fail on the connection instead, without the message asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import longhaul_contract as c

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FORMER = sorted(c.FORMER_ROLE_VARIABLES) + sorted(c.FORMER_INPUT_COPIES)


def play(playbook: Path | str, inventory: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                        "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def inventory(tmp_path: Path, group_vars: dict) -> Path:
    """An inventory whose one app host cannot be reached, with group_vars/app.yml = group_vars."""
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"app": {"hosts": {"web1": {
        "ansible_host": "192.0.2.1", "ansible_connection": "ssh", "ansible_ssh_common_args": "-o ConnectTimeout=1"}}}}))
    (inv / "group_vars" / "app.yml").write_text(yaml.safe_dump(
        {"longhaul_request_timeout": 120, "longhaul_lb_type": "alb", **group_vars}))
    return inv


def test_every_former_variable_maps_to_a_contract_key_or_input():
    assert set(c.FORMER_ROLE_VARIABLES.values()) <= set(c.DERIVED_KEYS)
    assert set(c.FORMER_INPUT_COPIES.values()) == {"longhaul_lb_type"}
    assert not set(c.FORMER_ROLE_VARIABLES) & set(c.FORMER_INPUT_COPIES)


def test_no_role_default_or_argument_spec_still_holds_a_former_variable():
    for role in (ROOT / "roles").iterdir():
        for rel in ("defaults/main.yml", "meta/argument_specs.yml"):
            path = role / rel
            if not path.exists():
                continue
            data = yaml.safe_load(path.read_text()) or {}
            names = set(data) if rel.startswith("defaults") else {
                o for ep in data["argument_specs"].values() for o in (ep.get("options") or {})}
            assert not names & set(FORMER), f"{path} still has {sorted(names & set(FORMER))}"


def test_group_vars_setting_any_former_timeout_variable_is_refused_before_any_host_is_touched(tmp_path):
    values = {name: ("clb" if name in c.FORMER_INPUT_COPIES else 30) for name in FORMER}
    run = play("playbooks/app_hosts.yml", inventory(tmp_path, values))
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "A timeout is set outside the contract; nothing was changed." in out
    for name, key in c.FORMER_ROLE_VARIABLES.items():
        assert f"{name}=30 is set" in out, name
        assert f"longhaul_timeout_overrides: {{{key}: 30}}" in out, name
    for name in c.FORMER_INPUT_COPIES:
        assert f"{name}=clb is set" in out and "set longhaul_lb_type: clb" in out, name
    # refused in the contract play: the play that would connect to the host never started
    assert "App hosts - flask_app, uwsgi, nginx" not in out and "UNREACHABLE" not in out


@pytest.mark.parametrize("role,name,key", [
    ("nginx", "nginx_uwsgi_read_timeout", "nginx_uwsgi_read_timeout"),
    ("uwsgi", "uwsgi_stop_timeout", "asg_lifecycle_heartbeat"),
    ("aws_lb", "aws_lb_idle_timeout", "lb_idle_timeout"),
    ("aws_asg", "aws_asg_lifecycle_heartbeat", "asg_lifecycle_heartbeat"),
    ("local_lb", "local_lb_deregistration_delay", "lb_deregistration_delay"),
])
def test_each_role_applied_alone_refuses_its_former_variable_given_with_extra_vars(tmp_path, role, name, key):
    playbook = tmp_path / "alone.yml"
    playbook.write_text(yaml.safe_dump([{"name": f"{role} alone", "hosts": "app", "gather_facts": False,
                                         "roles": [{"role": role}]}]))
    run = play(playbook, inventory(tmp_path, {}), "-e", f"{name}=7")
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert f"{name}=7 is set" in out and f"longhaul_timeout_overrides: {{{key}: 7}}" in out
    assert "UNREACHABLE" not in out


def test_the_override_the_message_names_is_checked_by_the_contract(tmp_path):
    """The way in the refusal points to is the checked one: the same 30 s read timeout breaks a rule there."""
    run = play("playbooks/timeouts.yml", inventory(tmp_path, {}), "-e", "longhaul_request_timeout=120",
               "-e", '{"longhaul_timeout_overrides": {"nginx_uwsgi_read_timeout": 30}}')
    out = run.stdout + run.stderr
    assert run.returncode == 2 and "[nginx_read_after_harakiri]" in out and "nginx_uwsgi_read_timeout=30" in out, out
