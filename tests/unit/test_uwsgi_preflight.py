"""The uwsgi role's preflight refuses bad worker settings before anything on a host changes."""

from __future__ import annotations

from test_timeouts_playbook import role_tasks


def run_preflight(tmp_path, *extra: str):
    return role_tasks(tmp_path, "uwsgi", "preflight", "-e", "longhaul_request_timeout=60", *extra)


def test_default_worker_shape_passes(tmp_path):
    run = run_preflight(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_threads_are_refused_naming_the_variable_the_rule_and_the_fix(tmp_path):
    run = run_preflight(tmp_path, "-e", "uwsgi_threads=4")
    assert run.returncode != 0
    out = " ".join(run.stdout.split())  # the YAML callback wraps long messages
    assert "uwsgi_threads=4 (rule: one thread per worker" in out
    assert "Fix: uwsgi_threads: 1" in out and "uwsgi_threads_accept_inexact_harakiri: true" in out


def test_threads_pass_when_the_inexact_harakiri_is_accepted(tmp_path):
    run = run_preflight(tmp_path, "-e", "uwsgi_threads=4", "-e", "uwsgi_threads_accept_inexact_harakiri=true")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_health_socket_equal_to_the_app_socket_is_refused(tmp_path):
    run = run_preflight(tmp_path, "-e", "uwsgi_health_socket=/run/longhaul/uwsgi.sock")
    assert run.returncode != 0
    out = " ".join(run.stdout.split())
    assert "uwsgi_health_socket=/run/longhaul/uwsgi.sock" in out and "uwsgi_socket=/run/longhaul/uwsgi.sock" in out
    assert "(rule: the health check has a socket of its own" in out and "Fix:" in out


def test_negative_health_workers_are_refused(tmp_path):
    run = run_preflight(tmp_path, "-e", "uwsgi_health_workers=-1")
    assert run.returncode != 0
    assert "uwsgi_health_workers=-1" in " ".join(run.stdout.split())


def test_publisher_sampling_longer_than_its_minute_is_refused(tmp_path):
    run = run_preflight(tmp_path, "-e", "uwsgi_busy_workers_samples=60", "-e", "uwsgi_busy_workers_interval=1")
    assert run.returncode != 0
    out = " ".join(run.stdout.split())
    assert "uwsgi_busy_workers_samples=60" in out and "(rule: samples >= 1, interval > 0" in out
    assert "Fix: lower uwsgi_busy_workers_samples" in out
