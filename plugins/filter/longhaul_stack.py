"""The stack's shared conventions, defined once: its name and the rule it obeys, every resource name derived from it,
its tags, and the environment every controller-side AWS or podman call runs in.

Pure Python; Ansible sees one filter, ``longhaul_stack`` (roles/common publishes its result as the fact
``longhaul_stack``). Roles and playbooks read names from that fact and never spell ``<stack>-asg`` themselves.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Mapping

# Lower-case letter first, then letters, digits, dashes; at most 20 characters: ELB and target group names are
# capped at 32 characters and carry a suffix (<stack>-alb-tg).
STACK_NAME_RULE = r"^[a-z][a-z0-9-]{0,19}$"
LB_TYPES = ("alb", "clb", "nlb")
CLOUDS = ("aws", "local")

# The host platforms, by the one name an inventory sets (longhaul_platform). Locally a platform is the base image
# localcloud/base-image.sh debootstraps from its release; on AWS the bake starts from the publisher's newest image
# found by owner id and name pattern (never a hard-coded id) and logs in as the image's default user.
PLATFORMS: dict[str, dict[str, str]] = {
    "debian-12": {
        "release": "bookworm",
        "aws_base_owner": "136693071363",  # Debian's official account
        "aws_base_name": "debian-12-amd64-*",
        "ssh_user": "admin",
    },
    "ubuntu-22.04": {
        "release": "jammy",
        "aws_base_owner": "099720109477",  # Canonical
        "aws_base_name": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*",
        "ssh_user": "ubuntu",
    },
    "ubuntu-24.04": {
        "release": "noble",
        "aws_base_owner": "099720109477",
        # Canonical publishes 23.10 and newer with gp3 root volumes, under hvm-ssd-gp3.
        "aws_base_name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
        "ssh_user": "ubuntu",
    },
}
DEFAULT_PLATFORM = "debian-12"


def base_image(release: str) -> str:
    """The local cloud's podman image of a release (localcloud/base-image.sh tags it so)."""
    return f"localhost/longhaul-base:{release}"


DEFAULT_BASE_IMAGE = base_image(PLATFORMS[DEFAULT_PLATFORM]["release"])

# Resource names, as suffixes of the stack name. The load balancer's carry its type, so that two LB types of
# one stack never share a name while one replaces the other.
SUFFIXES = {
    "asg": "-asg",
    "launch_template": "-lt",
    "app_security_group": "-app",
    "lifecycle_hook": "-drain",
    "builder": "-builder",
    "ami_prefix": "-app-",
    "scaling_prefix": "-",
}


def errors(inputs: Mapping[str, Any]) -> list[str]:
    """What is wrong with the stack's inputs, one message each (variable, value, rule, fix); [] when all hold."""
    out = []
    name = inputs.get("name")
    if not isinstance(name, str) or not re.match(STACK_NAME_RULE, name):
        out.append(
            f"[stack_name] longhaul_stack_name={name!r}: a lower-case letter first, then lower-case letters, digits "
            f"and dashes, at most 20 characters (ELB and target group names are capped at 32 characters and carry "
            f"a suffix). Fix: choose a name like shop-prod."
        )
    region = inputs.get("region")
    if not isinstance(region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$", region):
        out.append(f"[aws_region] longhaul_aws_region={region!r} is not an AWS region name. Fix: e.g. us-east-1.")
    env = inputs.get("controller_env")
    if env is not None and not (isinstance(env, Mapping) and all(isinstance(k, str) for k in env)):
        out.append(f"[controller_env] longhaul_controller_env={env!r} must be a dict of environment variables. "
                   f"Fix: e.g. {{AWS_URL: http://127.0.0.1:15566}}, or leave it unset on AWS.")
    prefix = inputs.get("local_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not re.match(r"^[a-z][a-z0-9-]{0,30}$", prefix)):
        out.append(f"[local_prefix] longhaul_local_prefix={prefix!r}: podman names of the local cloud start with it. "
                   f"Fix: lower-case letters, digits and dashes, a letter first (default: the stack name).")
    if inputs.get("lb_type") not in LB_TYPES:
        out.append(f"[lb_type] longhaul_lb_type={inputs.get('lb_type')!r}. Fix: one of {', '.join(LB_TYPES)}.")
    if inputs.get("cloud") not in CLOUDS:
        out.append(f"[cloud] longhaul_cloud={inputs.get('cloud')!r}. Fix: aws (a real account) or local (the local "
                   f"cloud: moto and podman, inventory/local).")
    platform = inputs.get("platform", DEFAULT_PLATFORM)
    if platform not in PLATFORMS:
        out.append(f"[platform] longhaul_platform={platform!r} is not a supported host platform. "
                   f"Fix: one of {', '.join(PLATFORMS)}.")
    return out


def stack(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The published conventions for valid inputs {name, region, controller_env, lb_type, cloud}.

    Returns {name, region, cloud, lb_type, tags, tag_filter, aws_env, names: {...}}; raises ValueError listing
    every error when an input is invalid (the role asserts ``errors`` first, so users see messages, not this).
    """
    problems = errors(inputs)
    if problems:
        raise ValueError("; ".join(problems))
    name, lb = inputs["name"], inputs["lb_type"]
    platform = inputs.get("platform", DEFAULT_PLATFORM)
    prefix = inputs.get("local_prefix") or name
    names = {key: name + suffix for key, suffix in SUFFIXES.items()}
    names.update({"lb": f"{name}-{lb}", "target_group": f"{name}-{lb}-tg", "lb_security_group": f"{name}-{lb}-lb"})
    return {
        "name": name,
        "region": inputs["region"],
        "cloud": inputs["cloud"],
        "lb_type": lb,
        "tags": {"longhaul:stack": name},
        "tag_filter": {"tag:longhaul:stack": name},
        # Every controller-side call: region first, then the inventory's own settings (a local cloud's endpoint,
        # dummy credentials and podman settings; nothing on AWS, where boto3's usual chain finds credentials).
        "aws_env": {"AWS_REGION": inputs["region"], **dict(inputs.get("controller_env") or {})},
        "names": names,
        # The hosts' platform: its release, the AWS base image by owner and name, the image's login.
        "platform": {"name": platform, **PLATFORMS[platform]},
        # The local cloud's podman objects: containers, images and the network carry the label longhaul.local.
        "local": {
            "prefix": prefix,
            "network": f"{prefix}-net",
            "base_image": inputs.get("local_base_image") or base_image(PLATFORMS[platform]["release"]),
            "labels": {"longhaul.local": prefix},
        },
    }


def _stack_filter(inputs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return stack(inputs)
    except ValueError as exc:
        from ansible.errors import AnsibleFilterError  # the only Ansible import, at the boundary

        raise AnsibleFilterError(str(exc)) from None


def main(argv: list[str]) -> int:
    """`longhaul_stack.py release PLATFORM`: the release the shell scripts debootstrap (localcloud/up, e2e)."""
    if len(argv) == 3 and argv[1] == "release" and argv[2] in PLATFORMS:
        print(PLATFORMS[argv[2]]["release"])
        return 0
    print(f"usage: {argv[0]} release {{{'|'.join(PLATFORMS)}}} (got {' '.join(argv[1:])!r})", file=sys.stderr)
    return 2


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"longhaul_stack": _stack_filter, "longhaul_stack_errors": errors}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
