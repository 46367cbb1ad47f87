"""Read a longhaul stack back from the AWS API with boto3 (moto in the tests): what exists, and what landed."""

from __future__ import annotations

from typing import Any

import boto3

STACK_TAG = "longhaul:stack"


def clients(endpoint: str, region: str = "us-east-1") -> dict[str, Any]:
    """boto3 clients for every service the stack uses, pointed at ``endpoint``."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
    return {
        name: session.client(name, endpoint_url=endpoint)
        for name in ("ec2", "elb", "elbv2", "autoscaling", "cloudwatch")
    }


def _tagged(tags: list[dict[str, str]] | None, stack: str) -> bool:
    return any(t["Key"] == STACK_TAG and t["Value"] == stack for t in tags or [])


def stack_resources(c: dict[str, Any], stack: str) -> dict[str, list[str]]:
    """Every resource of ``stack`` that exists, by kind: tagged ones by tag, alarms by the group they act on.

    Non-empty lists only, so an empty dict means nothing of the stack is left.
    """
    ec2, elb, elbv2, asg, cw = (c[k] for k in ("ec2", "elb", "elbv2", "autoscaling", "cloudwatch"))
    tag_filter = [{"Name": f"tag:{STACK_TAG}", "Values": [stack]}]
    found: dict[str, list[str]] = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag_filter)["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag_filter)["Subnets"]],
        "internet_gateways": [
            g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tag_filter)["InternetGateways"]
        ],
        "route_tables": [r["RouteTableId"] for r in ec2.describe_route_tables(Filters=tag_filter)["RouteTables"]],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=tag_filter)["SecurityGroups"]],
        "launch_templates": [
            t["LaunchTemplateName"] for t in ec2.describe_launch_templates(Filters=tag_filter)["LaunchTemplates"]
        ],
    }
    groups = [
        g for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"] if _tagged(g.get("Tags"), stack)
    ]
    found["autoscaling_groups"] = [g["AutoScalingGroupName"] for g in groups]
    group_names = {g["AutoScalingGroupName"] for g in groups} | {f"{stack}-asg"}
    found["scaling_policies"] = [
        p["PolicyName"]
        for p in asg.describe_policies()["ScalingPolicies"]
        if p["AutoScalingGroupName"] in group_names
    ]
    found["alarms"] = [
        a["AlarmName"]
        for a in cw.describe_alarms()["MetricAlarms"]
        if any(f":autoScalingGroupName/{name}:" in action for name in group_names for action in a["AlarmActions"])
    ]
    v2 = elbv2.describe_load_balancers()["LoadBalancers"]
    v2_tags = _tags_by_arn(elbv2, [lb["LoadBalancerArn"] for lb in v2])
    found["elbv2_load_balancers"] = [lb["LoadBalancerName"] for lb in v2 if _tagged(v2_tags[lb["LoadBalancerArn"]], stack)]
    tgs = elbv2.describe_target_groups()["TargetGroups"]
    tg_tags = _tags_by_arn(elbv2, [tg["TargetGroupArn"] for tg in tgs])
    found["target_groups"] = [tg["TargetGroupName"] for tg in tgs if _tagged(tg_tags[tg["TargetGroupArn"]], stack)]
    clbs = [d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]]
    found["classic_load_balancers"] = [
        name
        for name in clbs
        if _tagged(elb.describe_tags(LoadBalancerNames=[name])["TagDescriptions"][0]["Tags"], stack)
    ]
    return {kind: ids for kind, ids in found.items() if ids}


def _tags_by_arn(elbv2: Any, arns: list[str]) -> dict[str, list[dict[str, str]]]:
    """ELBv2 tags per ARN (DescribeTags takes at most 20 ARNs)."""
    tags: dict[str, list[dict[str, str]]] = {}
    for i in range(0, len(arns), 20):
        for d in elbv2.describe_tags(ResourceArns=arns[i : i + 20])["TagDescriptions"]:
            tags[d["ResourceArn"]] = d["Tags"]
    return tags


def snapshot(c: dict[str, Any]) -> dict[str, set[str]]:
    """Everything in the account, by kind, found without tags or names: the ids every describe call lists.

    Teardown is proven by comparing a snapshot taken before provisioning with one taken after teardown, so a
    resource teardown misses is found even when it lost its tag or was never tagged. Terminated instances and
    deleted load balancers are gone; they are not counted.
    """
    ec2, elb, elbv2, asg, cw = (c[k] for k in ("ec2", "elb", "elbv2", "autoscaling", "cloudwatch"))
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    return {
        "vpcs": {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]},
        "subnets": {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]},
        "internet_gateways": {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]},
        "nat_gateways": {g["NatGatewayId"] for g in ec2.describe_nat_gateways()["NatGateways"]
                         if g["State"] not in ("deleted", "deleting")},
        "addresses": {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]},
        "route_tables": {r["RouteTableId"] for r in ec2.describe_route_tables()["RouteTables"]},
        "security_groups": {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]},
        "network_interfaces": {n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]},
        "instances": {i["InstanceId"] for i in instances if i["State"]["Name"] not in ("terminated", "shutting-down")},
        "images": {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]},
        "launch_templates": {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]},
        "autoscaling_groups": {g["AutoScalingGroupName"] for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]},
        "scaling_policies": {p["PolicyARN"] for p in asg.describe_policies()["ScalingPolicies"]},
        "alarms": {a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]},
        "elbv2_load_balancers": {lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]},
        "target_groups": {tg["TargetGroupArn"] for tg in elbv2.describe_target_groups()["TargetGroups"]},
        "classic_load_balancers": {d["LoadBalancerName"]
                                   for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]},
    }


def diff(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, dict[str, list[str]]]:
    """What appeared or disappeared between two snapshots, by kind; {} when they are the same."""
    out = {}
    for kind in before:
        added, removed = sorted(after[kind] - before[kind]), sorted(before[kind] - after[kind])
        if added or removed:
            out[kind] = {"added": added, "removed": removed}
    return out
