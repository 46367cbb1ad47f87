"""The local cloud for the site tests (fixtures registered by conftest.py): its own moto server, podman network and LB port, torn down afterwards.

site.yml runs once per session (fixture ``site_run``) with the contract scaled small (T = 8 s, 2 s between hops);
the tests read its result and the cloud it left.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "lhsite"
CONTRACT = ["-e", "longhaul_request_timeout=8", "-e", "longhaul_timeout_margin=2"]


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Run:
    """One ansible-playbook run: exit code, output, seconds, and the PLAY RECAP counts per host."""

    rc: int
    output: str
    seconds: float
    recap: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class LocalCloud:
    """Where the test cloud is and how to run playbooks against it."""

    env: dict[str, str]
    lb_url: str
    moto_url: str

    def playbook(self, *args: str, log: str) -> Run:
        """Run ansible-playbook from the project root; the output goes to a log file under .cache."""
        logfile = ROOT / ".cache" / "tests-site" / f"{log}.log"
        logfile.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), *args],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=1500, check=False,
        )
        logfile.write_text(proc.stdout)
        recap = {
            m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
            for m in re.finditer(r"^(\S+)\s+: (ok=.*)$", proc.stdout, re.M)
        }
        return Run(proc.returncode, proc.stdout, time.monotonic() - start, recap)

    def aws(self, service: str):  # noqa: ANN201 - a boto3 client
        """A boto3 client of the test cloud's moto server."""
        return boto3.client(service, endpoint_url=self.moto_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def podman(self, *args: str) -> str:
        """Run podman with the local cloud's settings; return stdout."""
        return subprocess.run(["podman", *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def containers(self, name_prefix: str) -> list[dict]:
        """Containers of this cloud whose name starts with name_prefix (podman ps --format json)."""
        out = json.loads(self.podman("ps", "-a", "--format", "json", "--filter", f"label=longhaul.local={PREFIX}")
                         or "[]")
        return [c for c in out if c["Names"][0].startswith(name_prefix)]


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    """Bring the test cloud up (localcloud/up), and down with its images at the end."""
    moto_port, lb_port = free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "LONGHAUL_LOCAL_PREFIX": PREFIX,
        "LONGHAUL_MOTO_PORT": str(moto_port),
        "LONGHAUL_LB_PORT": str(lb_port),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "CONTAINERS_CONF": str(ROOT / "localcloud" / "containers.conf"),
        # The bake tests' stand-in roles live next to the tests.
        "ANSIBLE_ROLES_PATH": f"{ROOT / 'roles'}:{ROOT / 'tests' / 'site' / 'roles'}",
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    })
    subprocess.run([str(ROOT / "localcloud" / "up")], cwd=ROOT, env=env, check=True)
    try:
        yield LocalCloud(env=env, lb_url=f"http://127.0.0.1:{lb_port}", moto_url=f"http://127.0.0.1:{moto_port}")
    finally:
        subprocess.run([str(ROOT / "localcloud" / "down"), "--images"], cwd=ROOT, env=env, check=False)


@pytest.fixture(scope="session")
def site_run(local_cloud: LocalCloud) -> Run:
    """site.yml once on the empty test cloud."""
    return local_cloud.playbook("site.yml", *CONTRACT, log="site-1")
