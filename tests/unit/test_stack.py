"""The stack's shared conventions (plugins/filter/longhaul_stack.py): one place for every name."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

import longhaul_stack as s
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"name": "shop-prod", "region": "eu-west-1", "controller_env": {}, "lb_type": "alb", "cloud": "aws"}


def test_names_derive_from_the_stack_and_the_lb_type():
    st = s.stack(GOOD)
    assert st["names"]["asg"] == "shop-prod-asg" and st["names"]["launch_template"] == "shop-prod-lt"
    assert st["names"]["lb"] == "shop-prod-alb" and st["names"]["target_group"] == "shop-prod-alb-tg"
    assert st["tags"] == {"longhaul:stack": "shop-prod"} and st["tag_filter"] == {"tag:longhaul:stack": "shop-prod"}
    assert st["local"] == {"prefix": "shop-prod", "network": "shop-prod-net", "base_image": s.DEFAULT_BASE_IMAGE,
                           "labels": {"longhaul.local": "shop-prod"}}


def test_every_name_fits_the_32_characters_of_elb_and_target_group_names():
    longest = s.stack({**GOOD, "name": "a" * 20})
    assert all(len(v) <= 32 for v in longest["names"].values())


def test_the_environment_is_the_region_then_the_inventory_s_own():
    st = s.stack({**GOOD, "controller_env": {"AWS_URL": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"}})
    assert st["aws_env"] == {"AWS_REGION": "us-east-1", "AWS_URL": "http://127.0.0.1:1"}
    assert s.stack(GOOD)["aws_env"] == {"AWS_REGION": "eu-west-1"}


@pytest.mark.parametrize("field,value,rule", [
    ("name", "Shop", "stack_name"), ("name", "a" * 21, "stack_name"), ("name", 7, "stack_name"),
    ("region", "europe", "aws_region"), ("controller_env", ["AWS_URL"], "controller_env"),
    ("lb_type", "elb", "lb_type"), ("cloud", "gcp", "cloud"), ("local_prefix", "Bad_Prefix", "local_prefix"),
    ("platform", "ubuntu-20.04", "platform"), ("platform", "bookworm", "platform"),
])
def test_a_bad_input_is_named_with_its_rule_and_fix(field, value, rule):
    errors = s.errors({**GOOD, field: value})
    assert len(errors) == 1 and errors[0].startswith(f"[{rule}]") and "Fix:" in errors[0]
    with pytest.raises(ValueError):
        s.stack({**GOOD, field: value})


def test_each_convention_is_spelled_once_in_the_roles_and_playbooks():
    """grep proves it: no role or playbook spells <stack>-asg, the stack-name rule or the AWS environment again."""
    files = [p for d in ("roles", "playbooks") for p in (ROOT / d).rglob("*.yml")] + [ROOT / "site.yml"]
    text = {p: p.read_text() for p in files}
    for pattern in (r"longhaul_stack_name \| default", r"\}\}-asg", r"\[a-z\]\[a-z0-9-\]\{0,19\}",
                    r"'AWS_REGION': longhaul_aws_region", r"longhaul_controller_env \| default",
                    r"aws_asg_ami_id", r"longhaul_cloud \| default"):
        hits = [str(p.relative_to(ROOT)) for p, t in text.items() if re.search(pattern, t)]
        assert not hits, f"{pattern} still in {hits}"


def test_a_bad_stack_name_stops_provision_before_any_call(tmp_path):
    run = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "playbooks/provision.yml",
                          "-e", "longhaul_stack_name=Shop_Prod", "-e", "longhaul_ami_id=ami-12345678"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                              "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)})
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "[stack_name] longhaul_stack_name='Shop_Prod'" in out and "Bad stack inputs; nothing was changed." in out


@pytest.mark.parametrize("platform,release,owner,name,user", [
    ("debian-12", "bookworm", "136693071363", "debian-12-amd64-*", "admin"),
    ("ubuntu-22.04", "jammy", "099720109477", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*", "ubuntu"),
    ("ubuntu-24.04", "noble", "099720109477", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*", "ubuntu"),
])
def test_one_platform_name_gives_the_local_image_and_the_aws_base_image_the_bake_starts_from(
        tmp_path, platform, release, owner, name, user):
    """The ami role's AWS defaults are templated from the platform: owner id and name pattern, never an image id."""
    st = s.stack({**GOOD, "platform": platform})
    assert st["platform"] == {"name": platform, "release": release, "aws_base_owner": owner, "aws_base_name": name,
                              "ssh_user": user}
    assert st["local"]["base_image"] == f"localhost/longhaul-base:{release}"
    run = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible"), "localhost", "-c", "local", "-m", "ansible.builtin.debug",
         "-a", "msg={{ [ami_aws_base_owner, ami_aws_base_name, ami_aws_builder_ssh_user] | to_json }}",
         "-e", "@" + str(ROOT / "roles" / "ami" / "defaults" / "main.yml"), "-e", json.dumps({"longhaul_stack": st})],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "ANSIBLE_NOCOLOR": "1",
             "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert f'[\\"{owner}\\", \\"{name}\\", \\"{user}\\"]' in run.stdout, run.stdout


def test_the_shell_scripts_read_the_same_platform_table():
    """localcloud/up and the e2e stack map LONGHAUL_PLATFORM to a release through the filter, not a copy of it."""
    script = ROOT / "plugins" / "filter" / "longhaul_stack.py"
    for platform, info in s.PLATFORMS.items():
        out = subprocess.run([sys.executable, str(script), "release", platform], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.strip() == info["release"]
    bad = subprocess.run([sys.executable, str(script), "release", "centos-9"], capture_output=True, text=True)
    assert bad.returncode == 2 and "debian-12|ubuntu-22.04|ubuntu-24.04" in bad.stderr
    up = subprocess.run([str(ROOT / "localcloud" / "up"), "--check-only"], capture_output=True, text=True, timeout=30,
                        env={"PATH": "/usr/bin:/bin", "LONGHAUL_PLATFORM": "centos-9"})
    assert up.returncode == 2 and "LONGHAUL_PLATFORM=centos-9" in up.stderr and "Fix:" in up.stderr


def test_each_host_role_scenario_runs_on_every_platform():
    """make test converges and verifies the host roles on Debian 12, Ubuntu 22.04 and Ubuntu 24.04."""
    images = {s.base_image(info["release"]) for info in s.PLATFORMS.values()}
    for role in ("flask_app", "uwsgi", "nginx"):
        scenario = yaml.safe_load((ROOT / "roles" / role / "molecule" / "default" / "molecule.yml").read_text())
        assert {p["image"] for p in scenario["platforms"]} == images, role
        assert all(p["systemd"] == "always" and p["capabilities"] == ["SYS_ADMIN"] for p in scenario["platforms"])
