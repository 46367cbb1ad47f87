"""Patches that make moto 5.2.5 answer like AWS where the amazon.aws / community.aws modules depend on it.

Each patch is a function named after what it fixes; its docstring says what moto does wrong and what AWS
does. They are applied in-process by the launcher (``python -m localcloud.moto``), never to the installed
package, and never needed by the playbooks: against real AWS none of this code runs.
"""

from __future__ import annotations

from collections.abc import Callable

MOTO_VERSION = "5.2.5"

_PATCHES: list[Callable[[], None]] = []


def patch(func: Callable[[], None]) -> Callable[[], None]:
    """Register a patch function."""
    _PATCHES.append(func)
    return func


def apply_all() -> list[str]:
    """Apply every registered patch once; return their names. Refuses another moto version."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"localcloud.moto patches are written for moto {MOTO_VERSION}, found {moto.__version__}: "
            "re-check each patch against the new version before changing MOTO_VERSION"
        )
    for func in _PATCHES:
        func()
    return [func.__name__ for func in _PATCHES]


# AWS's documented defaults for the attributes DescribeLoadBalancerAttributes always returns.
_ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "client_keep_alive.seconds": "3600",
    "routing.http2.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "waf.fail_open.enabled": "false",
}
_NLB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "dns_record.client_routing_policy": "any_availability_zone",
}


@patch
def elbv2_default_attributes() -> None:
    """ALB/NLB attributes exist from creation.

    moto: a new load balancer holds only a few attributes (idle_timeout.timeout_seconds, routing.http2.enabled,
    ... appear only once set), so amazon.aws.elb_application_lb fails with KeyError 'idle_timeout_timeout_seconds'
    when it compares them. AWS: DescribeLoadBalancerAttributes returns every attribute of the type with its default
    (idle timeout 60 s, HTTP/2 on, desync mitigation defensive, ...).
    """
    from moto.elbv2.models import FakeLoadBalancer

    original = FakeLoadBalancer.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        defaults = _ALB_DEFAULT_ATTRIBUTES if self.type == "application" else _NLB_DEFAULT_ATTRIBUTES
        for key, value in defaults.items():
            self.attrs.setdefault(key, value)

    FakeLoadBalancer.__init__ = __init__


@patch
def ec2_launch_template_tags_stay_on_the_template() -> None:
    """CreateLaunchTemplate: the TagSpecifications of the request tag the template, not its version data.

    moto: copies the request's TagSpecifications (resource type launch-template) into the version's
    LaunchTemplateData.TagSpecifications, so amazon.aws.ec2_launch_template sees data it did not ask for and makes
    a new version on every run (re-run changed=1). AWS: those tags go on the launch template resource only; the
    version data holds exactly LaunchTemplateData.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.responses.launch_templates import LaunchTemplates
    from moto.ec2.utils import parse_user_data

    def create_launch_template(self):  # type: ignore[no-untyped-def]
        name = self._get_param("LaunchTemplateName")
        version_description = self._get_param("VersionDescription")
        tag_spec = self._parse_tag_specification()
        data = self._get_param("LaunchTemplateData", {})
        data["UserData"] = parse_user_data(self._get_param("LaunchTemplateData.UserData"))
        self.error_on_dryrun()
        template = self.ec2_backend.create_launch_template(name, version_description, data, tag_spec)
        version = template.default_version()
        return ActionResult(
            {
                "LaunchTemplate": {
                    "CreateTime": version.create_time,
                    "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                    "DefaultVersionNumber": template.default_version_number,
                    "LatestVersionNumber": version.number,
                    "LaunchTemplateId": template.id,
                    "LaunchTemplateName": template.name,
                    "Tags": template.tags,
                }
            }
        )

    LaunchTemplates.create_launch_template = create_launch_template


@patch
def ec2_launch_template_version_user_data() -> None:
    """CreateLaunchTemplateVersion stores UserData as the base64 value it is.

    moto: CreateLaunchTemplate wraps UserData in its Base64EncodedString type but CreateLaunchTemplateVersion keeps
    the raw string, so a version's user data is typed differently from version 1's (an assertion in moto's
    LaunchTemplateVersion.user_data, and instances launched from it). AWS: both calls take and return the same
    base64 text.
    """
    from moto.ec2.responses.launch_templates import LaunchTemplates
    from moto.ec2.utils import parse_user_data

    original = LaunchTemplates.create_launch_template_version

    def create_launch_template_version(self):  # type: ignore[no-untyped-def]
        raw = self._get_param("LaunchTemplateData.UserData")
        get_param = self._get_param

        def _get_param(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            value = get_param(name, *args, **kwargs)
            if name == "LaunchTemplateData" and isinstance(value, dict) and raw is not None:
                value["UserData"] = parse_user_data(raw)
            return value

        self._get_param = _get_param
        try:
            return original(self)
        finally:
            del self._get_param

    LaunchTemplates.create_launch_template_version = create_launch_template_version


@patch
def ec2_delete_launch_template_versions() -> None:
    """DeleteLaunchTemplateVersions exists.

    moto: the action is not implemented (amazon.aws.ec2_launch_template state=absent deletes every non-default
    version first, and fails). AWS: deletes the given non-default versions; version numbers are never reused.
    Here a deleted version is hidden from DescribeLaunchTemplateVersions (moto addresses versions by position,
    so they are not removed from its list); LatestVersionNumber still counts them, as AWS does.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.models.launch_templates import LaunchTemplateBackend
    from moto.ec2.responses.launch_templates import LaunchTemplates

    def delete_launch_template_versions(self):  # type: ignore[no-untyped-def]
        name = self._get_param("LaunchTemplateName")
        tid = self._get_param("LaunchTemplateId")
        numbers = self._get_param("LaunchTemplateVersions", [])
        self.error_on_dryrun()
        template = (
            self.ec2_backend.get_launch_template_by_name(name) if name else self.ec2_backend.get_launch_template(tid)
        )
        deleted = getattr(template, "_longhaul_deleted_versions", set())
        ok, failed = [], []
        for number in numbers:
            entry = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name, "VersionNumber": int(number)}
            known = 1 <= int(number) <= len(template.versions) and int(number) not in deleted
            if not known or int(number) == template.default_version_number:
                code = "launchTemplateVersionDoesNotExist" if not known else "launchTemplateVersionIsDefault"
                failed.append({**entry, "ResponseError": {"Code": code, "Message": f"version {number}: {code}"}})
            else:
                deleted.add(int(number))
                ok.append(entry)
        template._longhaul_deleted_versions = deleted
        return ActionResult(
            {"SuccessfullyDeletedLaunchTemplateVersions": ok, "UnsuccessfullyDeletedLaunchTemplateVersions": failed}
        )

    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions

    original = LaunchTemplateBackend.describe_launch_template_versions

    def describe_launch_template_versions(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [
            (template, version)
            for template, version in original(self, *args, **kwargs)
            if version.number not in getattr(template, "_longhaul_deleted_versions", set())
        ]

    LaunchTemplateBackend.describe_launch_template_versions = describe_launch_template_versions


@patch
def autoscaling_tags_sorted_by_key() -> None:
    """DescribeAutoScalingGroups lists a group's tags ordered by key.

    moto: returns them in the order they were created. amazon.aws.autoscaling_group sorts the described tags in
    place while comparing, then compares the group before and after its update: with moto's order the two differ and
    every re-run reports changed. AWS: tags come back ordered by key (as DescribeTags documents its order), so the
    module sees no difference.
    """
    from moto.autoscaling.models import AutoScalingBackend

    original = AutoScalingBackend.describe_auto_scaling_groups

    def describe_auto_scaling_groups(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        groups = original(self, *args, **kwargs)
        for group in groups:
            group.tags.sort(key=lambda tag: tag["Key"])
        return groups

    AutoScalingBackend.describe_auto_scaling_groups = describe_auto_scaling_groups


@patch
def elb_classic_missing_load_balancer_is_not_found() -> None:
    """Classic ELB DescribeLoadBalancerAttributes on a missing LB answers LoadBalancerNotFound.

    moto: looks the name up with dict.get and dereferences None, a 500 with an HTML body that botocore cannot
    parse; amazon.aws.elb_classic_lb probes the attributes before creating the LB and fails. AWS: a 400
    LoadBalancerNotFound error, which the module treats as "does not exist yet".
    """
    from moto.elb.exceptions import LoadBalancerNotFoundError
    from moto.elb.responses import ELBResponse

    original = ELBResponse.describe_load_balancer_attributes

    def describe_load_balancer_attributes(self):  # type: ignore[no-untyped-def]
        name = self._get_param("LoadBalancerName")
        if self.elb_backend.get_load_balancer(name) is None:
            raise LoadBalancerNotFoundError(name)
        return original(self)

    ELBResponse.describe_load_balancer_attributes = describe_load_balancer_attributes


@patch
def elb_classic_default_health_check() -> None:
    """A new Classic ELB has a health check.

    moto: HealthCheck stays empty until ConfigureHealthCheck, so the module's comparison of the wanted check with
    the current one reads a missing structure. AWS: every CLB is created with the default check
    TCP:<first listener's instance port>, interval 30 s, timeout 5 s, healthy 10, unhealthy 2.
    """
    from moto.elb.models import FakeHealthCheck, LoadBalancer

    original = LoadBalancer.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        if self.health_check is None and self.listeners:
            port = self.listeners[0].instance_port
            self.health_check = FakeHealthCheck(
                timeout="5", healthy_threshold="10", unhealthy_threshold="2", interval="30", target=f"TCP:{port}"
            )

    LoadBalancer.__init__ = __init__


@patch
def autoscaling_delete_group_deletes_policies_and_hooks() -> None:
    """DeleteAutoScalingGroup takes the group's scaling policies and lifecycle hooks with it.

    moto: the group goes, its policies and hooks stay behind (DescribePolicies still lists them), so a teardown
    looks incomplete and a new group of the same name inherits stale policies. AWS: "Deleting an Auto Scaling
    group deletes its scaling policies, lifecycle hooks" (DeleteAutoScalingGroup; the alarms stay, which is why
    playbooks/teardown.yml deletes those itself).
    """
    from moto.autoscaling.models import AutoScalingBackend

    original = AutoScalingBackend.delete_auto_scaling_group

    def delete_auto_scaling_group(self, group_name):  # type: ignore[no-untyped-def]
        original(self, group_name)
        for key, policy in list(self.policies.items()):
            if policy.auto_scaling_group_name == group_name:
                del self.policies[key]
        for key, hook in list(self.lifecycle_hooks.items()):
            if hook.auto_scaling_group_name == group_name:
                del self.lifecycle_hooks[key]

    AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group


@patch
def ec2_primary_network_interface_deleted_on_termination() -> None:
    """The network interface an instance is launched with (no NetworkInterfaces given) goes when it terminates.

    moto: that implicit primary interface is created with DeleteOnTermination false, so every instance an Auto
    Scaling group ever ran leaves an "in-use" interface behind, attached to a terminated instance. AWS: the
    primary interface created at launch has DeleteOnTermination true and is deleted with the instance (EC2 user
    guide, "Network interface attributes"); teardown would otherwise look incomplete, or complete by accident.
    """
    from moto.ec2.models.instances import Instance

    original = Instance.prep_nics

    def prep_nics(self, nic_spec, private_ip=None, associate_public_ip=None, security_groups=None,
                  ipv6_address_count=None):  # type: ignore[no-untyped-def]
        implicit = not nic_spec
        original(self, nic_spec, private_ip=private_ip, associate_public_ip=associate_public_ip,
                 security_groups=security_groups, ipv6_address_count=ipv6_address_count)
        if implicit and 0 in self.nics:
            self.nics[0].delete_on_termination = True

    Instance.prep_nics = prep_nics


@patch
def ec2_delete_subnet_in_use_is_a_dependency_violation() -> None:
    """A subnet that still holds a network interface cannot be deleted.

    moto: DeleteSubnet removes the subnet whatever is in it, so a teardown that deletes subnets before the
    instances or load balancers in them are gone passes. AWS: DependencyViolation ("The subnet ... has
    dependencies and cannot be deleted") until every interface in it is deleted.
    """
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.subnets import SubnetBackend

    original = SubnetBackend.delete_subnet

    def delete_subnet(self, subnet_id):  # type: ignore[no-untyped-def]
        in_use = [eni.id for eni in self.enis.values() if eni.subnet.id == subnet_id]
        if in_use:
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted ({', '.join(sorted(in_use))}).")
        return original(self, subnet_id)

    SubnetBackend.delete_subnet = delete_subnet
