"""Fixtures for the AWS tier on the local cloud: one patched moto server per test module, reset per test.

The server is the project's launcher (``python -m localcloud.moto --port 0``) on a free loopback port; each
test gets an empty cloud with one registered dummy AMI (the bake playbook's job on AWS), an inventory that
points the playbooks at the server through ``longhaul_aws_endpoint_url``, and a runner that calls
ansible-playbook with the JSON callback so tests can see which task changed what.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack  # noqa: E402  (the helper next to this file)

REGION = "us-east-1"
# Dummy credentials: moto accepts any; set so boto3 never looks for real ones.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory):
    """Start the patched moto server for this test module; yield its URL; stop it.

    Its output goes to a file, not a pipe: the server logs every request, and an undrained pipe fills up and
    blocks it mid-request.
    """
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localcloud.moto", "--host", "127.0.0.1", "--port", "0"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        for line in log_path.read_text().splitlines():
            if line.startswith("listening "):
                url = line.split()[1]
        time.sleep(0.2)
    if url is None:
        proc.kill()
        pytest.fail(f"moto did not start:\n{log_path.read_text()}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@dataclass
class Run:
    """One ansible-playbook run, parsed from the JSON callback."""

    rc: int
    plays: list[dict[str, Any]]
    stats: dict[str, Any]
    raw: str
    stderr: str
    tasks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tasks = [
            (t["task"]["name"], t["hosts"]["localhost"])
            for play in self.plays
            for t in play["tasks"]
            if "localhost" in t["hosts"]
        ]

    @property
    def changed_tasks(self) -> set[str]:
        return {name for name, result in self.tasks if result.get("changed")}

    @property
    def failed(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, result) for name, result in self.tasks if result.get("failed")]

    def result(self, name_part: str) -> dict[str, Any]:
        """The result of the one task whose name contains ``name_part``."""
        found = [r for n, r in self.tasks if name_part in n and not r.get("skipped")]
        assert len(found) == 1, f"{len(found)} run tasks match {name_part!r}"
        return found[0]


@dataclass
class Cloud:
    url: str
    inventory: Path
    ami_id: str
    stack: str
    clients: dict[str, Any]

    def play(self, playbook: str, **extra_vars: Any) -> Run:
        """Run playbooks/<playbook>.yml against this cloud with extra vars (JSON-typed)."""
        env = os.environ | {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            # Modules run on the controller: pipe them to the interpreter instead of copying a file per task.
            "ANSIBLE_PIPELINING": "1",
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_URL", "EC2_URL", "AWS_ENDPOINT_URL",
                    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(var, None)
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), f"playbooks/{playbook}.yml",
               "-e", json.dumps(extra_vars)]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        try:
            # The json callback's document, with whatever ansible-core prints after it (2.19 adds warnings).
            out, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            pytest.fail(f"no JSON from ansible-playbook (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return Run(proc.returncode, out.get("plays", []), out.get("stats", {}), proc.stdout, proc.stderr)

    def provision(self, **extra_vars: Any) -> Run:
        return self.play("provision", longhaul_ami_id=self.ami_id, **extra_vars)

    def resources(self) -> dict[str, list[str]]:
        return stack.stack_resources(self.clients, self.stack)


@pytest.fixture
def cloud(moto_url, tmp_path, request) -> Cloud:
    """An empty cloud (moto reset) with a dummy AMI, and an inventory pointing at it."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=30).close()
    clients = stack.clients(moto_url, REGION)
    ami_id = clients["ec2"].register_image(
        Name="longhaul-test", RootDeviceName="/dev/xvda", VirtualizationType="hvm", Architecture="x86_64",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8, "VolumeType": "gp3"}}],
    )["ImageId"]
    case = request.node.callspec.id if hasattr(request.node, "callspec") else "test"
    name = ("lh-" + re.sub("[^a-z0-9-]+", "-", case.lower()))[:20].rstrip("-")
    inventory = tmp_path / "hosts.yml"
    # The endpoint comes from the inventory only; the playbooks are the ones a user runs against AWS.
    inventory.write_text(json.dumps({
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local",
                                    "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
            "vars": {"longhaul_aws_endpoint_url": moto_url, "longhaul_aws_region": REGION,
                     "longhaul_stack_name": name,
                     # What the playbooks' environment takes the endpoint and credentials from (as inventory/local).
                     "longhaul_controller_env": {"AWS_URL": moto_url, **AWS_ENV}},
        }
    }))
    return Cloud(moto_url, inventory, ami_id, name, clients)
