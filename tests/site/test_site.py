"""site.yml on the local cloud: the whole pipeline, its re-run, a rolling deploy under load, a failed bake."""

from __future__ import annotations

import re

import collections
import shutil
import threading
import time
from pathlib import Path

import requests

from sitecloud import CONTRACT, PREFIX, ROOT, LocalCloud, Run

T = 8  # the contract's request timeout in these tests (conftest.CONTRACT)


def fleet(cloud: LocalCloud) -> dict[str, str]:
    """Instance id -> image of each running app host."""
    return {c["Labels"]["longhaul.instance-id"]: c["Image"]
            for c in cloud.containers(f"{PREFIX}-i-") if c["State"] == "running"}


def asg_instances(cloud: LocalCloud) -> dict[str, str]:
    """Instance id -> AMI of each instance the Auto Scaling group counts."""
    group = cloud.aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{PREFIX}-asg"])["AutoScalingGroups"][0]
    ids = [i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] in ("Pending", "InService")]
    reservations = cloud.aws("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["ImageId"] for r in reservations for i in r["Instances"]}


def local_image_of(cloud: LocalCloud, ami: str) -> str:
    """The local image an AMI names (the bake's longhaul:local-image tag)."""
    image = cloud.aws("ec2").describe_images(ImageIds=[ami])["Images"][0]
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}["longhaul:local-image"]


def test_site_builds_the_stack_from_the_baked_image(site_run: Run, local_cloud: LocalCloud) -> None:
    assert site_run.rc == 0, site_run.output[-3000:]
    instances = asg_instances(local_cloud)
    hosts = fleet(local_cloud)
    # One host per instance of the group, each booted from the image its AMI names.
    assert len(instances) >= 2
    assert set(hosts) == set(instances)
    for instance_id, ami in instances.items():
        assert hosts[instance_id] == local_image_of(local_cloud, ami)
    # No builder outlives the bake.
    assert local_cloud.containers(f"{PREFIX}-builder-") == []
    # Served through LB -> nginx -> uWSGI -> app, by every host in turn (round robin).
    answered = {requests.get(local_cloud.lb_url + "/", timeout=10).json()["host"] for _ in range(8)}
    assert answered == {f"{PREFIX}-{i}" for i in instances}
    # The smoke play's long request (T seconds of silence) came back, and the summary names the URL.
    assert f"GET /slow?s={T}: 200" in site_run.output
    assert local_cloud.lb_url in site_run.output
    # Each new host's start-to-healthy time (roles/local_fleet/files/seconds_to_healthy.sh, run inside it):
    # measured from PID 1's start, so positive and within the fleet's boot timeout (120 s).
    seconds = re.search(r"start_to_healthy_seconds:\s*\n((?:\s+\S+: [0-9.]+\n)+)", site_run.output)
    assert seconds, site_run.output[-3000:]
    values = [float(v) for v in re.findall(r": ([0-9.]+)", seconds.group(1))]
    assert len(values) == len(instances) and all(0 < v < 120 for v in values), seconds.group(0)
    print(f"site.yml, first run: {site_run.seconds:.0f} s, start to healthy {values} s")


def test_site_rerun_changes_nothing(site_run: Run, local_cloud: LocalCloud) -> None:
    assert site_run.rc == 0
    hosts_before = fleet(local_cloud)
    rerun = local_cloud.playbook("site.yml", *CONTRACT, log="site-2")
    assert rerun.rc == 0, rerun.output[-3000:]
    changed = {host: counts["changed"] for host, counts in rerun.recap.items() if counts["changed"]}
    assert changed == {}, f"re-run changed something: {changed}"
    # Same hosts: no bake, no replacement.
    assert fleet(local_cloud) == hosts_before
    assert "reused: an AMI with this bake id exists" in rerun.output
    print(f"site.yml, re-run: {rerun.seconds:.0f} s, changed=0")


class Load:
    """Steady requests through the LB from a few keep-alive clients until stopped (bounded in time and count).

    A mix of quick requests and long ones (half of T): a host drained in the middle of a long request must let
    it finish. Nothing is retried: every failure counts.
    """

    def __init__(self, url: str, workers: int = 4, max_seconds: float = 1200, max_requests: int = 100_000) -> None:
        self.url, self.workers = url, workers
        self.deadline = time.monotonic() + max_seconds
        self.budget = max_requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self.releases: collections.Counter[str] = collections.Counter()
        self.threads = [threading.Thread(target=self._worker, args=(n,)) for n in range(workers)]

    def _worker(self, n: int) -> None:
        session = requests.Session()
        paths = ["/", "/", "/", f"/slow?s={T // 2}"] if n == 0 else ["/"]
        i = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            with self.lock:
                if self.budget <= 0:
                    return
                self.budget -= 1
            path = paths[i % len(paths)]
            i += 1
            try:
                response = session.get(self.url + path, timeout=2 * T + 10)
                key = str(response.status_code)
                if path == "/" and response.status_code == 200:
                    with self.lock:
                        self.releases[response.json()["release"]] += 1
            except requests.RequestException as exc:
                key = "error"
                with self.lock:
                    self.errors.append(f"{path}: {type(exc).__name__}: {exc}"[:300])
            with self.lock:
                self.results[key] += 1
            # About 20 requests a second per worker: a steady load, not a benchmark on a shared 2-core machine.
            time.sleep(0.05)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_rolling_deploy_of_a_new_app_version_under_load(site_run: Run, local_cloud: LocalCloud,
                                                         tmp_path: Path) -> None:
    assert site_run.rc == 0
    old_hosts = fleet(local_cloud)
    # A new version of the app: other code (one more file), so the bake makes a new image and a new release.
    app = tmp_path / "app"
    shutil.copytree(ROOT / "examples" / "app", app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (app / "VERSION").write_text("2\n")
    new_version = ["-e", f"flask_app_local_dir={app}",
                   "-e", "longhaul_app_version=2"]
    with Load(local_cloud.lb_url) as load:
        time.sleep(3)
        run = local_cloud.playbook("site.yml", *CONTRACT, *new_version, log="site-rollout")
        time.sleep(3)
    assert run.rc == 0, run.output[-3000:]
    new_hosts = fleet(local_cloud)
    # Every host was replaced, and every new host runs the new image.
    assert set(new_hosts).isdisjoint(old_hosts)
    assert len(new_hosts) == len(old_hosts)
    assert len(set(new_hosts.values())) == 1 and set(new_hosts.values()).isdisjoint(old_hosts.values())
    # Zero failed requests through the whole run (bake, provision, drain and replace each host, smoke).
    total = sum(load.results.values())
    assert load.results.get("200", 0) == total, f"{dict(load.results)}; first errors: {load.errors[:5]}"
    # The load saw the old release and then the new one, so it really ran across the rollout.
    assert len(load.releases) == 2, dict(load.releases)
    print(f"rollout under load: {run.seconds:.0f} s, {total} requests, 0 failed, releases {dict(load.releases)}")


def test_a_failed_bake_leaves_no_builder_no_image_no_ami(site_run: Run, local_cloud: LocalCloud) -> None:
    assert site_run.rc == 0
    ec2 = local_cloud.aws("ec2")
    amis_before = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    images_before = set(local_cloud.podman("images", "--format", "{{.ID}}").split())
    # bake_fail changes the builder, then fails like a broken role would.
    run = local_cloud.playbook("playbooks/bake.yml", *CONTRACT, "-e", '{"ami_host_roles": ["bake_fail"]}',
                               log="bake-fail")
    assert run.rc != 0
    assert "bake_fail role failed on purpose" in run.output
    assert local_cloud.containers(f"{PREFIX}-builder-") == []
    assert set(local_cloud.podman("images", "--format", "{{.ID}}").split()) == images_before
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == amis_before
    builders = [i for r in ec2.describe_instances(Filters=[
        {"Name": "tag:longhaul:role", "Values": ["builder"]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
    assert builders == []
