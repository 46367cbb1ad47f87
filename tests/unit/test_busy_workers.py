"""roles/uwsgi's busy-workers publisher, run for real: a fake uWSGI stats server on a temporary unix socket
(JSON shaped like pyuwsgi 2.0.30's stats output) and a moto server as CloudWatch, read back with boto3.

The script runs as a subprocess with a scrubbed environment (no AWS settings but the ones each test gives), as
the systemd service runs it; AWS_ENDPOINT_URL points boto3 at moto.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from fake_uwsgi_stats import StatsServer, stats_document
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "uwsgi" / "files" / "longhaul_busy_workers.py"
NAMESPACE = "Longhaul"
METRIC = "BusyWorkersPercent"
REGION = "eu-central-1"
FAST = ["--interval", "0.05"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def stats(tmp_path):
    servers: list[StatsServer] = []

    def start(*documents: list[str]) -> StatsServer:
        servers.append(StatsServer(tmp_path / f"stats{len(servers)}.sock", list(documents)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def asg():
    return f"longhaul-test-{uuid.uuid4().hex[:8]}"


def write_env(tmp_path: Path, asg: str, publish: str = "true", **extra: str) -> Path:
    lines = {"LONGHAUL_STACK": "test", "LONGHAUL_ASG_NAME": asg,
             "LONGHAUL_BUSY_WORKERS_METRIC": f"{NAMESPACE}/{METRIC}", "LONGHAUL_PUBLISH_BUSY_WORKERS": publish}
    lines.update(extra)
    path = tmp_path / "instance.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in lines.items() if value is not None))
    return path


def run(tmp_path: Path, *args: str, endpoint: str | None = None, **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    clean.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                 AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                 AWS_EC2_METADATA_DISABLED="true")
    if endpoint:
        clean["AWS_ENDPOINT_URL"] = endpoint
    clean.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=clean, capture_output=True, text=True,
                          timeout=30, check=False)


def datapoints(moto_url: str, asg: str, region: str = REGION) -> tuple[list[dict], list[dict]]:
    """(list_metrics entries, get_metric_statistics Average datapoints) for this ASG's metric."""
    client = boto3.client("cloudwatch", region_name=region, endpoint_url=moto_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    dimensions = [{"Name": "AutoScalingGroupName", "Value": asg}]
    metrics = client.list_metrics(Namespace=NAMESPACE, MetricName=METRIC, Dimensions=dimensions)["Metrics"]
    now = datetime.now(timezone.utc)
    points = client.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=METRIC, Dimensions=dimensions, StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10), Period=600, Statistics=["Average", "SampleCount"], Unit="Percent",
    )["Datapoints"]
    return metrics, points


APP4_PLUS_HEALTH_WORKER = ["busy", "idle", "busy", "cheap", "busy"]  # 2 of 4 app workers busy; worker 5 too


def test_publishes_the_share_of_busy_app_workers(tmp_path, moto_url, stats, asg):
    server = stats(APP4_PLUS_HEALTH_WORKER)
    result = run(tmp_path, "--env-file", str(write_env(tmp_path, asg, AWS_REGION=REGION)),
                 "--stats-socket", server.path, "--app-workers", "4", "--samples", "3", *FAST, endpoint=moto_url)
    assert result.returncode == 0, result.stderr
    assert server.connections == 3
    metrics, points = datapoints(moto_url, asg)
    assert metrics == [{"Namespace": NAMESPACE, "MetricName": METRIC,
                        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": asg}]}]
    assert len(points) == 1
    # Worker 5 serves another socket: counting it would say 3 of 5 = 60 %.
    assert points[0]["Average"] == 50.0
    assert points[0]["SampleCount"] == 1.0
    assert points[0]["Unit"] == "Percent"
    assert f"AutoScalingGroupName={asg} = 50.00 %" in result.stderr


def test_region_from_instance_metadata_v2(tmp_path, moto_url, stats, asg):
    """No region in the file or the environment: IMDSv2, token first (a GET without it is refused)."""
    token = "tok-" + uuid.uuid4().hex

    class Imds(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802
            ok = self.path == "/latest/api/token" and "X-aws-ec2-metadata-token-ttl-seconds" in self.headers
            self.answer(200 if ok else 400, token)

        def do_GET(self):  # noqa: N802
            ok = self.path == "/latest/meta-data/placement/region" and self.headers.get(
                "X-aws-ec2-metadata-token") == token
            self.answer(200 if ok else 401, "ap-southeast-2")

        def answer(self, code: int, body: str) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    imds = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Imds)
    threading.Thread(target=imds.serve_forever, daemon=True).start()
    try:
        server = stats(["busy", "idle"])
        result = run(tmp_path, "--env-file", str(write_env(tmp_path, asg)), "--stats-socket", server.path,
                     "--app-workers", "2", "--samples", "1", endpoint=moto_url, AWS_EC2_METADATA_DISABLED="false",
                     AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{imds.server_address[1]}")
    finally:
        imds.shutdown()
        imds.server_close()
    assert result.returncode == 0, result.stderr
    assert datapoints(moto_url, asg, "ap-southeast-2")[1][0]["Average"] == 50.0
    assert datapoints(moto_url, asg, REGION) == ([], [])


def test_print_averages_the_samples_and_publishes_nothing(tmp_path, moto_url, stats, asg):
    server = stats(["busy", "idle", "idle", "idle"], ["busy", "busy", "busy", "busy", "idle"])
    started = time.monotonic()
    result = run(tmp_path, "--print", "--env-file", str(write_env(tmp_path, asg, AWS_REGION=REGION)),
                 "--stats-socket", server.path, "--app-workers", "4", "--samples", "4", "--interval", "0.2",
                 endpoint=moto_url)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    # 25 % once, then 100 % three times (worker 5 idle must not count either).
    assert json.loads(result.stdout) == {"namespace": NAMESPACE, "metric": METRIC, "asg": asg, "value": 81.25,
                                         "samples": 4, "skipped": 0}
    assert elapsed >= 0.6  # samples spread over the run, not read back to back
    assert datapoints(moto_url, asg) == ([], [])


@pytest.mark.parametrize("publish", ["false", None])
def test_disabled_publishes_nothing(tmp_path, moto_url, stats, asg, publish):
    server = stats(APP4_PLUS_HEALTH_WORKER)
    result = run(tmp_path, "--env-file", str(write_env(tmp_path, asg, publish, AWS_REGION=REGION)),
                 "--stats-socket", server.path, "--app-workers", "4", "--samples", "3", *FAST, endpoint=moto_url)
    assert result.returncode == 0, result.stderr
    assert "not publishing: LONGHAUL_PUBLISH_BUSY_WORKERS is not true" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert server.connections == 0
    assert datapoints(moto_url, asg) == ([], [])


def test_absent_instance_settings_publish_nothing(tmp_path, stats):
    server = stats(APP4_PLUS_HEALTH_WORKER)
    result = run(tmp_path, "--env-file", str(tmp_path / "absent.env"), "--stats-socket", server.path,
                 "--app-workers", "4")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"INFO not publishing: {tmp_path / 'absent.env'} is absent " \
                                    "(no LONGHAUL_PUBLISH_BUSY_WORKERS=true)"
    assert server.connections == 0


@pytest.mark.parametrize("stale", [False, True], ids=["absent", "stale"])
def test_unreachable_stats_socket_skips_samples(tmp_path, moto_url, asg, stale):
    path = tmp_path / "stats.sock"
    if stale:  # the file of a uWSGI that died: connect() is refused
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
    result = run(tmp_path, "--env-file", str(write_env(tmp_path, asg, AWS_REGION=REGION)),
                 "--stats-socket", str(path), "--app-workers", "4", "--samples", "3", *FAST, endpoint=moto_url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    reason = "refused the connection" if stale else "is absent"
    assert f"WARNING sample 1 skipped: stats socket {path} {reason}" in result.stderr
    assert "nothing published: all 3 samples" in result.stderr
    assert datapoints(moto_url, asg) == ([], [])


def test_a_skipped_sample_does_not_count(tmp_path, moto_url, asg):
    """uWSGI restarting mid-run (its socket file gone for a while): the samples read are averaged, the missing
    one is skipped, not taken as 0 %. Timed from the first read, so the script's start-up time does not matter:
    reads at 0, 0.5 and 1.0 s, the socket absent from just after the first read until 0.75 s."""
    path = tmp_path / "stats.sock"

    def restarting_uwsgi() -> None:
        for statuses, downtime in ((["busy", "idle", "idle", "idle"], 0.75), (["busy", "busy", "idle", "busy"], 0)):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.bind(str(path))
                sock.listen(1)
                sock.settimeout(20)
                conn, _ = sock.accept()
                with conn:
                    conn.sendall(stats_document(statuses))
            path.unlink()
            time.sleep(downtime)

    thread = threading.Thread(target=restarting_uwsgi, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    result = run(tmp_path, "--env-file", str(write_env(tmp_path, asg, AWS_REGION=REGION)),
                 "--stats-socket", str(path), "--app-workers", "4", "--samples", "3", "--interval", "0.5",
                 endpoint=moto_url)
    thread.join(5)
    assert result.returncode == 0, result.stderr
    assert f"WARNING sample 2 skipped: stats socket {path} is absent" in result.stderr
    assert "(2 samples, 1 skipped, 4 app workers)" in result.stderr
    assert datapoints(moto_url, asg)[1][0]["Average"] == 50.0  # (25 + 75) / 2


@pytest.mark.parametrize(("overrides", "named"), [
    ({"LONGHAUL_PUBLISH_BUSY_WORKERS": "yes"}, "LONGHAUL_PUBLISH_BUSY_WORKERS='yes'"),
    ({"LONGHAUL_ASG_NAME": None}, "LONGHAUL_ASG_NAME is missing"),
    ({"LONGHAUL_BUSY_WORKERS_METRIC": "BusyWorkersPercent"}, "LONGHAUL_BUSY_WORKERS_METRIC='BusyWorkersPercent'"),
    ({"AWS_REGION": None}, "no AWS region: none of AWS_REGION in"),
], ids=["flag", "asg", "metric", "region"])
def test_bad_settings_are_named(tmp_path, stats, asg, overrides, named):
    values = {"AWS_REGION": REGION, **overrides}
    publish = values.pop("LONGHAUL_PUBLISH_BUSY_WORKERS", "true")
    env_file = write_env(tmp_path, asg, publish, **values)  # a None value leaves the line out
    server = stats(APP4_PLUS_HEALTH_WORKER)
    # The metadata endpoint is a closed port: the region lookup fails at once, not after a timeout.
    result = run(tmp_path, "--env-file", str(env_file), "--stats-socket", server.path, "--app-workers", "4",
                 AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("ERROR ")
    assert named in result.stderr
    assert "Fix" in result.stderr
    assert server.connections == 0


def test_bad_arguments_are_refused(tmp_path):
    result = run(tmp_path, "--app-workers", "0")
    assert result.returncode == 2
    assert "--app-workers: '0' is not a whole number >= 1" in result.stderr
