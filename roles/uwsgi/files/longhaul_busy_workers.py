#!/usr/bin/env python3
"""Publish the share of busy uWSGI app workers to CloudWatch (the ASG's busy_workers scaling metric).

Run once a minute by a systemd timer. Each run reads uWSGI's stats socket several times (``--samples`` reads,
``--interval`` seconds apart), counts the busy workers among the app workers (ids 1..``--app-workers``; workers
above that serve other sockets and do not dilute the share) and publishes the average percentage with
``cloudwatch.put_metric_data``: namespace/metric from LONGHAUL_BUSY_WORKERS_METRIC, dimension
AutoScalingGroupName=LONGHAUL_ASG_NAME, unit Percent, as roles/aws_asg's target-tracking policy reads it.

The instance's user data writes the settings to /etc/longhaul/instance.env; nothing is published unless
LONGHAUL_PUBLISH_BUSY_WORKERS=true there, so the script is installed in every AMI and stays inert elsewhere.
Region: AWS_REGION in that file, else the environment's AWS_REGION / AWS_DEFAULT_REGION, else the instance
metadata (IMDSv2). AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_CLOUDWATCH) are honoured by boto3 itself.

``--print`` reads and averages the same way, prints the result as one JSON line and publishes nothing (no AWS
settings needed): for operators and tests.

Exit codes: 0 published, disabled, or nothing to publish (uWSGI down: every sample skipped); 2 bad settings;
1 the publication failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.request

LOG = logging.getLogger("longhaul-busy-workers")

DEFAULT_ENV_FILE = "/etc/longhaul/instance.env"
DEFAULT_STATS_SOCKET = "/run/longhaul/stats.sock"
IMDS_ENDPOINT = "http://169.254.169.254"
IMDS_TIMEOUT = 1.0
STATS_TIMEOUT = 2.0
STATS_MAX_BYTES = 16 * 1024 * 1024


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it, its value, the rule and the fix."""


class SampleError(Exception):
    """One read of the stats socket failed (uWSGI restarting, stale socket, garbage); the sample is skipped."""


def read_env_file(path: str) -> dict[str, str] | None:
    """KEY=VALUE lines (comments, blank lines and an ``export`` prefix allowed); None when the file is absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"cannot read the instance settings {path}: {exc.strerror}. Fix: make it readable "
                            "by the service's user, or pass --env-file") from exc
    values: dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}: {raw!r} is not KEY=VALUE. Fix the user data that writes it")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def publish_enabled(env: dict[str, str] | None, path: str) -> bool:
    if env is None:
        return False
    flag = env.get("LONGHAUL_PUBLISH_BUSY_WORKERS", "false").strip().lower()
    if flag not in ("true", "false"):
        raise SettingsError(
            f"LONGHAUL_PUBLISH_BUSY_WORKERS={env['LONGHAUL_PUBLISH_BUSY_WORKERS']!r} in {path} is neither true "
            "nor false. Fix: write true (the ASG scales on busy_workers) or false (roles/aws_asg's user data "
            "writes it from aws_asg_scaling_metric)")
    return flag == "true"


def metric_settings(env: dict[str, str], path: str) -> tuple[str, str, str]:
    """(namespace, metric name, ASG name) from the instance settings."""
    asg = env.get("LONGHAUL_ASG_NAME", "").strip()
    if not asg:
        raise SettingsError(f"LONGHAUL_ASG_NAME is missing or empty in {path}, and the metric's dimension "
                            "AutoScalingGroupName needs it. Fix: the user data must write the ASG's name "
                            "(roles/aws_asg's user-data.sh.j2 does)")
    spec = env.get("LONGHAUL_BUSY_WORKERS_METRIC", "").strip()
    namespace, sep, metric = spec.rpartition("/")
    if not sep or not namespace or not metric:
        raise SettingsError(f"LONGHAUL_BUSY_WORKERS_METRIC={spec!r} in {path} is not <namespace>/<metric> "
                            "(e.g. Longhaul/BusyWorkersPercent). Fix: set aws_asg_busy_workers_namespace and "
                            "aws_asg_busy_workers_metric and re-run roles/aws_asg")
    return namespace, metric, asg


def imds_region(endpoint: str, timeout: float) -> tuple[str | None, str]:
    """(region, why not) from IMDSv2: token PUT, then GET placement/region, each within ``timeout`` s."""
    base = endpoint.rstrip("/")
    try:
        request = urllib.request.Request(f"{base}/latest/api/token", method="PUT",
                                         headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (fixed http endpoint)
            token = response.read().decode("ascii").strip()
        request = urllib.request.Request(f"{base}/latest/meta-data/placement/region",
                                         headers={"X-aws-ec2-metadata-token": token})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            region = response.read().decode("ascii").strip()
    except (OSError, urllib.error.URLError, UnicodeDecodeError) as exc:
        return None, str(exc)
    return (region, "") if region else (None, "empty answer")


def find_region(env: dict[str, str], path: str) -> str:
    for source, value in ((f"AWS_REGION in {path}", env.get("AWS_REGION")),
                          ("AWS_REGION", os.environ.get("AWS_REGION")),
                          ("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION"))):
        if value and value.strip():
            LOG.debug("region %s from %s", value.strip(), source)
            return value.strip()
    endpoint = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", IMDS_ENDPOINT)
    why = "disabled by AWS_EC2_METADATA_DISABLED=true"
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true":
        region, why = imds_region(endpoint, IMDS_TIMEOUT)
        if region:
            LOG.debug("region %s from the instance metadata", region)
            return region
    raise SettingsError(f"no AWS region: none of AWS_REGION in {path}, AWS_REGION, AWS_DEFAULT_REGION is set "
                        f"and the instance metadata ({endpoint}) gave none: {why}. Fix: set AWS_REGION in {path} "
                        "or in the service's environment")


def read_stats(path: str, timeout: float = STATS_TIMEOUT) -> dict:
    """uWSGI's stats server writes one JSON document on connect and closes."""
    chunks: list[bytes] = []
    size = 0
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > STATS_MAX_BYTES:
                    raise SampleError(f"stats socket {path} sent more than {STATS_MAX_BYTES} bytes")
    except FileNotFoundError as exc:
        raise SampleError(f"stats socket {path} is absent (uWSGI stopped or restarting)") from exc
    except ConnectionRefusedError as exc:
        raise SampleError(f"stats socket {path} refused the connection (uWSGI stopped or restarting)") from exc
    except TimeoutError as exc:
        raise SampleError(f"stats socket {path} did not answer within {timeout} s") from exc
    except PermissionError as exc:
        raise SampleError(f"stats socket {path}: permission denied; run as the uWSGI user or group") from exc
    except OSError as exc:
        raise SampleError(f"stats socket {path}: {exc}") from exc
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:
        raise SampleError(f"stats socket {path} sent no valid JSON ({size} bytes): {exc}") from exc


def busy_share(stats: dict, app_workers: int) -> tuple[float, int, int]:
    """(busy percent, busy, counted) over the app workers, ids 1..app_workers.

    Every app worker counts in the denominator whatever its status (idle, cheap: not spawned by the cheaper,
    pause, sig...: capacity all the same); only status ``busy`` counts as busy.
    """
    workers = stats.get("workers") if isinstance(stats, dict) else None
    if not isinstance(workers, list):
        raise SampleError("stats JSON has no workers list")
    app = [w for w in workers if isinstance(w, dict) and isinstance(w.get("id"), int) and 1 <= w["id"] <= app_workers]
    if not app:
        raise SampleError(f"stats list no worker with id 1..{app_workers}")
    busy = sum(1 for w in app if w.get("status") == "busy")
    return 100.0 * busy / len(app), busy, len(app)


def sample(stats_socket: str, app_workers: int, samples: int, interval: float) -> tuple[list[float], int]:
    """Read the stats ``samples`` times, ``interval`` seconds apart; (percentages read, skipped count)."""
    values: list[float] = []
    skipped = 0
    reasons: set[str] = set()
    start = time.monotonic()
    for index in range(samples):
        if index:
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        try:
            percent, busy, counted = busy_share(read_stats(stats_socket), app_workers)
        except SampleError as exc:
            skipped += 1
            if str(exc) not in reasons:  # one line per distinct reason, not one per second
                reasons.add(str(exc))
                LOG.warning("sample %d skipped: %s", index + 1, exc)
            continue
        if counted != app_workers:
            message = f"{counted} app workers in the stats, --app-workers is {app_workers}"
            if message not in reasons:
                reasons.add(message)
                LOG.warning("%s (uwsgi_processes differs from the running uWSGI?)", message)
        LOG.debug("sample %d: %d of %d app workers busy", index + 1, busy, counted)
        values.append(percent)
    return values, skipped


def put_metric(namespace: str, metric: str, asg: str, region: str, value: float, timestamp: float) -> None:
    import boto3  # noqa: PLC0415 (only when publishing: --print and disabled runs need no boto3)
    from botocore.config import Config  # noqa: PLC0415

    config = Config(region_name=region, connect_timeout=5, read_timeout=10,
                    retries={"mode": "standard", "max_attempts": 3})
    client = boto3.client("cloudwatch", config=config)  # AWS_ENDPOINT_URL[_CLOUDWATCH] honoured by boto3
    client.put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": metric,
        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": asg}],
        "Timestamp": timestamp,
        "Value": value,
        "Unit": "Percent",
    }])


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--env-file", default=DEFAULT_ENV_FILE, help="instance settings (default %(default)s)")
    parser.add_argument("--stats-socket", default=DEFAULT_STATS_SOCKET,
                        help="uWSGI's stats socket (uwsgi_stats_socket; default %(default)s)")
    parser.add_argument("--app-workers", type=positive_int, required=True,
                        help="app workers N (uwsgi_processes): ids 1..N count, workers above N do not")
    parser.add_argument("--samples", type=positive_int, default=50, help="reads per run (default %(default)s)")
    parser.add_argument("--interval", type=non_negative_float, default=1.0,
                        help="seconds between reads (default %(default)s)")
    parser.add_argument("--print", "--dry-run", dest="print_only", action="store_true",
                        help="print the value as JSON instead of publishing (whatever the instance settings say)")
    parser.add_argument("--verbose", action="store_true", help="log every sample")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(message)s")
    try:
        env = read_env_file(args.env_file)
        if args.print_only:
            namespace = metric = asg = None
            if publish_enabled(env, args.env_file):
                namespace, metric, asg = metric_settings(env, args.env_file)
        else:
            if env is None:
                LOG.info("not publishing: %s is absent (no LONGHAUL_PUBLISH_BUSY_WORKERS=true)", args.env_file)
                return 0
            if not publish_enabled(env, args.env_file):
                LOG.info("not publishing: LONGHAUL_PUBLISH_BUSY_WORKERS is not true in %s", args.env_file)
                return 0
            namespace, metric, asg = metric_settings(env, args.env_file)
            region = find_region(env, args.env_file)
    except SettingsError as exc:
        LOG.error("%s", exc)
        return 2

    started = time.time()
    values, skipped = sample(args.stats_socket, args.app_workers, args.samples, args.interval)
    average = round(sum(values) / len(values), 2) if values else None
    if args.print_only:
        print(json.dumps({"namespace": namespace, "metric": metric, "asg": asg, "value": average,
                          "samples": len(values), "skipped": skipped}))
        return 0
    if average is None:
        LOG.warning("nothing published: all %d samples of %s skipped", skipped, args.stats_socket)
        return 0
    try:
        put_metric(namespace, metric, asg, region, average, started)
    except Exception as exc:  # noqa: BLE001 (botocore's errors have no common import-free base; say what failed)
        LOG.error("put_metric_data %s/%s AutoScalingGroupName=%s in %s failed: %s: %s",
                  namespace, metric, asg, region, type(exc).__name__, exc)
        return 1
    LOG.info("published %s/%s AutoScalingGroupName=%s = %.2f %% (%d samples, %d skipped, %d app workers)",
             namespace, metric, asg, average, len(values), skipped, args.app_workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
