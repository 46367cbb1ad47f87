"""provision.yml / teardown.yml on the patched moto server, for every LB type.

Expected values come from the contract itself (plugins/filter/longhaul_contract.derive), never from numbers
written here; what the tests declare is which resource consumes which contract key (CONSUMERS).
"""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import longhaul_contract as contract
import pytest
import stack
from fake_uwsgi_stats import StatsServer

ROOT = Path(__file__).resolve().parents[2]

LB_TYPES = ["alb", "clb", "nlb"]

# Which provision task writes which contract keys, per LB type (task names as in the roles).
CONSUMERS: dict[str, dict[str, set[str]]] = {
    "alb": {
        "ALB | load balancer, listeners, idle timeout": {"lb_idle_timeout"},
        "Target group (health check, deregistration delay)": {
            "lb_deregistration_delay", "lb_health_check_interval", "lb_health_check_timeout",
            "lb_healthy_threshold", "lb_unhealthy_threshold"},
    },
    "clb": {
        "CLB | load balancer, health check, idle timeout, connection draining": {
            "lb_idle_timeout", "lb_deregistration_delay", "lb_health_check_interval", "lb_health_check_timeout",
            "lb_healthy_threshold", "lb_unhealthy_threshold"},
    },
    "nlb": {
        "NLB | idle timeout of the TCP listener": {"lb_idle_timeout"},
        "Target group (health check, deregistration delay)": {
            "lb_deregistration_delay", "lb_health_check_interval", "lb_health_check_timeout",
            "lb_healthy_threshold", "lb_unhealthy_threshold"},
    },
}
SCALING_TASK = {"alb": "Scaling | target tracking on ALB requests per target",
                "clb": "Scaling | step policies, one instance out / in",
                "nlb": "Scaling | target tracking on average CPU"}
for _lb in LB_TYPES:
    CONSUMERS[_lb] |= {
        "Termination lifecycle hook (heartbeat from the contract)": {"asg_lifecycle_heartbeat"},
        "Auto Scaling group (ELB health checks, explicit grace period, metrics collection)": {
            "asg_health_check_grace_period"},
        SCALING_TASK[_lb]: {"asg_instance_warmup"},
    }


def expected_changes(lb_type: str, before: dict[str, int], after: dict[str, int]) -> set[str]:
    """Tasks that must report changed when the contract goes from ``before`` to ``after``."""
    moved = {k for k in before if before[k] != after[k]}
    return {task for task, keys in CONSUMERS[lb_type].items() if keys & moved}


def changed_task_names(run, lb_type: str) -> set[str]:
    """The changed tasks of a run, by the names CONSUMERS uses (role prefix dropped)."""
    return {name.split(" : ", 1)[-1] for name in run.changed_tasks}


def landed(cloud, lb_type: str) -> dict[str, Any]:
    """Read back, with boto3, every contract value and security setting the stack should hold."""
    c, name = cloud.clients, cloud.stack
    ec2, elb, elbv2, asg = c["ec2"], c["elb"], c["elbv2"], c["autoscaling"]
    out: dict[str, Any] = {}
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[f"{name}-asg"])["AutoScalingGroups"][0]
    hook = asg.describe_lifecycle_hooks(AutoScalingGroupName=group["AutoScalingGroupName"])["LifecycleHooks"][0]
    policies = asg.describe_policies(AutoScalingGroupName=group["AutoScalingGroupName"])["ScalingPolicies"]
    out["asg_lifecycle_heartbeat"] = hook["HeartbeatTimeout"]
    out["hook_transition"] = hook["LifecycleTransition"]
    out["asg_health_check_grace_period"] = group["HealthCheckGracePeriod"]
    out["health_check_type"] = group["HealthCheckType"]
    out["metrics_collection"] = bool(group.get("EnabledMetrics"))
    out["asg_instance_warmup"] = sorted({p["EstimatedInstanceWarmup"] for p in policies})
    out["policies"] = sorted((p["PolicyType"], p.get("TargetTrackingConfiguration", {}).get(
        "PredefinedMetricSpecification", {}).get("PredefinedMetricType", "")) for p in policies)
    out["group"] = group
    out["policy_objects"] = policies

    lt_ref = group["LaunchTemplate"]
    lt = ec2.describe_launch_template_versions(LaunchTemplateId=lt_ref["LaunchTemplateId"],
                                               Versions=[lt_ref["Version"]])["LaunchTemplateVersions"][0]
    data = lt["LaunchTemplateData"]
    out["lt_version"] = lt["VersionNumber"]
    out["imds_tokens"] = data["MetadataOptions"]["HttpTokens"]
    out["root_volume"] = {k: data["BlockDeviceMappings"][0]["Ebs"][k] for k in ("VolumeType", "Encrypted")}
    out["image_id"] = data["ImageId"]
    app_sg = ec2.describe_security_groups(GroupIds=data["SecurityGroupIds"])["SecurityGroups"][0]
    out["app_sg_rules"] = app_sg["IpPermissions"]

    if lb_type == "clb":
        d = elb.describe_load_balancers(LoadBalancerNames=[f"{name}-clb"])["LoadBalancerDescriptions"][0]
        attrs = elb.describe_load_balancer_attributes(LoadBalancerName=f"{name}-clb")["LoadBalancerAttributes"]
        hc = d["HealthCheck"]
        out["lb_idle_timeout"] = attrs["ConnectionSettings"]["IdleTimeout"]
        out["lb_deregistration_delay"] = attrs["ConnectionDraining"]["Timeout"]
        out["draining_enabled"] = attrs["ConnectionDraining"]["Enabled"]
        out["cross_zone"] = attrs["CrossZoneLoadBalancing"]["Enabled"]
        out["health_check_path"] = hc["Target"]
        out["lb_health_check_interval"] = hc["Interval"]
        out["lb_health_check_timeout"] = hc["Timeout"]
        out["lb_healthy_threshold"] = hc["HealthyThreshold"]
        out["lb_unhealthy_threshold"] = hc["UnhealthyThreshold"]
        out["lb_sg_ids"] = d["SecurityGroups"]
        out["attached"] = group["LoadBalancerNames"]
    else:
        lb = elbv2.describe_load_balancers(Names=[f"{name}-{lb_type}"])["LoadBalancers"][0]
        tg = elbv2.describe_target_groups(Names=[f"{name}-{lb_type}-tg"])["TargetGroups"][0]
        tg_attrs = {a["Key"]: a["Value"] for a in
                    elbv2.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
        listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        if lb_type == "alb":
            lb_attrs = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
            out["lb_idle_timeout"] = int(lb_attrs["idle_timeout.timeout_seconds"])
        else:
            tcp = [x for x in listeners if x["Protocol"] == "TCP"][0]
            l_attrs = {a["Key"]: a["Value"] for a in
                       elbv2.describe_listener_attributes(ListenerArn=tcp["ListenerArn"])["Attributes"]}
            out["lb_idle_timeout"] = int(l_attrs["tcp.idle_timeout.seconds"])
        out["lb_deregistration_delay"] = int(tg_attrs["deregistration_delay.timeout_seconds"])
        out["health_check_path"] = tg["HealthCheckPath"]
        out["lb_health_check_interval"] = tg["HealthCheckIntervalSeconds"]
        out["lb_health_check_timeout"] = tg["HealthCheckTimeoutSeconds"]
        out["lb_healthy_threshold"] = tg["HealthyThresholdCount"]
        out["lb_unhealthy_threshold"] = tg["UnhealthyThresholdCount"]
        out["lb_sg_ids"] = lb.get("SecurityGroups", [])
        out["attached"] = group["TargetGroupARNs"]
        out["tg_arn"] = tg["TargetGroupArn"]
        out["lb_arn"] = lb["LoadBalancerArn"]
        out["listener_actions"] = sorted((x["Port"], x["DefaultActions"][0]["Type"],
                                          x["DefaultActions"][0].get("TargetGroupArn")) for x in listeners)
    return out


TIMEOUT_KEYS = ("lb_idle_timeout", "lb_deregistration_delay", "lb_health_check_interval", "lb_health_check_timeout",
                "lb_healthy_threshold", "lb_unhealthy_threshold", "asg_lifecycle_heartbeat",
                "asg_health_check_grace_period")


def assert_contract_landed(got: dict[str, Any], timeouts: dict[str, int], lb_type: str, cloud) -> None:
    for key in TIMEOUT_KEYS:
        assert got[key] == timeouts[key], f"{lb_type}: {key} landed as {got[key]}, contract says {timeouts[key]}"
    assert got["asg_instance_warmup"] == [timeouts["asg_instance_warmup"]]
    assert got["hook_transition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert got["health_check_type"] == "ELB"
    assert got["metrics_collection"]
    assert got["imds_tokens"] == "required"
    assert got["root_volume"] == {"VolumeType": "gp3", "Encrypted": True}
    assert got["image_id"] == cloud.ami_id
    if lb_type == "clb":
        assert got["health_check_path"] == "HTTP:80/healthz"
        assert got["draining_enabled"] and got["cross_zone"]
        assert got["attached"] == [f"{cloud.stack}-clb"]
    else:
        assert got["health_check_path"] == "/healthz"
        assert got["attached"] == [got["tg_arn"]]
        # The HTTP listener forwards to the target group (no certificate given: no HTTPS listener).
        assert got["listener_actions"] == [(80, "forward", got["tg_arn"])]


def assert_security_groups(got: dict[str, Any], lb_type: str, cloud) -> None:
    """App port from the LB only (ALB/CLB) or from the client CIDRs + VPC (NLB); never SSH."""
    ports = {(r["FromPort"], r["ToPort"]) for r in got["app_sg_rules"]}
    assert ports == {(80, 80)}, f"app security group opens {ports}, only the app port is expected"
    rule = got["app_sg_rules"][0]
    if lb_type == "nlb":
        assert not rule["UserIdGroupPairs"]
        assert {r["CidrIp"] for r in rule["IpRanges"]} == {"0.0.0.0/0", "10.42.0.0/16"}
    else:
        assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == got["lb_sg_ids"]
        assert not rule["IpRanges"], "the app port must not be open to any CIDR behind an ALB/CLB"
        lb_sg = cloud.clients["ec2"].describe_security_groups(GroupIds=got["lb_sg_ids"])["SecurityGroups"][0]
        assert [(r["FromPort"], [x["CidrIp"] for x in r["IpRanges"]]) for r in lb_sg["IpPermissions"]] == [
            (80, ["0.0.0.0/0"])]


def assert_scaling(got: dict[str, Any], lb_type: str, cloud) -> None:
    """Each policy's exact settings (roles/aws_asg defaults), and on a CLB which alarm drives which policy."""
    policies = {p["PolicyName"]: p for p in got["policy_objects"]}
    prefix = cloud.stack + "-"
    if lb_type == "alb":
        assert got["policies"] == [("TargetTrackingScaling", "ALBRequestCountPerTarget")]
        tracking = got["policy_objects"][0]["TargetTrackingConfiguration"]
        assert tracking["TargetValue"] == 600.0 and not tracking.get("DisableScaleIn", False)
        label = tracking["PredefinedMetricSpecification"]["ResourceLabel"]
        lb_part = got["lb_arn"].split(":loadbalancer/")[1]
        tg_part = got["tg_arn"].split(":")[-1]
        assert label == f"{lb_part}/{tg_part}"
    elif lb_type == "clb":
        assert got["policies"] == [("StepScaling", ""), ("StepScaling", "")]
        out, in_ = policies[prefix + "requests-out"], policies[prefix + "requests-in"]
        # One unbounded step each (roles/aws_asg: community.aws drops a bound of 0); the alarm gives the direction.
        for policy, step in ((out, {"ScalingAdjustment": 1}), (in_, {"ScalingAdjustment": -1})):
            assert (policy["AdjustmentType"], policy["MetricAggregationType"]) == ("ChangeInCapacity", "Average")
            assert policy["StepAdjustments"] == [step], policy["PolicyName"]
        alarms = {a["AlarmName"]: a for a in
                  cloud.clients["cloudwatch"].describe_alarms(AlarmNamePrefix=cloud.stack)["MetricAlarms"]}
        assert set(alarms) == {prefix + "requests-out", prefix + "requests-in"}
        # Wired one to one: the out alarm (above 1200 for 2 minutes) adds, the in alarm (below 300 for 10) removes.
        wiring = {name: (a["AlarmActions"], a["ComparisonOperator"], a["Threshold"], a["EvaluationPeriods"],
                         a["Period"], a["Statistic"], a["TreatMissingData"]) for name, a in alarms.items()}
        assert wiring == {
            prefix + "requests-out": ([out["PolicyARN"]], "GreaterThanThreshold", 1200.0, 2, 60, "Sum", "notBreaching"),
            prefix + "requests-in": ([in_["PolicyARN"]], "LessThanThreshold", 300.0, 10, 60, "Sum", "missing"),
        }
        for a in alarms.values():
            assert (a["Namespace"], a["MetricName"]) == ("AWS/ELB", "RequestCount")
            assert a["Dimensions"] == [{"Name": "LoadBalancerName", "Value": f"{cloud.stack}-clb"}]
    else:
        assert got["policies"] == [("TargetTrackingScaling", "ASGAverageCPUUtilization")]
        assert got["policy_objects"][0]["TargetTrackingConfiguration"]["TargetValue"] == 60.0


def assert_instances_publish_what_the_policy_tracks(cloud, tmp_path, user_data: str, spec: dict[str, Any]) -> None:
    """The instance's half of the wiring: the user data provision stored, run in a scratch root, writes the
    settings the real publisher (roles/uwsgi) reads; with 2 of 4 app workers busy it publishes 50 %, and the
    datapoint is found by the policy's own namespace, metric, dimensions, unit and statistic."""
    import boto3

    script = base64.b64decode(user_data).decode()
    root = tmp_path / "instance"
    assert "/etc/longhaul/instance.env" in script
    subprocess.run(["sh", "-c", script.replace("/etc/longhaul", str(root / "etc" / "longhaul"))], check=True)
    stats = StatsServer(tmp_path / "stats.sock", [["busy", "idle", "busy", "idle", "cheap"]])
    try:
        env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": cloud.url, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
        done = subprocess.run(
            [sys.executable, str(ROOT / "roles" / "uwsgi" / "files" / "longhaul_busy_workers.py"),
             "--env-file", str(root / "etc" / "longhaul" / "instance.env"), "--stats-socket", stats.path,
             "--app-workers", "4", "--samples", "1"], env=env, capture_output=True, text=True, timeout=60)
    finally:
        stats.close()
    assert done.returncode == 0, done.stderr
    cloudwatch = boto3.client("cloudwatch", endpoint_url=cloud.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    now = datetime.now(timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace=spec["Namespace"], MetricName=spec["MetricName"], Dimensions=spec["Dimensions"],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=10), Period=600,
        Statistics=[spec["Statistic"]], Unit=spec["Unit"])["Datapoints"]
    assert [p[spec["Statistic"]] for p in points] == [50.0], (points, done.stderr)


@pytest.mark.parametrize("lb_type", LB_TYPES)
def test_provision_rerun_change_teardown(cloud, lb_type):
    """The whole life of a stack: values land, re-run is a no-op, T moves only its hops, teardown is total."""
    t1, t2 = 60, 120
    c1 = contract.derive(t1, lb_type)
    c2 = contract.derive(t2, lb_type)

    before = stack.snapshot(cloud.clients)
    first = cloud.provision(longhaul_lb_type=lb_type, longhaul_request_timeout=t1)
    assert first.rc == 0, first.failed
    assert stack.diff(before, stack.snapshot(cloud.clients)), "provision created nothing the snapshot sees"
    got = landed(cloud, lb_type)
    assert_contract_landed(got, c1, lb_type, cloud)
    assert_security_groups(got, lb_type, cloud)
    assert_scaling(got, lb_type, cloud)

    again = cloud.provision(longhaul_lb_type=lb_type, longhaul_request_timeout=t1)
    assert again.rc == 0, again.failed
    assert again.changed_tasks == set(), f"re-run changed {sorted(again.changed_tasks)}"
    assert again.stats["localhost"]["changed"] == 0

    moved = cloud.provision(longhaul_lb_type=lb_type, longhaul_request_timeout=t2)
    assert moved.rc == 0, moved.failed
    want = expected_changes(lb_type, c1, c2)
    assert want, "T=60 -> 120 must move at least one AWS-side value"
    assert changed_task_names(moved, lb_type) == want
    got2 = landed(cloud, lb_type)
    assert_contract_landed(got2, c2, lb_type, cloud)
    # Untouched resources are untouched: same launch template version, same group, same security rules.
    assert got2["lt_version"] == got["lt_version"]
    assert got2["group"]["AutoScalingGroupARN"] == got["group"]["AutoScalingGroupARN"]
    assert got2["app_sg_rules"] == got["app_sg_rules"]

    assert cloud.resources(), "provisioned stack not found by its tag"
    down = cloud.play("teardown")
    assert down.rc == 0, down.failed
    assert cloud.resources() == {}
    # Not by tag: every describe call lists what it listed before provisioning, no more and no less.
    left = stack.diff(before, stack.snapshot(cloud.clients))
    enis = left.get("network_interfaces", {}).get("added", [])
    details = [{k: n.get(k) for k in ("Description", "InterfaceType", "Status", "Attachment", "SubnetId", "RequesterId")}
               for n in (cloud.clients["ec2"].describe_network_interfaces(NetworkInterfaceIds=enis)["NetworkInterfaces"]
                         if enis else [])]
    assert left == {}, f"{left} {details}"
    down_again = cloud.play("teardown")
    assert down_again.rc == 0, down_again.failed
    assert down_again.stats["localhost"]["changed"] == 0


def test_alb_https_redirect_and_busy_workers_scaling(cloud, tmp_path):
    """The options: an ACM certificate adds HTTPS and turns HTTP into a redirect; busy_workers scaling tracks
    the instances' own metric; the security groups follow the listeners."""
    import boto3

    acm = boto3.client("acm", endpoint_url=cloud.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    cert = acm.request_certificate(DomainName="longhaul.example.com")["CertificateArn"]
    iam = boto3.client("iam", endpoint_url=cloud.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    profile_arn = iam.create_instance_profile(InstanceProfileName="longhaul-instance")["InstanceProfile"]["Arn"]
    run = cloud.provision(longhaul_lb_type="alb", aws_lb_certificate_arn=cert,
                          aws_asg_scaling_metric="busy_workers", aws_asg_instance_profile="longhaul-instance")
    assert run.rc == 0, run.failed
    got = landed(cloud, "alb")
    elbv2 = cloud.clients["elbv2"]
    listeners = {x["Port"]: x for x in elbv2.describe_listeners(LoadBalancerArn=got["lb_arn"])["Listeners"]}
    assert set(listeners) == {80, 443}
    redirect = listeners[80]["DefaultActions"][0]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert [c["CertificateArn"] for c in https["Certificates"]] == [cert]
    assert https["DefaultActions"][0]["TargetGroupArn"] == got["tg_arn"]
    lb_sg = cloud.clients["ec2"].describe_security_groups(GroupIds=got["lb_sg_ids"])["SecurityGroups"][0]
    assert sorted(r["FromPort"] for r in lb_sg["IpPermissions"]) == [80, 443]

    [policy] = got["policy_objects"]
    spec = policy["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]
    assert (spec["Namespace"], spec["MetricName"]) == ("Longhaul", "BusyWorkersPercent")
    assert (spec["Statistic"], spec.get("Unit")) == ("Average", "Percent")
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 60.0
    assert spec["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": f"{cloud.stack}-asg"}]
    lt_id = got["group"]["LaunchTemplate"]["LaunchTemplateId"]
    data = cloud.clients["ec2"].describe_launch_template_versions(
        LaunchTemplateId=lt_id, Versions=["$Latest"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["IamInstanceProfile"] in ({"Name": "longhaul-instance"}, {"Arn": profile_arn})
    assert_instances_publish_what_the_policy_tracks(cloud, tmp_path, data["UserData"], spec)

    again = cloud.provision(longhaul_lb_type="alb", aws_lb_certificate_arn=cert,
                            aws_asg_scaling_metric="busy_workers", aws_asg_instance_profile="longhaul-instance")
    assert again.rc == 0, again.failed
    assert again.changed_tasks == set(), f"re-run changed {sorted(again.changed_tasks)}"


def test_an_existing_vpc_is_used_by_subnet_ids_checked_for_azs_and_left_by_teardown(cloud):
    """The seed's real case: a VPC the team already has, given by subnet ids. The seed's layout (a Classic ELB in
    three AZs, instances in two) is refused with nothing created; the aligned one is provisioned into the VPC's
    subnets; teardown removes the stack and leaves the VPC, its subnets and its gateway as they were."""
    ec2 = cloud.clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)  # an internet-facing LB needs one on AWS
    subnet = {az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
              for i, az in enumerate(["us-east-1a", "us-east-1b", "us-east-1c"])}
    before = stack.snapshot(cloud.clients)
    where = {"longhaul_lb_type": "clb", "aws_network_vpc_id": vpc}

    typo = cloud.provision(**where, aws_network_lb_subnet_ids=["subnet-0123456789abcdef0"],
                           aws_network_app_subnet_ids=[subnet["us-east-1a"]])
    assert typo.rc != 0 and "subnet-0123456789abcdef0" in " ".join(str(r.get("msg", "")) for _, r in typo.failed)
    assert stack.diff(before, stack.snapshot(cloud.clients)) == {}, "the refused run created something"

    seed = cloud.provision(**where, aws_network_lb_subnet_ids=list(subnet.values()),
                           aws_network_app_subnet_ids=[subnet["us-east-1a"], subnet["us-east-1b"]])
    assert seed.rc != 0, "the seed's AZ mismatch was accepted"
    message = " ".join(str(r.get("msg", "")) for _, r in seed.failed)
    assert "lb_az_has_instances" in message and "us-east-1c" in message, message
    assert stack.diff(before, stack.snapshot(cloud.clients)) == {}, "the refused run created something"

    two = [subnet["us-east-1a"], subnet["us-east-1b"]]
    run = cloud.provision(**where, aws_network_lb_subnet_ids=two, aws_network_app_subnet_ids=two)
    assert run.rc == 0, run.failed
    group = cloud.clients["autoscaling"].describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{cloud.stack}-asg"])["AutoScalingGroups"][0]
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(two)
    [clb] = cloud.clients["elb"].describe_load_balancers(LoadBalancerNames=[f"{cloud.stack}-clb"])[
        "LoadBalancerDescriptions"]
    assert clb["VPCId"] == vpc and sorted(clb["Subnets"]) == sorted(two)
    created = stack.diff(before, stack.snapshot(cloud.clients))
    assert "vpcs" not in created and "subnets" not in created and "internet_gateways" not in created, created

    down = cloud.play("teardown")
    assert down.rc == 0, down.failed
    assert stack.diff(before, stack.snapshot(cloud.clients)) == {}
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"] and len(ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]) == 3
