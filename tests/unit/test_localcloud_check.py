"""localcloud/check against a fake podman: each broken machine gets a message naming the missing piece and its fix.

The passing path runs for real at the start of every stage that starts containers (make test-molecule, test-e2e,
test-bench, and localcloud/up for test-site and the demo); these cases are the machines CI does not have.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A podman that answers the check's questions from environment variables (FAKE_*), and records its calls.
FAKE_PODMAN = r"""#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
case "$1 $2" in
  "info --format") case "$3" in *OCIRuntime*) echo "${FAKE_RUNTIME:-runc}" ;; *) echo "${FAKE_BACKEND:-cni}" ;; esac ;;
  "image exists") [ "${FAKE_IMAGE:-yes}" = yes ] ;;
  "network create"|"network rm") echo "$3" ;;
  "network exists") true ;;
  "network inspect") echo "${FAKE_DNS:-true}" ;;
  "run -d") [ -z "${FAKE_RUN_ERROR:-}" ] || { echo "$FAKE_RUN_ERROR" >&2; exit 125; }; echo cid ;;
  "exec "*) case "$*" in
      *"/proc/1/comm"*) echo "${FAKE_PID1:-systemd}" ;;
      *is-system-running*) echo running ;;
      *getent*) [ "${FAKE_RESOLVE:-yes}" = yes ] ;;
      *) true ;;
    esac ;;
  "rm -f") true ;;
  *) echo "fake podman: unexpected $*" >&2; exit 3 ;;
esac
"""


@pytest.fixture
def check(tmp_path):
    """Run localcloud/check with the fake podman first on PATH; returns (completed process, podman calls)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "podman").write_text(FAKE_PODMAN)
    (bindir / "podman").chmod(0o755)
    plugins = tmp_path / "cni"
    plugins.mkdir()
    log = tmp_path / "podman.log"

    def run(plugin: bool = False, **fake: str):
        if plugin:
            (plugins / "dnsname").write_text("#!/bin/sh\n")
            (plugins / "dnsname").chmod(0o755)
        env = os.environ | {"PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_LOG": str(log),
                            "LONGHAUL_CNI_PLUGIN_DIRS": str(plugins)}
        env |= {f"FAKE_{k.upper()}": v for k, v in fake.items()}
        # a moto URL that is never asked: every case here fails before moto
        proc = subprocess.run([str(ROOT / "localcloud" / "check"), "--moto-url", "http://127.0.0.1:9"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        return proc, log.read_text() if log.exists() else ""

    return run


def test_a_network_without_name_resolution_names_the_dnsname_package(check):
    proc, calls = check(dns="false")
    assert proc.returncode == 1
    assert "no name resolution" in proc.stderr
    assert "apt-get install golang-github-containernetworking-plugin-dnsname" in proc.stderr
    assert "make host-packages" in proc.stderr
    # fails before it starts a container, and removes the throwaway network it made
    assert "run -d" not in calls and "network rm -f longhaul-check-" in calls


def test_a_network_made_before_the_plugin_was_installed_is_told_to_be_made_again(check):
    proc, _ = check(plugin=True, dns="false")
    assert proc.returncode == 1
    assert "created before its DNS plugin was installed" in proc.stderr and "podman network rm" in proc.stderr
    assert "apt-get install" not in proc.stderr


def test_names_that_do_not_resolve_name_the_plugin_even_when_dns_is_reported_on(check):
    proc, calls = check(resolve="no")
    assert proc.returncode == 1
    assert "cannot resolve" in proc.stderr and "golang-github-containernetworking-plugin-dnsname" in proc.stderr
    assert "rm -f -t 0 longhaul-check-" in calls  # its two containers are removed


def test_another_runtime_than_runc_names_the_setting(check):
    proc, _ = check(runtime="crun")
    assert proc.returncode == 1
    assert "'crun', not runc" in proc.stderr and "CONTAINERS_CONF=localcloud/containers.conf" in proc.stderr


def test_a_missing_base_image_names_the_script_that_builds_it(check):
    proc, _ = check(image="no")
    assert proc.returncode == 1 and "localcloud/base-image.sh bookworm" in proc.stderr


def test_a_container_refused_for_its_ulimits_names_containers_conf(check):
    proc, _ = check(run_error="Error: crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted")
    assert proc.returncode == 1
    assert "default_ulimits in localcloud/containers.conf" in proc.stderr


def test_a_pid_1_other_than_systemd_is_refused(check):
    proc, _ = check(pid1="sleep")
    assert proc.returncode == 1 and "PID 1 in the container is 'sleep', not systemd" in proc.stderr
