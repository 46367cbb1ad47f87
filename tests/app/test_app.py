"""The demo app's behaviour, through Flask's test client (no server, runs in a second)."""

from __future__ import annotations

import importlib.util
import pathlib
import time

import pytest

APP_FILE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "app" / "app.py"


@pytest.fixture(scope="module")
def app_module():
    spec = importlib.util.spec_from_file_location("longhaul_demo_app", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def client(app_module):
    return app_module.app.test_client()


def test_hello_names_the_host(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.get_json()["message"] == "hello from longhaul"
    assert resp.get_json()["host"]
    # The release is the directory above the app's: here, examples/ (releases/<id>/ on a host).
    assert resp.get_json()["release"] == APP_FILE.parent.parent.name


def test_healthz_answers_whatever_the_host_header(client):
    for host in ("localhost", "10.0.0.7", "lb-health-check.invalid"):
        resp = client.get("/healthz", headers={"Host": host})
        assert resp.status_code == 200
        assert resp.data == b"ok\n"


def test_slow_sleeps_then_answers(client):
    started = time.monotonic()
    resp = client.get("/slow?s=1")
    took = time.monotonic() - started
    assert resp.status_code == 200
    assert resp.get_json()["slept"] == 1
    assert 1.0 <= took < 3.0


def test_slow_sends_nothing_before_the_end(app_module, monkeypatch):
    # The body is one piece produced after the sleep: no early byte keeps an idle timer alive.
    slept = []
    monkeypatch.setattr(app_module.time, "sleep", slept.append)
    resp = app_module.app.test_client().get("/slow?s=7")
    assert slept == [7]
    # A known Content-Length means one body written at the end, not a stream.
    assert int(resp.headers["Content-Length"]) == len(resp.data)


def test_stream_sends_one_chunk_per_second(app_module, monkeypatch):
    slept = []
    monkeypatch.setattr(app_module.time, "sleep", slept.append)
    resp = app_module.app.test_client().get("/stream?s=3", buffered=False)
    assert resp.headers["X-Accel-Buffering"] == "no"
    chunks = list(resp.response)
    assert chunks == [b"chunk 1/3\n", b"chunk 2/3\n", b"chunk 3/3\n", b"done\n"]
    assert slept == [1, 1, 1]


def test_stream_really_spreads_chunks_over_time(client):
    started = time.monotonic()
    resp = client.get("/stream?s=1", buffered=False)
    first = next(iter(resp.response))
    first_at = time.monotonic() - started
    rest = b"".join(resp.response)
    assert first == b"chunk 1/1\n"
    assert first_at < 0.5
    assert rest.endswith(b"done\n")
    assert time.monotonic() - started >= 1.0


def test_cpu_burns_the_requested_time(client):
    started = time.process_time()
    resp = client.get("/cpu?ms=50")
    assert resp.status_code == 200
    assert resp.get_json()["rounds"] >= 1
    assert time.process_time() - started >= 0.05


@pytest.mark.parametrize(
    "url",
    ["/slow?s=abc", "/slow?s=-1", "/slow?s=3601", "/stream?s=x", "/cpu?ms=60001", "/cpu?ms=1.5"],
)
def test_bad_parameters_are_a_400_with_a_reason(client, url):
    resp = client.get(url)
    assert resp.status_code == 400
    assert "must be" in resp.get_json()["error"]


def test_unknown_path_is_404(client):
    assert client.get("/nope").status_code == 404
