"""Every input is checked before the first change: playbooks/app_hosts.yml against a fresh systemd host.

A host role's preflight used to run at the start of its own role, so a bad uwsgi or nginx input was refused only
after flask_app had already installed packages and made /srv/<app> on the host. Each case here runs the playbook
with one bad input against a host just booted from the base image and asserts the refusal names the input and
that the host is exactly as it was: no app directory, no nginx, no app user, changed=0 in the recap.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from conftest import BIN, IMAGE, ROOT, run

CASES = {
    # The contract, then one input per host role: the first role's, and the later ones' that used to be checked
    # only after flask_app had changed the host.
    "contract": ({"longhaul_request_timeout": -5}, "longhaul_request_timeout"),
    "flask_app": ({"flask_app_module": "app:"}, "flask_app_module=app:"),
    "flask_app-choice": ({"flask_app_source": "svn"}, "flask_app_source"),
    "uwsgi": ({"uwsgi_threads": 4}, "uwsgi_threads=4"),
    "uwsgi-type": ({"uwsgi_listen": "many"}, "uwsgi_listen"),
    "nginx": ({"nginx_listen_port": 70000}, "nginx_listen_port=70000"),
}


@pytest.fixture(scope="module")
def fresh_host():
    """One host booted from the base image, named for this run only; removed at the end."""
    name = f"lhpf-{uuid.uuid4().hex[:8]}"
    run(["podman", "run", "-d", "--name", name, "--hostname", name, "--cap-add", "SYS_ADMIN",
         "--label", "longhaul.test=preflight", IMAGE, "/sbin/init"])
    try:
        run(["podman", "exec", name, "systemctl", "is-system-running", "--wait"], check=False, timeout=120)
        yield name
    finally:
        run(["podman", "rm", "-f", "-t", "0", name], check=False)


def state(host: str) -> dict[str, str]:
    """What the roles would change first: the app root, nginx's package, the app user, /etc/longhaul."""
    probe = ("for p in /srv/longhaul /etc/nginx /etc/longhaul /etc/systemd/system/uwsgi.service; do "
             "[ -e $p ] && echo $p present || echo $p absent; done; "
             "id longhaul >/dev/null 2>&1 && echo user present || echo user absent; "
             "dpkg-query -W -f='${Status}\\n' nginx 2>/dev/null | grep -q 'install ok' && echo nginx installed || "
             "echo nginx absent")
    out = run(["podman", "exec", host, "sh", "-c", probe]).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


@pytest.mark.parametrize("case", list(CASES))
def test_app_hosts_refuses_a_bad_input_before_the_host_changes(fresh_host, tmp_path, case):
    extra, words = CASES[case]
    before = state(fresh_host)
    assert before["/srv/longhaul"] == "absent" and before["nginx"] == "absent", before
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"app": {"hosts": {fresh_host: {
        "ansible_connection": "containers.podman.podman"}}}}, "vars": {
        "longhaul_request_timeout": 8, "longhaul_timeout_margin": 2, "longhaul_lb_type": "alb",
        "flask_app_local_dir": str(ROOT / "examples" / "app")}}}))
    done = run([str(BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/app_hosts.yml",
                "-e", json.dumps(extra)], check=False, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode != 0, f"{case}: app_hosts.yml accepted {extra}\n{out[-3000:]}"
    assert words in out, f"{case}: the refusal does not name {words!r}\n{out[-3000:]}"
    recap = re.search(rf"{re.escape(fresh_host)}\s*:\s*ok=\d+\s+changed=(\d+)", out)
    assert recap and recap.group(1) == "0", f"{case}: something changed before the refusal\n{out[-3000:]}"
    assert state(fresh_host) == before, f"{case}: the host changed"
    assert "Traceback" not in out
