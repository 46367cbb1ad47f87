"""The roles' list builders and the bake's digests (plugins/filter/longhaul_data.py)."""

from __future__ import annotations

import subprocess

import longhaul_data as d


def shell_digest(base, find_args: str) -> str:
    """The shell pipeline the bake used before, as the reference the filter must equal (stable bake ids)."""
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail && cd {base} && find {find_args} -print0 | LC_ALL=C sort -z"
                       " | xargs -0 sha256sum | sha256sum | cut -c1-12"],
        capture_output=True, text=True, check=True).stdout.strip()


def tree(tmp_path):
    for rel, text in {"app.py": "app", "B.txt": "b", "static/site.css": "x", "__pycache__/app.cpython-311.pyc": "c",
                      "pkg/mod.pyc": "p", "pkg/__init__.py": "", "molecule/default/m.yml": "m"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_tree_digest_of_a_directory_equals_the_shell_pipeline(tmp_path):
    base = tree(tmp_path)
    want = shell_digest(base, ". -type f ! -path '*/__pycache__/*' ! -name '*.pyc'")
    assert d.tree_digest(str(base), ["."], skip_dirs=["__pycache__"]) == want


def test_tree_digest_of_several_paths_equals_the_shell_pipeline_and_skips_molecule(tmp_path):
    base = tree(tmp_path)
    want = shell_digest(base, "static pkg molecule app.py -type f ! -path '*/__pycache__/*' ! -name '*.pyc' "
                              "! -path '*/molecule/*'")
    assert d.tree_digest(str(base), ["static", "pkg", "molecule", "app.py"]) == want


def test_tree_digest_changes_with_a_file_and_not_with_bytecode(tmp_path):
    base = tree(tmp_path)
    before = d.tree_digest(str(base))
    (base / "pkg" / "other.pyc").write_text("ignored")
    assert d.tree_digest(str(base)) == before
    (base / "static" / "site.css").write_text("changed")
    assert d.tree_digest(str(base)) != before


def test_fleet_wanted_names_hosts_by_instance_and_takes_each_amis_local_image():
    instances = [{"instance_id": "i-b2", "image_id": "ami-2"}, {"instance_id": "i-a1", "image_id": "ami-1"}]
    images = [{"image_id": "ami-1", "tags": {"longhaul:local-image": "localhost/longhaul-app:abc"}},
              {"image_id": "ami-2", "tags": {}}]
    assert d.fleet_wanted(instances, images, "lh-i-") == [
        {"name": "lh-i-a1", "instance_id": "i-a1", "ami": "ami-1", "image": "localhost/longhaul-app:abc"},
        {"name": "lh-i-b2", "instance_id": "i-b2", "ami": "ami-2", "image": ""},
    ]
    assert d.fleet_wanted(None, None, "lh-i-") == []


def test_fleet_servers_are_addressed_on_the_network_by_instance_id():
    started = [{"item": {"instance_id": "i-a1"},
                "container": {"NetworkSettings": {"Networks": {"lh-net": {"IPAddress": "10.89.0.5"}}}}}]
    assert d.fleet_servers(started, "lh-net", "80") == [{"name": "i-a1", "port": 80, "address": "10.89.0.5"}]


def test_asg_tags_propagate_nothing():
    assert d.asg_tags({"longhaul:stack": "s", "Name": "s-asg"}) == [
        {"longhaul:stack": "s", "propagate_at_launch": False}, {"Name": "s-asg", "propagate_at_launch": False}]


def test_existing_keeps_order_and_drops_missing(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "c").write_text("")
    assert d.existing(["c", "b", "a"], str(tmp_path)) == ["c", "a"]
