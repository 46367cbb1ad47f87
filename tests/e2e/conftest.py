"""The local cloud stack for the long-request proof, created once per test session.

Three podman containers (systemd as PID 1, the project's base image) on a network of their own: one
load balancer (roles/local_lb) and two app hosts (flask_app + uwsgi + nginx), configured by the same
playbook as the molecule stack scenario. The LB's port and app1's nginx are published on 127.0.0.1
only. `Stack.converge()` re-applies the playbook with other contract inputs (the unsafe configurations
of the seed); every case reads the logs of the layer that acted.

Environment: LONGHAUL_E2E_PREFIX (container/network names, default lhe), LONGHAUL_E2E_PORT (LB port on
127.0.0.1, default 18090; app1's nginx gets the next one), LONGHAUL_E2E_KEEP=1 keeps the stack after the
run, LONGHAUL_PLATFORM (the hosts' platform, default debian-12), LONGHAUL_E2E_PLAYBOOK (the playbook
that configures the stack, default molecule/shared/stack.yml).
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import longhaul_stack  # the platform table, shared with the inventories and localcloud/up (tests/conftest.py)
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOK = Path(os.environ.get("LONGHAUL_E2E_PLAYBOOK", ROOT / "molecule" / "shared" / "stack.yml"))
PREFIX = os.environ.get("LONGHAUL_E2E_PREFIX", "lhe")
LB_PORT = int(os.environ.get("LONGHAUL_E2E_PORT", "18090"))
PLATFORM = os.environ.get("LONGHAUL_PLATFORM", longhaul_stack.DEFAULT_PLATFORM)
IMAGE = longhaul_stack.base_image(longhaul_stack.PLATFORMS[PLATFORM]["release"])
ENV = os.environ | {
    "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_FACT_CACHING": "memory",
    "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(ROOT / "localcloud" / "containers.conf")),
    "PATH": f"{BIN}:{os.environ['PATH']}",
}

# The contract scaled small for test speed: T = 8 s, 2 s between hops (docs/why.md shows the values).
CONTRACT = {"longhaul_request_timeout": 8, "longhaul_timeout_margin": 2, "longhaul_lb_type": "alb"}
# The LB reaches each target through linkdelay.py on the LB host: a link with a VPC's latency, which gives the
# keep-alive race the window it has between an ELB and its targets (one-way delay, milliseconds).
LINK_DELAY_MS = 25
RELAY_PORT = 9101


def run(cmd: list[str], timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if check and done.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


@dataclass
class Response:
    """What a client saw: status (None when the connection closed without a reply), body, error, seconds."""

    status: int | None
    body: bytes
    error: str
    seconds: float

    @property
    def empty_reply(self) -> bool:
        return self.status is None and not self.body


def fetch(url_path: str, port: int = LB_PORT, timeout: float = 60, conn: http.client.HTTPConnection | None = None,
          ) -> Response:
    """One GET; never raises for what a client can observe (closed connection, reset, timeout)."""
    start = time.monotonic()
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    body = b""
    try:
        conn.request("GET", url_path)
        response = conn.getresponse()
        try:
            body = response.read()
        except http.client.IncompleteRead as exc:
            return Response(response.status, exc.partial, f"IncompleteRead: {exc}", time.monotonic() - start)
        return Response(response.status, body, "", time.monotonic() - start)
    except (OSError, http.client.HTTPException) as exc:
        return Response(None, body, f"{type(exc).__name__}: {exc}", time.monotonic() - start)
    finally:
        if own:
            conn.close()


class Stack:
    """The three hosts, their configuration runs and their logs."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.network = f"{PREFIX}-net"
        self.lb = f"{PREFIX}-lb"
        self.apps = [f"{PREFIX}-app1", f"{PREFIX}-app2"]
        self.lb_port = LB_PORT
        self.app1_port = LB_PORT + 1
        self.inventory = workdir / "inventory.yml"
        self.converges: list[float] = []

    # --- lifecycle -----------------------------------------------------------------------------
    def create(self) -> None:
        run(["podman", "network", "create", self.network])
        published = {self.lb: f"127.0.0.1:{self.lb_port}:80", self.apps[0]: f"127.0.0.1:{self.app1_port}:80"}
        for name in [*self.apps, self.lb]:
            cmd = ["podman", "run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                   "--cap-add", "SYS_ADMIN", "--systemd", "always", "--label", f"longhaul.e2e={PREFIX}"]
            if name in published:
                cmd += ["--publish", published[name]]
            run([*cmd, IMAGE, "/sbin/init"])
        hosts = {"ansible_connection": "containers.podman.podman"}
        self.inventory.write_text(json.dumps({
            "all": {"children": {
                "app": {"hosts": {name: hosts for name in self.apps}},
                "lb": {"hosts": {self.lb: hosts}},
            }}}))
        for name in [*self.apps, self.lb]:
            self.wait_booted(name)
        self.start_relays()

    def start_relays(self) -> None:
        """linkdelay.py on the LB host, one port per target, as a transient systemd unit."""
        run(["podman", "cp", str(ROOT / "tests" / "e2e" / "linkdelay.py"), f"{self.lb}:/usr/local/bin/linkdelay.py"])
        args = " ".join(f"{port} {app} 80 {LINK_DELAY_MS}" for app, port in self.relays.items())
        self.sh(self.lb, f"systemd-run --unit e2e-linkdelay /usr/bin/python3 /usr/local/bin/linkdelay.py {args}")

    @property
    def relays(self) -> dict[str, int]:
        return {app: RELAY_PORT + i for i, app in enumerate(self.apps)}

    @property
    def base_vars(self) -> dict:
        """The contract, and the LB's targets through the relays (named by the app hosts' names)."""
        return CONTRACT | {"flask_app_local_dir": str(ROOT / "examples" / "app"), "local_lb_backend_servers": [
            {"name": app, "address": "127.0.0.1", "port": port} for app, port in self.relays.items()]}

    def destroy(self) -> None:
        for name in [self.lb, *self.apps]:
            run(["podman", "rm", "-f", "-t", "2", name], check=False)
        run(["podman", "network", "rm", "-f", self.network], check=False)

    def wait_booted(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = run(["podman", "exec", name, "systemctl", "is-system-running"], check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{name} did not boot in {timeout}s")

    # --- configuration -------------------------------------------------------------------------
    def converge(self, extra: dict | None = None, limit: str | None = None, tags: str | None = None) -> str:
        """Apply the stack playbook with the base inputs plus `extra` (only `tags`, if given); returns the output."""
        vars_file = self.workdir / f"vars-{len(self.converges)}.json"
        vars_file.write_text(json.dumps(self.base_vars | (extra or {})))
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(PLAYBOOK), "-e", f"@{vars_file}"]
        if limit:
            cmd += ["--limit", limit]
        if tags:
            cmd += ["--tags", tags]
        start = time.monotonic()
        done = run(cmd, timeout=900)
        self.converges.append(time.monotonic() - start)
        return done.stdout

    # --- hosts ---------------------------------------------------------------------------------
    def sh(self, host: str, script: str, check: bool = True, timeout: float = 60) -> str:
        return run(["podman", "exec", host, "bash", "-c", script], check=check, timeout=timeout).stdout

    def now(self, host: str | None = None) -> str:
        """A journal cursor-like timestamp (host clock) to read only the log lines of one case."""
        return self.sh(host or self.lb, "date +%s.%N").strip()

    def journal(self, host: str, since: str, *selector: str) -> list[str]:
        """Journal lines of `host` since `since` (from now()), for e.g. ('-t', 'haproxy') or ('-u', 'nginx')."""
        out = self.sh(host, f"journalctl --no-pager -o cat --since @{since} {shlex.join(selector)}", check=False)
        return [line for line in out.splitlines() if line.strip()]

    def file_lines(self, host: str, path: str, since_line: int = 0) -> list[str]:
        out = self.sh(host, f"tail -n +{since_line + 1} {shlex.quote(path)} 2>/dev/null", check=False)
        return out.splitlines()

    def lb_runtime(self, command: str) -> str:
        """HAProxy runtime API on the LB (admin socket of roles/local_lb)."""
        return self.sh(self.lb, f"echo {shlex.quote(command)} | socat stdio unix-connect:/run/haproxy/admin.sock")

    def wait_lb_ready(self, timeout: float = 60) -> None:
        """Every target UP on the LB and a request answered through it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stat = self.lb_runtime("show stat")
            states = [line.split(",")[17] for line in stat.splitlines() if line.startswith("app,") and "BACKEND" not in line]
            if states and all(s == "UP" for s in states) and fetch("/healthz", timeout=5).status == 200:
                return
            time.sleep(0.5)
        stat = "\n".join(line.split(",")[1] + " " + line.split(",")[17] + " " + line.split(",")[36:39].__str__()
                         for line in self.lb_runtime("show stat").splitlines() if line.startswith("app,"))
        hosts = "\n".join(f"--- {h}\n" + self.sh(h, "systemctl --no-pager --failed; curl -s -m 5 -o /dev/null "
                                                   "-w 'healthz %{http_code}\n' localhost/healthz; "
                                                   "journalctl --no-pager -n 25 -u '*-uwsgi.service' -u nginx",
                                                   check=False) for h in self.apps)
        raise AssertionError(f"LB targets not UP in {timeout}s:\n{stat}\n{hosts}")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The stack, created and configured once with the contract; destroyed at the end of the session."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    s.destroy()  # a stack kept by an earlier run (LONGHAUL_E2E_KEEP=1)
    for port in (LB_PORT, LB_PORT + 1):
        if not port_free(port):
            pytest.fail(f"127.0.0.1:{port} is taken; set LONGHAUL_E2E_PORT to a free pair of ports")
    start = time.monotonic()
    s.create()
    s.converge()
    s.wait_lb_ready()
    print(f"\n[e2e] stack created and configured in {time.monotonic() - start:.0f}s")
    yield s
    print(f"\n[e2e] converges: {len(s.converges)}, seconds each: {[round(c) for c in s.converges]}")
    if os.environ.get("LONGHAUL_E2E_KEEP") != "1":
        s.destroy()
