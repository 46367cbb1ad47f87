"""Bad inputs stop provision.yml before any AWS call: a clear message, and nothing of the stack in the cloud."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import stack  # tests/aws/stack.py (conftest puts it on the path)

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


# site.yml checks the AWS tier's inputs (playbooks/preflight.yml) before the bake, and the bake checks the host
# roles' inputs before a builder exists: a bad input of any kind leaves no builder, no image, no AMI and no
# resource. Read-only calls (the AZ layout) may run; nothing else that is not a check.
SITE_CASES = {
    "contract": ({"longhaul_request_timeout": -5}, "longhaul_request_timeout"),
    "seed-az-mismatch": ({"longhaul_lb_type": "clb", "aws_network_lb_azs": ["us-east-1a", "us-east-1b", "us-east-1c"],
                          "aws_network_app_azs": ["us-east-1a", "us-east-1b"]}, "lb_az_has_instances"),
    "load-balancer": ({"longhaul_lb_type": "nlb", "aws_lb_certificate_arn": "not-an-arn"}, "aws_lb_certificate_arn"),
    "rollout": ({"rollout_min_healthy_percentage": 150}, "rollout_min_healthy_percentage=150"),
    "host-role": ({"nginx_listen_port": 70000}, "nginx_listen_port=70000"),
}


def reads_or_checks(run) -> list[tuple[str, str]]:
    """Tasks of the run that neither check nor only read (*_info modules read)."""
    return [(n, r.get("action")) for n, r in run.tasks if not r.get("skipped") and r.get("action") not in PURE
            and not str(r.get("action", "")).endswith("_info")]


@pytest.mark.parametrize("case", list(SITE_CASES))
def test_site_refuses_a_bad_input_before_the_bake(cloud, case):
    extra, words = SITE_CASES[case]
    before = stack.snapshot(cloud.clients)
    run = cloud.play("../site", longhaul_cloud="local", flask_app_local_dir=str(ROOT / "examples" / "app"), **extra)
    assert run.rc != 0, f"{case}: site.yml accepted {extra}"
    messages = " ".join(str(r.get("msg", "")) + str(r.get("argument_errors", "")) for _, r in run.failed)
    assert words in messages, f"{case}: the refusal does not name {words!r}: {messages}"
    assert reads_or_checks(run) == [], f"{case}: site.yml changed something before the refusal"
    assert stack.diff(before, stack.snapshot(cloud.clients)) == {}, f"{case}: the refused run left something"
    containers = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=longhaul.local={cloud.stack}"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert containers == [], f"{case}: a builder container exists"


def group_state(cloud) -> dict:
    """What a rollout or a teardown would change: every resource, and the group's template version, size and
    instances. (moto has no instance refreshes: DescribeInstanceRefreshes answers 500.)"""
    group = cloud.clients["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
    return {"resources": stack.snapshot(cloud.clients),
            "groups": [(g["AutoScalingGroupName"], g.get("LaunchTemplate"), g["MinSize"], g["DesiredCapacity"],
                        sorted(i["InstanceId"] for i in g["Instances"])) for g in group]}


# rollout.yml and teardown.yml on a provisioned stack: a bad input is refused before the first change. A broken
# contract stops a rollout (it needs the contract's warmup); teardown reads no contract, so it is not among its
# cases: a stack can always be deleted.
EXISTING_STACK_CASES = [
    ("rollout", {"longhaul_request_timeout": -5}, "longhaul_request_timeout"),
    ("rollout", {"rollout_min_healthy_percentage": 150}, "rollout_min_healthy_percentage=150"),
    ("rollout", {"rollout_timeout": 0}, "rollout_timeout=0"),
    ("teardown", {"longhaul_stack_name": "Bad Name!"}, "longhaul_stack_name"),
    ("teardown", {"teardown_retries": "many"}, "teardown_retries"),
]


def test_rollout_and_teardown_refuse_a_bad_input_before_changing_the_stack(cloud):
    assert cloud.provision().rc == 0
    # A second AMI, so a rollout that got through would start an instance refresh.
    new_ami = cloud.clients["ec2"].register_image(
        Name="longhaul-test-2", RootDeviceName="/dev/xvda", VirtualizationType="hvm", Architecture="x86_64",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}])["ImageId"]
    for playbook, extra, words in EXISTING_STACK_CASES:
        before = group_state(cloud)
        run = cloud.play(playbook, longhaul_ami_id=new_ami, **extra)
        assert run.rc != 0, f"{playbook} accepted {extra}"
        messages = " ".join(str(r.get("msg", "")) + str(r.get("argument_errors", "")) for _, r in run.failed)
        assert words in messages, f"{playbook} {extra}: the refusal does not name {words!r}: {messages}"
        assert reads_or_checks(run) == [], f"{playbook} {extra}: changed something before the refusal"
        assert group_state(cloud) == before, f"{playbook} {extra}: the refused run changed the stack"
    # Control: with good inputs the same runs reach their changes. moto implements no instance refresh, so the
    # rollout's control is that it gets as far as starting one; the teardown deletes the stack.
    good = cloud.play("rollout", longhaul_ami_id=new_ami)
    reached = [n for n, r in good.tasks if not r.get("skipped")]
    assert any(n.endswith("Start the instance refresh") for n in reached), reached
    assert cloud.play("teardown").rc == 0
    assert cloud.resources() == {}
