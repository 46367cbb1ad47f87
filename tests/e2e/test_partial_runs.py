"""Tags give working partial runs of the stack playbook (molecule/shared/stack.yml) on the real hosts.

Each partial run must pass its checks (the preflights run under any tag), find the facts it needs, and do the
work of its tag alone: the LB's config follows the contract under --tags local_lb_config, and an unchanged
release or nginx is left as it is.
"""

from __future__ import annotations

import re

from conftest import fetch


def changed(output: str) -> dict[str, int]:
    """changed= of each host in the PLAY RECAP (summed over the plays)."""
    counts: dict[str, int] = {}
    for host, n in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M):
        counts[host] = counts.get(host, 0) + int(n)
    return counts


def lb_timeout_client(stack) -> str:
    return stack.sh(stack.lb, "grep -E '^ +timeout client' /etc/haproxy/haproxy.cfg").split()[-1]


def test_release_tag_alone_finds_the_current_release_and_changes_nothing(stack):
    out = stack.converge(tags="flask_app_release")
    assert "Name the release" in out and "Switch current to release" in out
    assert set(changed(out).values()) == {0}, out[-3000:]
    assert fetch("/healthz").status == 200


def test_lb_config_tag_alone_renders_the_contract_s_idle_timeout_and_back(stack):
    before = lb_timeout_client(stack)
    out = stack.converge({"longhaul_timeout_overrides": {"lb_idle_timeout": int(before.rstrip("s")) + 1}},
                         tags="local_lb_config")
    assert changed(out)[stack.lb] >= 1 and all(n == 0 for h, n in changed(out).items() if h != stack.lb), out[-3000:]
    assert lb_timeout_client(stack) == f"{int(before.rstrip('s')) + 1}s"
    assert fetch("/healthz").status == 200
    out = stack.converge(tags="local_lb_config")
    assert lb_timeout_client(stack) == before and changed(out)[stack.lb] >= 1


def test_nginx_tag_alone_is_idempotent(stack):
    out = stack.converge(tags="nginx")
    assert "Render nginx.conf" in out
    assert set(changed(out).values()) == {0}, out[-3000:]
