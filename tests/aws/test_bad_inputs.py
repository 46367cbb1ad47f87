"""Bad inputs stop provision.yml before any AWS call: a clear message, and nothing of the stack in the cloud."""

from __future__ import annotations

import pytest

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
