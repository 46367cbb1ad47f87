"""Bad inputs stop provision.yml before any AWS call: a clear message, and nothing of the stack in the cloud."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Tasks that may run before the refusal: pure checks. Any cloud module running means an API call was made.
CLOUD_ACTION_PREFIXES = ("amazon.aws.", "community.aws.", "elbv2_listener_attributes")

CASES = {
    # The seed's configuration: the Classic ELB enabled in three AZs, the instances' subnets in two.
    "seed-az-mismatch": (
        {"longhaul_lb_type": "clb",
         "aws_network_lb_azs": ["us-east-1a", "us-east-1b", "us-east-1c"],
         "aws_network_app_azs": ["us-east-1a", "us-east-1b"]},
        ["lb_az_has_instances", "us-east-1c"],
    ),
    # CLB without cross-zone: each LB AZ needs an instance, so min_size below the AZ count is refused.
    "min-size-below-azs": (
        {"longhaul_lb_type": "clb", "aws_lb_cross_zone": False, "aws_asg_min_size": 1,
         "aws_network_lb_azs": ["us-east-1a", "us-east-1b"]},
        ["min_size_per_lb_az", "aws_asg_min_size=1"],
    ),
    # T=3600 on a CLB needs an idle timeout above the CLB maximum of 3600 s.
    "idle-above-clb-max": (
        {"longhaul_lb_type": "clb", "longhaul_request_timeout": 3600},
        ["lb_idle_within_limits"],
    ),
    "unknown-lb-type": (
        {"longhaul_lb_type": "elb"},
        ["longhaul_lb_type", "elb"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_before_any_api_call(cloud, case):
    extra, words = CASES[case]
    run = cloud.provision(**extra)
    assert run.rc != 0, f"{case}: provision.yml accepted a bad input"
    assert len(run.failed) == 1
    name, result = run.failed[0]
    message = str(result.get("msg", "")) + str(result.get("argument_errors", ""))
    for word in words:
        assert word in message, f"{case}: {word!r} missing from the refusal of task {name!r}: {message}"
    cloud_tasks = [(n, r["action"]) for n, r in run.tasks
                   if not r.get("skipped") and str(r.get("action", "")).startswith(CLOUD_ACTION_PREFIXES)]
    assert cloud_tasks == [], f"{case}: cloud modules ran before the refusal: {cloud_tasks}"
    assert cloud.resources() == {}, f"{case}: the refused run left resources"


def test_a_valid_layout_passes_the_same_checks(cloud):
    """Control for the cases above: the same inputs with the AZs aligned are not refused by the checks."""
    run = cloud.provision(longhaul_lb_type="clb", aws_network_lb_azs=["us-east-1a", "us-east-1b"],
                          aws_network_app_azs=["us-east-1a", "us-east-1b"], aws_lb_cross_zone=False,
                          aws_asg_min_size=2)
    assert run.rc == 0, run.failed
    assert cloud.resources(), "the valid layout created nothing"


# playbooks/bake.yml: a bad input of a host role baked into the image is refused on the controller, before a
# builder exists (no container, no EC2 instance record, no AMI). The checks used to run on the builder.
PURE = {"ansible.builtin.assert", "ansible.builtin.set_fact", "ansible.builtin.validate_argument_spec",
        "ansible.builtin.include_role", "ansible.builtin.include_tasks", "ansible.builtin.debug",
        "ansible.builtin.fail"}
BAKE_CASES = {
    "contract": ({"longhaul_request_timeout": -5}, "longhaul_request_timeout"),
    "flask_app": ({"flask_app_module": "app:"}, "flask_app_module=app:"),
    "uwsgi": ({"uwsgi_threads": 4}, "uwsgi_threads=4"),
    "uwsgi-type": ({"uwsgi_listen": "many"}, "uwsgi_listen"),
    "nginx": ({"nginx_listen_port": 70000}, "nginx_listen_port=70000"),
}


@pytest.mark.parametrize("case", list(BAKE_CASES))
def test_bake_refuses_a_bad_host_role_input_before_a_builder_exists(cloud, case):
    extra, words = BAKE_CASES[case]
    run = cloud.play("bake", longhaul_cloud="local", flask_app_local_dir=str(ROOT / "examples" / "app"), **extra)
    assert run.rc != 0, f"{case}: bake.yml accepted {extra}"
    messages = " ".join(str(r.get("msg", "")) + str(r.get("argument_errors", "")) for _, r in run.failed)
    assert words in messages, f"{case}: the refusal does not name {words!r}: {messages}"
    ran = [(n, r.get("action")) for n, r in run.tasks if not r.get("skipped") and r.get("action") not in PURE]
    assert ran == [], f"{case}: the bake called something before the refusal: {ran}"
    assert cloud.clients["ec2"].describe_instances()["Reservations"] == []
    assert [i["ImageId"] for i in cloud.clients["ec2"].describe_images(Owners=["self"])["Images"]] == [cloud.ami_id]
    containers = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=longhaul.local={cloud.stack}"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert containers == [], f"{case}: a builder container exists"
