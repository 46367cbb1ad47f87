"""Small pure functions the roles need that are longer than an expression: the lists they build from module
results, and the digests the bake id is made of. Each is a filter of the same name with ``longhaul_`` in front.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Iterable, Mapping

SKIPPED_DIRS = ("__pycache__", "molecule")


def tree_digest(base: str, paths: Iterable[str] = (".",), skip_dirs: Iterable[str] = SKIPPED_DIRS) -> str:
    """12 hex digits over the files under ``base``/``paths`` (names and contents; *.pyc and ``skip_dirs`` left out).

    The digest of ``find PATHS -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum``: one line
    ``<sha256>  <path>`` per file, sorted by path bytes, then the sha256 of those lines. A missing path counts as
    empty, so a role that is not there does not fail the bake.
    """
    skip = set(skip_dirs)
    files: list[str] = []
    for path in paths:
        top = os.path.join(base, path)
        if os.path.isfile(top):
            files.append(path)
            continue
        for root, dirs, names in os.walk(top):
            dirs[:] = [d for d in dirs if d not in skip]
            rel = os.path.relpath(root, base) if path != "." else "./" + os.path.relpath(root, top)
            rel = "." if rel == "./." else rel
            files += [f"{rel}/{n}" for n in names if not n.endswith(".pyc")]
    lines = []
    for rel in sorted(files, key=lambda p: p.encode()):
        with open(os.path.join(base, rel), "rb") as fh:
            lines.append(f"{hashlib.sha256(fh.read()).hexdigest()}  {rel}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:12]


def fleet_wanted(instances: Iterable[Mapping[str, Any]], images: Iterable[Mapping[str, Any]],
                 host_prefix: str) -> list[dict[str, str]]:
    """One host per instance: {name, instance_id, ami, image (the AMI's longhaul:local-image tag, or "")}, by name."""
    local_image = {i.get("image_id"): (i.get("tags") or {}).get("longhaul:local-image", "") for i in images or []}
    hosts = [{"name": host_prefix + i["instance_id"][2:], "instance_id": i["instance_id"], "ami": i["image_id"],
              "image": local_image.get(i["image_id"], "")} for i in instances or []]
    return sorted(hosts, key=lambda h: h["name"])


def fleet_servers(started: Iterable[Mapping[str, Any]], network: str, port: int) -> list[dict[str, Any]]:
    """Targets for roles/local_lb from podman_container results: named by instance id, as in a target group."""
    return [{"name": r["item"]["instance_id"], "port": int(port),
             "address": r["container"]["NetworkSettings"]["Networks"][network]["IPAddress"]} for r in started]


def asg_tags(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    """autoscaling_group's tag list: one dict per tag, none propagated (instances take the launch template's)."""
    return [{key: value, "propagate_at_launch": False} for key, value in tags.items()]


def existing(paths: Iterable[str], base: str) -> list[str]:
    """Those of ``paths`` (relative to ``base``) that exist, in order."""
    return [p for p in paths if os.path.exists(os.path.join(base, p))]


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "longhaul_tree_digest": tree_digest,
            "longhaul_fleet_wanted": fleet_wanted,
            "longhaul_fleet_servers": fleet_servers,
            "longhaul_asg_tags": asg_tags,
            "longhaul_existing": existing,
        }
