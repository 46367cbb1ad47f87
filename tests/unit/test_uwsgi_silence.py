"""roles/uwsgi's wrapper: requests queued past the budget shed with 503; user harakiri armed at request start,
re-armed per chunk, disarmed on close.

uWSGI's ``uwsgi`` module exists only inside uWSGI; a fake records every ``set_user_harakiri`` call, and a fake
app module stands for ``uwsgi_module``. The wrapper is loaded from the role's files the way uWSGI imports it,
with a fake clock (``time.time``) that the tests move: it has been serving for an hour when a test starts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "roles" / "uwsgi" / "files" / "longhaul_silence.py"
HARAKIRI = 10
QUEUE_WAIT_MAX = 5
RETRY_AFTER = 3


class Inner:
    """A response iterable with close(), yielding the given items (an exception instance is raised there)."""

    def __init__(self, items, calls):
        self.items, self.calls, self.closed = list(items), calls, False

    def __iter__(self):
        for item in self.items:
            if isinstance(item, BaseException):
                raise item
            self.calls.append(("yield", item))
            yield item

    def close(self):
        self.closed = True


class Clock:
    """A fake ``time.time``: the wrapper binds it at import, for its ready time and every request."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(monkeypatch):
    """The wrapper loaded with a fake uwsgi and a fake app; ``calls`` logs harakiri and app events in order."""
    calls: list[tuple] = []
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    fake_uwsgi = types.ModuleType("uwsgi")
    fake_uwsgi.set_user_harakiri = lambda seconds: calls.append(("harakiri", seconds))
    app_module = types.ModuleType("fake_app")
    app_module.behaviour = {"items": [b"a", b"b", b"c"], "raise_on_call": None}

    def app(environ, start_response):
        calls.append(("app", environ["PATH_INFO"]))
        if app_module.behaviour["raise_on_call"]:
            raise app_module.behaviour["raise_on_call"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        app_module.inner = Inner(app_module.behaviour["items"], calls)
        return app_module.inner

    app_module.app = app
    monkeypatch.setitem(sys.modules, "uwsgi", fake_uwsgi)
    monkeypatch.setitem(sys.modules, "fake_app", app_module)
    monkeypatch.setenv("LONGHAUL_UWSGI_APP", "fake_app:app")
    monkeypatch.setenv("LONGHAUL_UWSGI_HARAKIRI", str(HARAKIRI))
    monkeypatch.setenv("LONGHAUL_UWSGI_QUEUE_WAIT_MAX", str(QUEUE_WAIT_MAX))
    monkeypatch.setenv("LONGHAUL_UWSGI_RETRY_AFTER", str(RETRY_AFTER))
    return types.SimpleNamespace(wrapper=load("longhaul_silence_under_test", clock), calls=calls, app=app_module,
                                 clock=clock)


def load(name, clock):
    """Import the wrapper from the role's files under ``name``, with the environment as it is now, as uWSGI's
    master does at start; then an hour of serving passes."""
    spec = importlib.util.spec_from_file_location(name, WRAPPER)
    wrapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapper)
    wrapper.loaded_at = clock.now
    clock.now += 3600
    return wrapper


def serve(env, path="/stream", **params):
    """Drive the wrapper as uWSGI does: call, iterate, always close. Returns (status, headers, body)."""
    started = []
    result = env.wrapper.application({"PATH_INFO": path, **params}, lambda status, headers, exc_info=None:
                                     started.append((status, headers)))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return started, body


def queued(env, seconds):
    """The uwsgi param nginx would have set ``seconds`` ago ($msec: seconds with milliseconds)."""
    return {"LONGHAUL_NGINX_START": f"{env.clock.now - seconds:.3f}"}


def harakiri(calls):
    return [seconds for kind, seconds in calls if kind == "harakiri"]


def test_arms_before_the_app_runs_and_rearms_after_every_chunk_then_disarms(env):
    started, body = serve(env)
    assert body == b"abc"
    assert started == [("200 OK", [("Content-Type", "text/plain")])]
    assert env.calls == [("harakiri", HARAKIRI), ("app", "/stream"),
                         ("yield", b"a"), ("harakiri", HARAKIRI),
                         ("yield", b"b"), ("harakiri", HARAKIRI),
                         ("yield", b"c"), ("harakiri", HARAKIRI),
                         ("harakiri", 0)]
    assert env.app.inner.closed


def test_the_seconds_come_from_the_environment(env, monkeypatch):
    monkeypatch.setenv("LONGHAUL_UWSGI_HARAKIRI", "37")
    env.wrapper = load("longhaul_silence_37", env.clock)
    serve(env)
    assert set(harakiri(env.calls)[:-1]) == {37} and harakiri(env.calls)[-1] == 0


def test_an_empty_body_is_armed_then_disarmed(env):
    env.app.behaviour["items"] = []
    _, body = serve(env)
    assert body == b"" and harakiri(env.calls) == [HARAKIRI, 0] and env.app.inner.closed


def test_an_exception_in_the_body_disarms_and_closes_the_inner_iterable(env):
    env.app.behaviour["items"] = [b"a", RuntimeError("boom")]
    with pytest.raises(RuntimeError, match="boom"):
        serve(env)
    assert harakiri(env.calls) == [HARAKIRI, HARAKIRI, 0, 0]
    assert env.app.inner.closed


def test_an_exception_in_the_app_call_disarms(env):
    env.app.behaviour["raise_on_call"] = ValueError("no app today")
    with pytest.raises(ValueError, match="no app today"):
        env.wrapper.application({"PATH_INFO": "/"}, lambda *a: None)
    assert harakiri(env.calls) == [HARAKIRI, 0]


def test_a_failing_close_of_the_inner_iterable_still_disarms(env):
    result = env.wrapper.application({"PATH_INFO": "/"}, lambda *a: None)
    next(iter(result))

    def broken_close():
        raise OSError("close failed")

    env.app.inner.close = broken_close
    with pytest.raises(OSError, match="close failed"):
        result.close()
    assert harakiri(env.calls)[-1] == 0


def test_an_inner_iterable_without_close_is_fine(env):
    result = env.wrapper.wrap(lambda environ, start_response: [b"x", b"y"], 5)({}, lambda *a: None)
    assert list(result) == [b"x", b"y"]
    result.close()
    assert harakiri(env.calls) == [5, 5, 5, 0]


def test_start_response_is_passed_through_untouched(env):
    seen = []

    def app(environ, start_response):
        seen.append(start_response)
        return [b""]

    def start_response(status, headers, exc_info=None):
        return None

    env.wrapper.wrap(app, 5)({}, start_response).close()
    assert seen == [start_response]


def test_load_app_follows_uwsgis_module_syntax(env):
    assert env.wrapper.load_app("fake_app:app") is env.app.app
    env.app.application = env.app.app
    assert env.wrapper.load_app("fake_app") is env.app.app
    with pytest.raises(ValueError, match="module:callable"):
        env.wrapper.load_app(":app")


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_harakiri_that_would_disarm_for_good_is_refused(env, value):
    with pytest.raises(ValueError, match="LONGHAUL_UWSGI_HARAKIRI"):
        env.wrapper.harakiri_seconds(value)


# --- the queue-wait budget


def test_a_request_queued_past_the_budget_is_shed_with_503_and_retry_after_without_running(env):
    started, body = serve(env, **queued(env, QUEUE_WAIT_MAX + 1))
    [(status, headers)] = started
    assert status == "503 Service Unavailable"
    assert dict(headers)["Retry-After"] == str(RETRY_AFTER)
    assert dict(headers)["Content-Length"] == str(len(body))
    assert body == f"overloaded: waited in the queue longer than {QUEUE_WAIT_MAX} s, retry after {RETRY_AFTER} s\n".encode()
    assert env.calls == [], "the app ran, or harakiri was armed, for a shed request"


def test_a_request_queued_within_the_budget_runs(env):
    started, body = serve(env, **queued(env, QUEUE_WAIT_MAX - 1))
    assert started[0][0] == "200 OK" and body == b"abc"
    assert ("app", "/stream") in env.calls and harakiri(env.calls)[0] == HARAKIRI


@pytest.mark.parametrize("value", ["", "soon", "12,5", "nan", "inf", "-inf", "1e999", "1.5e", "0", "1.5", None])
def test_without_a_usable_param_nothing_is_checked(env, value):
    # None: uWSGI reached without longhaul's nginx; the rest: garbled, or times long before uWSGI was ready
    # (never a reason to shed).
    started, body = serve(env, **({} if value is None else {"LONGHAUL_NGINX_START": value}))
    assert started[0][0] == "200 OK" and body == b"abc" and ("app", "/stream") in env.calls


def test_a_request_queued_through_a_graceful_reload_is_served_whatever_it_waited(env):
    # Handed over by nginx 1 s before this generation's master imported the wrapper (the reload's pause), and
    # taken by a worker later: it is served, as before the budget (a reload loses no request).
    handed = env.wrapper.loaded_at - 1
    env.clock.now = env.wrapper.loaded_at + QUEUE_WAIT_MAX + 30
    started, body = serve(env, LONGHAUL_NGINX_START=f"{handed:.3f}")
    assert started[0][0] == "200 OK" and body == b"abc" and ("app", "/stream") in env.calls
    # One handed over just after it was ready, queued as long: shed.
    env.calls.clear()
    started, _ = serve(env, LONGHAUL_NGINX_START=f"{env.wrapper.loaded_at + 1:.3f}")
    assert started[0][0].startswith("503") and env.calls == []


def test_the_budget_is_a_strict_bound_in_milliseconds(env):
    assert serve(env, **queued(env, QUEUE_WAIT_MAX))[0][0][0] == "200 OK"
    env.calls.clear()
    assert serve(env, **queued(env, QUEUE_WAIT_MAX + 0.002))[0][0][0].startswith("503") and env.calls == []


def test_a_start_in_the_future_is_no_wait(env):
    started, _ = serve(env, **queued(env, -60))
    assert started[0][0] == "200 OK"


def test_the_budget_and_retry_after_come_from_the_environment(env, monkeypatch):
    monkeypatch.setenv("LONGHAUL_UWSGI_QUEUE_WAIT_MAX", "30")
    monkeypatch.setenv("LONGHAUL_UWSGI_RETRY_AFTER", "0")
    env.wrapper = load("longhaul_silence_30", env.clock)
    assert serve(env, **queued(env, 20))[0][0][0] == "200 OK"
    env.calls.clear()
    started, body = serve(env, **queued(env, 31))
    [(status, headers)] = started
    # Retry-After 0 (nginx_shed_retry_after 0): still shed, without the header.
    assert status.startswith("503") and "Retry-After" not in dict(headers) and b"30 s" in body
    assert env.calls == []


def test_a_shed_answer_does_not_share_its_header_list_between_requests(env):
    first, _ = serve(env, **queued(env, QUEUE_WAIT_MAX + 1))
    first[0][1].append(("X-Added", "by a server"))
    second, _ = serve(env, **queued(env, QUEUE_WAIT_MAX + 1))
    assert ("X-Added", "by a server") not in second[0][1]


def test_total_mode_checks_the_queue_but_arms_no_user_harakiri(env, monkeypatch):
    monkeypatch.setenv("LONGHAUL_UWSGI_HARAKIRI", "global")
    env.wrapper = load("longhaul_silence_global", env.clock)
    started, body = serve(env, **queued(env, 1))
    assert started[0][0] == "200 OK" and body == b"abc"
    assert harakiri(env.calls) == [] and env.app.inner.closed
    # The app's own iterable is returned: nothing wraps a response uWSGI's global harakiri times.
    assert env.wrapper.application({"PATH_INFO": "/", **queued(env, 1)}, lambda *a: None) is env.app.inner
    env.calls.clear()
    assert serve(env, **queued(env, QUEUE_WAIT_MAX + 1))[0][0][0].startswith("503") and env.calls == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("LONGHAUL_UWSGI_QUEUE_WAIT_MAX", "0"), ("LONGHAUL_UWSGI_QUEUE_WAIT_MAX", "5s"),
     ("LONGHAUL_UWSGI_RETRY_AFTER", "-1"), ("LONGHAUL_UWSGI_HARAKIRI", "globally")],
)
def test_a_bad_setting_stops_the_import_naming_it(env, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}'"):
        load("longhaul_silence_bad", env.clock)


def test_a_missing_budget_stops_the_import(env, monkeypatch):
    monkeypatch.delenv("LONGHAUL_UWSGI_QUEUE_WAIT_MAX")
    with pytest.raises(KeyError, match="LONGHAUL_UWSGI_QUEUE_WAIT_MAX"):
        load("longhaul_silence_no_budget", env.clock)


def test_after_a_reload_the_ini_value_wins_over_the_inherited_one(env, monkeypatch):
    # A graceful reload re-executes the master with the environment of the previous config (the VM's snapshot,
    # os.environ, holds it), then the ini's env = lines overwrite it in the C environment only.
    name = "LONGHAUL_UWSGI_TEST_RELOADED"
    monkeypatch.setenv(name, "2")
    os.putenv(name, "1000")
    assert os.environ[name] == "2"
    assert env.wrapper.setting(name) == "1000"


def test_settings_put_in_the_c_environment_by_uwsgi_are_found(env):
    # uWSGI's env = lines call putenv() after pyuwsgi's VM took its os.environ snapshot.
    name = "LONGHAUL_UWSGI_TEST_ONLY_IN_C"
    os.putenv(name, "app_from_ini:app")
    try:
        assert name not in os.environ
        assert env.wrapper.setting(name) == "app_from_ini:app"
    finally:
        os.unsetenv(name)
    with pytest.raises(KeyError, match=name):
        env.wrapper.setting(name)
