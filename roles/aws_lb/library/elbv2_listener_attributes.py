#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Set attributes of an ELBv2 listener (e.g. the NLB TCP idle timeout), which no amazon.aws/community.aws
module manages as of amazon.aws 10.1 / community.aws 10.0 (both checked)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: elbv2_listener_attributes
short_description: Set attributes of an ELBv2 listener
description:
  - Reads the listener's attributes and modifies the ones given that differ (ModifyListenerAttributes).
  - The NLB TCP idle timeout (C(tcp.idle_timeout.seconds), 60-6000) is a listener attribute.
options:
  listener_arn:
    description: ARN of the listener.
    type: str
    required: true
  attributes:
    description: Attribute keys and values; values are compared as strings, as the API returns them.
    type: dict
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: longhaul
"""

EXAMPLES = r"""
- name: NLB idle timeout from the contract
  elbv2_listener_attributes:
    listener_arn: "{{ listener_arn }}"
    attributes:
      tcp.idle_timeout.seconds: "{{ longhaul_timeouts.lb_idle_timeout }}"
"""

RETURN = r"""
attributes:
  description: The listener's attributes after the change.
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def _current(client, arn: str) -> dict[str, str]:
    """The listener's attributes as a flat dict of strings."""
    attrs = client.describe_listener_attributes(aws_retry=True, ListenerArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in attrs}


def main() -> None:
    """Compare, then modify only the attributes that differ."""
    module = AnsibleAWSModule(
        argument_spec=dict(
            listener_arn=dict(type="str", required=True),
            attributes=dict(type="dict", required=True),
        ),
        supports_check_mode=True,
    )
    client = module.client("elbv2", retry_decorator=AWSRetry.jittered_backoff())
    arn = module.params["listener_arn"]
    wanted = {str(k): str(v) for k, v in module.params["attributes"].items()}
    try:
        current = _current(client, arn)
        diff = {k: v for k, v in wanted.items() if current.get(k) != v}
        before = {k: current.get(k) for k in diff}
        if diff and not module.check_mode:
            client.modify_listener_attributes(
                aws_retry=True,
                ListenerArn=arn,
                Attributes=[{"Key": k, "Value": v} for k, v in diff.items()],
            )
            current = _current(client, arn)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Could not set the attributes of listener {arn}")
    module.exit_json(
        changed=bool(diff),
        attributes=current,
        diff={"before": before, "after": diff},
    )


if __name__ == "__main__":
    main()
