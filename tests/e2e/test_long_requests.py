"""The long-request proof (issue 4): real HAProxy, nginx, uWSGI and Flask in the local cloud.

Contract scaled small: T = 8 s, margin 2 s, so uWSGI harakiri 10 s, queue-wait budget 2 s, nginx
uwsgi_read_timeout 14 s < LB idle 16 s < client 18 s (the values are read from the contract, not written here). Each case
asserts status codes, bytes received and the log lines of the layer that acted, and prints its counts
(`pytest -s` shows them; docs/why.md quotes a run). The cases run in file order on one stack.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import re
import socket
import statistics
import threading
import time

import longhaul_contract as contract
import pytest
from conftest import BIN, CONTRACT, LB_PORT, ROOT, Response, fetch, run

T = CONTRACT["longhaul_request_timeout"]
TIMEOUTS = contract.evaluate(T, CONTRACT["longhaul_lb_type"], CONTRACT["longhaul_timeout_margin"], {}, [])["timeouts"]
MARGIN = TIMEOUTS["timeout_margin"]

# Where each layer logs (roles/uwsgi: journald of its unit; roles/nginx: its access and error logs).
UWSGI_JOURNAL = ("-u", "*-uwsgi.service")
NGINX_ACCESS_LOG = "/var/log/nginx/access.log"
NGINX_ERROR_LOG = "/var/log/nginx/error.log"
# roles/nginx buffers the access log; a line is written at most this late (nginx_access_log_flush 1 s, + slack).
NGINX_LOG_FLUSH = 1.5
HAPROXY_JOURNAL = ("-t", "haproxy")
# What uWSGI says when the app writes to a connection nginx has already closed.
BROKEN_PIPE = re.compile(r"Broken pipe|SIGPIPE|write error", re.I)


def report(case: str, **counts) -> None:
    print(f"\n[e2e] {case}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def parallel(*paths: str, timeout: float = 60) -> list[Response]:
    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(lambda p: fetch(p, timeout=timeout), paths))


def unsafe(overrides: dict, lb_type: str = "alb") -> dict:
    """Contract inputs for a deliberately broken configuration: the overrides plus, in the escape hatch,
    exactly the rules they break (asked from the contract, so the list is the contract's own)."""
    verdict = contract.evaluate(T, lb_type, MARGIN, overrides, [])
    broken = sorted({m.split("]")[0].lstrip("[") for m in verdict["violations"]})
    assert broken, f"overrides {overrides} break no rule: the case would not test the unsafe config"
    return {"longhaul_lb_type": lb_type, "longhaul_timeout_overrides": overrides, "longhaul_timeout_unsafe_allow": broken}


def uwsgi_lines(stack, host: str, since: str) -> list[str]:
    return stack.journal(host, since, *UWSGI_JOURNAL)


def nginx_access_count(stack) -> dict[str, int]:
    return {h: len(stack.file_lines(h, NGINX_ACCESS_LOG)) for h in stack.apps}


# ------------------------------------------------------------------------------------------------
# Case 1: the contract holds


@pytest.fixture(scope="module")
def case1(stack):
    """The three requests of case 1, run at once (the slowest sets the duration), and the logs they left."""
    since = {h: stack.now(h) for h in [stack.lb, *stack.apps]}
    paths = {"slow": f"/slow?s={T - MARGIN}", "stream": f"/stream?s={TIMEOUTS['lb_idle_timeout'] + 2}",
             "over": f"/slow?s={TIMEOUTS['uwsgi_harakiri'] + 1}"}
    responses = dict(zip(paths, parallel(*paths.values())))
    lb_lines = stack.journal(stack.lb, since[stack.lb], *HAPROXY_JOURNAL)
    logs = {
        "lb": {name: [line for line in lb_lines if f"{path} " in line] for name, path in paths.items()},
        "uwsgi": [line for h in stack.apps for line in uwsgi_lines(stack, h, since[h])],
        "nginx_error": [line for h in stack.apps for line in stack.file_lines(h, NGINX_ERROR_LOG)],
    }
    report("case 1", **{name: (r.status, len(r.body), round(r.seconds, 1)) for name, r in responses.items()})
    return paths, responses, logs


def test_case1_silent_request_of_t_minus_margin_succeeds(case1):
    paths, responses, logs = case1
    slow = responses["slow"]
    assert slow.status == 200 and slow.body and slow.seconds >= T - MARGIN, slow
    assert logs["lb"]["slow"] and " 200 " in logs["lb"]["slow"][0] and " ---- " in logs["lb"]["slow"][0], logs["lb"]


def test_case1_stream_longer_than_lb_idle_succeeds(case1):
    """Data resets the idle timers of nginx and the LB (and uWSGI's harakiri, which measures silence: roles/uwsgi
    uwsgi_harakiri_mode): a stream may outlast the LB idle timeout."""
    paths, responses, logs = case1
    stream, seconds = responses["stream"], TIMEOUTS["lb_idle_timeout"] + 2
    harakiri = [line for line in logs["uwsgi"] if "HARAKIRI" in line.upper() and "/stream" in line]
    report("case 1 stream", chunks=len(stream.body.splitlines()), seconds=round(stream.seconds, 1), harakiri=harakiri)
    assert stream.status == 200 and stream.seconds >= seconds and not stream.error, stream
    # Every chunk in order and the app's last line: a stream cut short, even after N chunks, fails here.
    expected = [f"chunk {i}/{seconds}" for i in range(1, seconds + 1)] + ["done"]
    assert stream.body.decode().splitlines() == expected, stream
    assert harakiri == [], "uWSGI's harakiri fired on a stream that was never silent"
    assert logs["lb"]["stream"] and " 200 " in logs["lb"]["stream"][0], logs["lb"]


def test_case1_request_longer_than_t_is_ended_by_uwsgi_with_a_clean_5xx(case1):
    paths, responses, logs = case1
    over = responses["over"]
    # uWSGI's harakiri ends it first, nginx answers a clean 502 with a body, well before the LB's idle cut.
    assert over.status == 502 and b"502" in over.body, over
    assert over.seconds < TIMEOUTS["nginx_uwsgi_read_timeout"] <= TIMEOUTS["lb_idle_timeout"], over
    harakiri = [line for line in logs["uwsgi"] if "HARAKIRI" in line.upper()]
    prematurely = [line for line in logs["nginx_error"] if "prematurely closed" in line and paths["over"] in line]
    report("case 1 over T", uwsgi_harakiri_lines=len(harakiri), nginx_prematurely_closed=len(prematurely),
           lb=logs["lb"]["over"])
    assert harakiri, "uWSGI did not log the harakiri"
    assert prematurely, "nginx did not log the upstream close"
    # The LB relayed nginx's 502 (termination state ----); it did not cut the request itself (sH, cD).
    assert logs["lb"]["over"] and " 502 " in logs["lb"]["over"][0] and " ---- " in logs["lb"]["over"][0], logs["lb"]


# ------------------------------------------------------------------------------------------------
# Case 4: pre-opened idle connections (an ELB opens connections ahead of requests)


def test_case4_preopened_idle_connections(stack):
    def timed(n: int) -> dict[str, list[Response]]:
        return {"via_lb": [fetch("/", timeout=10) for _ in range(n)],
                "app1_direct": [fetch("/", port=stack.app1_port, timeout=10) for _ in range(n)]}

    def ms(responses: list[Response], q: str) -> float:
        seconds = [r.seconds for r in responses]
        value = statistics.median(seconds) if q == "median" else statistics.quantiles(seconds, n=20)[18]
        return round(value * 1000, 1)

    baseline = timed(20)
    before = len(stack.file_lines(stack.apps[0], NGINX_ACCESS_LOG))
    idle = []
    try:
        for _ in range(200):
            idle.append(socket.create_connection(("127.0.0.1", stack.app1_port), timeout=5))
        time.sleep(1)
        held = int(stack.sh(stack.apps[0], "ss -Htn state established '( sport = :80 )' | wc -l").strip())
        loaded = timed(20)
    finally:
        for s in idle:
            s.close()
    # nginx on app1 logged every request it got during the case, all 200, and nothing for the idle connections.
    time.sleep(NGINX_LOG_FLUSH)
    access = [line for line in stack.file_lines(stack.apps[0], NGINX_ACCESS_LOG, before) if '"GET / ' in line]
    report("case 4", idle_connections=len(idle), established_on_app1=held,
           ok=sum(r.status == 200 for rs in loaded.values() for r in rs), requests=sum(map(len, loaded.values())),
           nginx_app1_lines=len(access),
           **{f"{path}_{q}_ms_{when}": ms(runs[path], q)
              for when, runs in (("before", baseline), ("with_idle", loaded))
              for path in runs for q in ("median", "p95")})
    assert held >= len(idle), "nginx did not hold the idle connections open"
    assert all(r.status == 200 and r.body for runs in (baseline, loaded) for rs in runs.values() for r in rs)
    assert len(access) >= 20 and all('" 200 ' in line for line in access), access
    # Normal latency: idle connections cost nginx a file descriptor, no uWSGI worker waits on them (a tied-up
    # worker pool would queue these requests behind the idle connections: seconds, not milliseconds).
    for path in baseline:
        base, load = ms(baseline[path], "median"), ms(loaded[path], "median")
        assert load < max(50.0, 3 * base), (path, base, load)


# ------------------------------------------------------------------------------------------------
# Case 5: drain


def drain(stack, server: str, state: str) -> None:
    vars_file = stack.workdir / "drain.json"
    vars_file.write_text(json.dumps(stack.base_vars | {"local_lb_drain_server": server, "local_lb_drain_state": state}))
    run([str(BIN / "ansible-playbook"), "-i", str(stack.inventory),
         str(ROOT / "tests" / "e2e" / "drain.yml"), "-e", f"@{vars_file}"], timeout=120)


def test_case5_drain(stack):
    since = stack.now()
    target = stack.apps[0]
    long_s = T - MARGIN
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        # Round robin: two long requests land on each app host.
        longs = [pool.submit(fetch, f"/slow?s={long_s}&n={i}", timeout=60) for i in range(4)]
        time.sleep(1)
        drain(stack, target, "drain")
        drained_at = stack.now()
        new = [fetch(f"/?n={i}", timeout=10) for i in range(12)]
        long_done = [f.result() for f in longs]
    lb_lines = stack.journal(stack.lb, since, *HAPROXY_JOURNAL)
    new_lb = [line for line in stack.journal(stack.lb, drained_at, *HAPROXY_JOURNAL) if '"GET /?n=' in line]
    long_lb = [line for line in lb_lines if "/slow?s=" in line]
    on_target = [line for line in long_lb if f"app/{target} " in line]
    report("case 5", long_ok=sum(r.status == 200 for r in long_done), long_on_drained=len(on_target),
           new_ok=sum(r.status == 200 for r in new), new_on_drained=sum(f"app/{target} " in line for line in new_lb))
    stat = stack.lb_runtime("show stat")
    drain(stack, target, "ready")
    assert f"app,{target}," in stat and ",DRAIN," in stat, stat
    # The long requests on the drained host finished, with their bodies. A failure prints the case's LB lines
    # whole first (pytest shortens an assertion's message): the termination flags say which side closed.
    failed_longs = [r for r in long_done if not (r.status == 200 and r.body)]
    if failed_longs:
        print("\n[e2e] case 5 failed long requests:", *failed_longs, "LB lines of the case:", *lb_lines, sep="\n  ")
    assert not failed_longs, failed_longs
    assert len(on_target) == 2 and all(" 200 " in line for line in on_target), long_lb
    # New requests all went to the other host.
    assert all(r.status == 200 for r in new)
    assert len(new_lb) == len(new) and not any(f"app/{target} " in line for line in new_lb), new_lb


# ------------------------------------------------------------------------------------------------
# Case 6: the LB's configuration changes under keep-alive load (a rolling deploy adds and removes targets)


RELOADS = 20
RELOAD_CLIENTS = 6


def keepalive_client(stop, gap: float) -> dict:
    """One client on one keep-alive connection, reopened only when the LB says `Connection: close`; it never
    probes the connection before sending, so a connection the LB closed under it is an error, not a retry."""
    conn = http.client.HTTPConnection("127.0.0.1", LB_PORT, timeout=10)
    seen = {"ok": 0, "closed_by_lb": 0, "errors": []}
    try:
        while not stop.is_set():
            r = fetch("/", conn=conn, timeout=10)
            if r.status == 200 and r.body:
                seen["ok"] += 1
            else:
                seen["errors"].append(f"{r.status} {r.error}")
                conn.close()
            if conn.sock is None and r.status == 200:
                seen["closed_by_lb"] += 1
            time.sleep(gap)
    finally:
        conn.close()
    return seen


def test_case6_lb_reload_keeps_client_connections(stack):
    # Each reload is the handler's: systemd's ExecReload checks the file, then the master starts new workers
    # and the old ones stop. Clients sit idle between requests (gap), so a reload almost always finds their
    # connections idle: without `option idle-close-on-response` the old worker closes them at once and the
    # next request on each gets no response at all (measured without it: 73 such errors in 20 reloads with 6
    # clients; with it: 0, and 120 connections closed after a response).
    since = stack.now()
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(RELOAD_CLIENTS) as pool:
        clients = [pool.submit(keepalive_client, stop, 0.05) for _ in range(RELOAD_CLIENTS)]
        time.sleep(1)
        try:
            stack.sh(stack.lb, f"for i in $(seq {RELOADS}); do systemctl reload haproxy; sleep 0.5; done",
                     timeout=RELOADS * 10)
            time.sleep(1)
        finally:
            stop.set()
        seen = [c.result() for c in clients]
    reloaded = [line for line in stack.journal(stack.lb, since, "-u", "haproxy") if "Reloaded" in line]
    errors = [e for s in seen for e in s["errors"]]
    report("case 6", reloads=len(reloaded), clients=RELOAD_CLIENTS, ok=sum(s["ok"] for s in seen),
           closed_by_lb_with_a_response=sum(s["closed_by_lb"] for s in seen), errors=len(errors))
    assert len(reloaded) == RELOADS, reloaded
    assert not errors, errors[:5]
    # The reloads did reach the clients' connections: old workers closed them, each after answering a request.
    assert sum(s["closed_by_lb"] for s in seen) >= RELOADS, seen
    stack.wait_lb_ready()


# ------------------------------------------------------------------------------------------------
# Case 3: the keep-alive race (the contract half first: it runs on the stack as configured)


RACE_ROUNDS = 16
RACE_BURST = 10
RACE_KEEPALIVE = 2


def race_load(stack, gap: float) -> dict:
    """Bursts of requests, each burst after an idle gap close to `gap` (±50 ms), new client connections."""
    since = stack.now()
    codes: dict = {}
    for i in range(RACE_ROUNDS):
        for r in parallel(*[f"/?r={i}" for _ in range(RACE_BURST)], timeout=10):
            codes[r.status] = codes.get(r.status, 0) + 1
        time.sleep(gap + ((i % 11) - 5) * 0.01)
    lb_502 = [line for line in stack.journal(stack.lb, since, *HAPROXY_JOURNAL) if " 502 " in line]
    return {"requests": RACE_ROUNDS * RACE_BURST, "by_status": codes, "lb_502_lines": len(lb_502),
            "lb_502_target_closed": sum(" SH-- " in line for line in lb_502)}


def test_case3_keepalive_race(stack):
    # Same load twice, through the same LB reusing its target connections over a link with latency
    # (conftest: linkdelay.py): gaps tuned to the unsafe nginx keepalive_timeout.
    good = race_load(stack, RACE_KEEPALIVE)
    report("case 3 contract", nginx_keepalive_timeout=TIMEOUTS["nginx_keepalive_timeout"],
           lb_idle_timeout=TIMEOUTS["lb_idle_timeout"], **good)

    seed = unsafe({"nginx_keepalive_timeout": RACE_KEEPALIVE})
    # Only nginx changes: the LB keeps its configuration (and its pool of target connections).
    out = stack.converge(seed, limit="app")
    assert "UNSAFE" in out and "keepalive_outlives_lb_idle" in seed["longhaul_timeout_unsafe_allow"], out[-3000:]
    stack.wait_lb_ready()
    bad = race_load(stack, RACE_KEEPALIVE)
    report("case 3 nginx keepalive_timeout < LB idle", nginx_keepalive_timeout=RACE_KEEPALIVE,
           lb_idle_timeout=TIMEOUTS["lb_idle_timeout"], **bad)

    assert good["by_status"] == {200: good["requests"]} and good["lb_502_lines"] == 0, good
    assert bad["by_status"].get(502, 0) > 0 and bad["lb_502_target_closed"] == bad["by_status"][502], bad
    assert set(bad["by_status"]) <= {200, 502}, bad


# ------------------------------------------------------------------------------------------------
# Case 2: the seed's idle cut, reproduced, then the contract on the same requests


SEED_REQUESTS = 3


def seed_round(stack) -> tuple[list[Response], dict]:
    since = {h: stack.now(h) for h in [stack.lb, *stack.apps]}
    before = nginx_access_count(stack)
    start = time.monotonic()
    responses = parallel(*[f"/slow?s={T - MARGIN}&n={i}" for i in range(SEED_REQUESTS)])
    # The app answers at T - margin whatever happened to its client; give uWSGI the time to log it.
    time.sleep(max(0.0, T - MARGIN + 2 - (time.monotonic() - start)))
    pipes = [line for h in stack.apps for line in uwsgi_lines(stack, h, since[h]) if BROKEN_PIPE.search(line)]
    access = [line for h in stack.apps for line in stack.file_lines(h, NGINX_ACCESS_LOG, before[h]) if "/slow?s=" in line]
    lb = [line for line in stack.journal(stack.lb, since[stack.lb], *HAPROXY_JOURNAL) if " cD " in line or " sD " in line]
    return responses, {"uwsgi_broken_pipe": len(pipes), "nginx_499": sum('" 499 ' in a or " 499 " in a for a in access),
                       "lb_idle_cuts": len(lb)}


def test_case2_seed_idle_cut(stack):
    # The seed: a CLB with a TCP listener whose idle timeout (60 s) is shorter than the requests (> 60 s),
    # and uWSGI's socket timeout (30 s) below its harakiri. Scaled: LB idle < T, socket timeout < harakiri.
    seed = unsafe({"lb_idle_timeout": T - MARGIN - 2, "uwsgi_socket_timeout": TIMEOUTS["uwsgi_harakiri"] - MARGIN},
                  lb_type="clb")
    out = stack.converge(seed | {"local_lb_mode": "tcp"})
    assert "UNSAFE" in out and all(rule in out for rule in seed["longhaul_timeout_unsafe_allow"]), out[-3000:]
    stack.wait_lb_ready()
    bad, bad_logs = seed_round(stack)
    report("case 2 seed config", allowed=seed["longhaul_timeout_unsafe_allow"],
           empty_replies=sum(r.empty_reply for r in bad), ok=sum(r.status == 200 for r in bad),
           bytes=sum(len(r.body) for r in bad), **bad_logs)

    stack.converge({"longhaul_lb_type": "clb", "local_lb_mode": "tcp"})
    stack.wait_lb_ready()
    good, good_logs = seed_round(stack)
    report("case 2 contract", empty_replies=sum(r.empty_reply for r in good), ok=sum(r.status == 200 for r in good),
           bytes=sum(len(r.body) for r in good), **good_logs)

    # Seed: the client gets an empty reply (no status, no byte); nginx logs 499 (its client, the LB, went away);
    # uWSGI logs the write to the closed socket once the app answers.
    assert all(r.empty_reply for r in bad), bad
    assert bad_logs["uwsgi_broken_pipe"] >= SEED_REQUESTS and bad_logs["nginx_499"] == SEED_REQUESTS, bad_logs
    assert bad_logs["lb_idle_cuts"] == SEED_REQUESTS, bad_logs
    # Contract: the same requests succeed with their bodies, and no layer logs a cut.
    assert all(r.status == 200 and r.body for r in good), good
    assert good_logs == {"uwsgi_broken_pipe": 0, "nginx_499": 0, "lb_idle_cuts": 0}, good_logs
