#!/usr/bin/env python3
"""longhaul benchmark: three configurations of the same app on identical hosts, measured in one run.

(a) longhaul's roles with the default contract, (b) the common uWSGI setup (uwsgi-nginx-flask's
configuration), (c) nginx + gunicorn with 4 sync workers. Load comes from wrk on this machine, to
127.0.0.1 ports only, in bounded runs (fixed connections and duration), interleaved a, b, c, a, b, c...
so that the machine's other load spreads evenly over the three. Ratios between configurations are the
result; absolute numbers depend on the machine and are quoted with it.

Phases: deploy (ansible-playbook bench/site.yml) -> in-process cost of the app (the physical limit) ->
throughput on / -> long-request mix -> overload (fast shedding) -> results/RESULTS.md, results.json,
bench.png -> teardown. `python bench/run.py --help` for the knobs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
WRK_SCRIPT = BENCH / "wrk" / "report.lua"
# Targets from the issue, printed against the measurements (not timed tests).
TARGET_A_OVER_C = 3.0
TARGET_A_OVER_B = 1.2
TARGET_STACK_OVER_APP = 2.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("cwd", ROOT)
    return subprocess.run(cmd, check=True, text=True, **kw)


# --- hosts --------------------------------------------------------------------------------------

def load_hosts() -> list[dict]:
    """The configurations under test, from the benchmark inventory (one source for both)."""
    inv = yaml.safe_load((BENCH / "inventory.yml").read_text())
    group_vars = yaml.safe_load((BENCH / "group_vars" / "all.yml").read_text())
    hosts = []
    for group in inv["all"]["children"]["bench"]["children"].values():
        for name, hv in group["hosts"].items():
            hosts.append({"name": name, **hv})
    # Interleaving order: a, t (a tuned) next to it, then the alternatives.
    hosts.sort(key=lambda h: "atbc".index(h["bench_label"]))
    for h in hosts:
        h["url"] = f"http://127.0.0.1:{h['bench_port']}"
    return hosts, group_vars


def podman(*args: str, **kw) -> subprocess.CompletedProcess:
    return run(["podman", *args], capture_output=True, **kw)


CGROUP_SCRIPT = r"""
prefix=$(sed -n 's/^0:://p' /proc/1/cgroup); prefix=${prefix%/init.scope}
root=/sys/fs/cgroup/unified; [ -d "$root$prefix/system.slice" ] || root=/sys/fs/cgroup
base="$root$prefix"
usage() { awk '/^usage_usec/ {print $2}' "$1/cpu.stat" 2>/dev/null || echo 0; }
echo "total $(usage "$base")"
for spec in "$@"; do
  group=${spec%%=*}; sum=0
  for d in $base/system.slice/${spec#*=}; do [ -d "$d" ] && sum=$((sum + $(usage "$d"))); done
  echo "$group $sum"
done
"""


def cpu_usage(host: dict) -> dict[str, float]:
    """CPU seconds used so far per process group (cgroup v2 cpu.stat of the systemd units), plus the
    whole host. cgroups, unlike ps, keep the time of processes that have exited (recycled workers)."""
    specs = [f"{group}={unit}" for group, units in host["bench_units"].items() for unit in units]
    out = podman("exec", host["name"], "sh", "-c", CGROUP_SCRIPT, "sh", *specs).stdout
    usage: dict[str, float] = {}
    for line in out.split("\n"):
        if line.strip():
            k, v = line.split()
            usage[k] = usage.get(k, 0.0) + int(v) / 1e6
    return usage


def wait_healthy(host: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _, _, _ = http_get(host["url"] + "/healthz", 2)
            if status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{host['name']} ({host['url']}) is not healthy after {timeout}s")
        time.sleep(1)


def wait_idle(host: dict, timeout: float = 90) -> None:
    """Wait until the host answers / quickly again: requests left queued by the previous phase (clients
    gone, workers still sleeping through them) must not count against the next measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _, secs, _ = http_get(host["url"] + "/", 2)
            if status == 200 and secs < 0.5:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(1)
    log(f"{host['name']} still busy after {timeout}s; measuring anyway")


def http_get(url: str, timeout: float) -> tuple[int, dict, float, bytes]:
    """GET url on a fresh connection: (status, headers, seconds, body)."""
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    start = time.monotonic()
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=timeout)
    try:
        conn.request("GET", m.group(3))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, dict(resp.getheaders()), time.monotonic() - start, body
    finally:
        conn.close()


# --- load ---------------------------------------------------------------------------------------

def wrk(url: str, connections: int, duration: float, timeout: float, threads: int = 1, host: str = "") -> dict:
    """One bounded wrk run (closed loop: fixed connections, fixed duration), parsed from report.lua."""
    header = ["-H", f"Host: {host}"] if host else []
    out = run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", f"--timeout={int(timeout)}s",
               *header, "-s", str(WRK_SCRIPT), url, "--", "status"], capture_output=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    res = json.loads(line[len("WRKJSON "):])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors_total"] = sum(res["errors"].values())
    return res


def wait_for_quiet_machine(max_load: float, max_wait: float) -> float:
    """Start when the machine is least busy (shared with other work), within max_wait seconds."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        log(f"load average {load:.2f} > {max_load}: waiting")
        time.sleep(10)
        load = os.getloadavg()[0]
    return load


def inproc_cost(host: dict, group_vars: dict, path: str = "/") -> dict:
    """The app alone (WSGI callable called in a loop) on a benchmark host: the physical limit."""
    podman("cp", str(BENCH / "inproc.py"), f"{host['name']}:/tmp/bench-inproc.py")
    out = podman("exec", host["name"], host["bench_app_python"], "/tmp/bench-inproc.py", host["bench_app_dir"],
                 group_vars["bench_app_module"], group_vars["bench_app_callable"], path).stdout
    return json.loads(out.strip().splitlines()[-1])


FLOOR_HOST = "floor.bench"  # tuning/recommended.yml: a server answering from nginx's config on host t


def throughput(hosts: list[dict], rounds: int, duration: float, connections: int, path: str,
               floor: bool = False) -> dict:
    """Interleaved rounds on path: a, b, c, a, b, c... with per-group CPU accounting around each run.
    floor: also nginx alone on host t (Host: floor.bench), labelled n, in the same rotation."""
    targets = [(h["bench_label"], h, "") for h in hosts]
    if floor:
        targets += [("n", h, FLOOR_HOST) for h in hosts if h["bench_label"] == "t"]
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in targets}
    for r in range(rounds):
        for label, h, vhost in targets:
            before = cpu_usage(h)
            res = wrk(h["url"] + path, connections, duration, timeout=10, host=vhost)
            after = cpu_usage(h)
            res["cpu_s"] = {k: after[k] - before.get(k, 0.0) for k in after}
            res["load1"] = os.getloadavg()[0]
            runs[label].append(res)
            log(f"round {r + 1}/{rounds} {label}: {res['rps']:.0f} req/s, p99 "
                f"{res['latency_us']['p99'] / 1000:.1f} ms, errors {res['errors_total']}, "
                f"non-2xx {sum(v for k, v in res['statuses'].items() if not k.startswith('2'))}")
    summary = {}
    for label, rs in runs.items():
        reqs = sum(x["requests"] for x in rs)
        cpu = {k: sum(x["cpu_s"][k] for x in rs) for k in rs[0]["cpu_s"]}
        summary[label] = {
            "rps_median": statistics.median(x["rps"] for x in rs),
            "rps_min": min(x["rps"] for x in rs),
            "rps_max": max(x["rps"] for x in rs),
            "p50_ms": statistics.median(x["latency_us"]["p50"] for x in rs) / 1000,
            "p99_ms": statistics.median(x["latency_us"]["p99"] for x in rs) / 1000,
            "errors": sum(x["errors_total"] for x in rs),
            "non_2xx": sum(v for x in rs for k, v in x["statuses"].items() if not k.startswith("2")),
            "requests": reqs,
            # CPU seconds per 1000 requests, per process group and for the whole host.
            "cpu_s_per_1k": {k: v / reqs * 1000 for k, v in cpu.items()},
            "runs": rs,
        }
    return summary


def long_mix(hosts: list[dict], levels: list[tuple[int, int]], slow_s: float, duration: float,
             request_timeout: float) -> dict:
    """Clients on /slow?s=slow_s (near T) and clients on / side by side (two wrk runs), per level
    (long clients, short clients): below capacity, then past it."""
    out: dict[str, dict] = {h["bench_label"]: {} for h in hosts}
    for n_long, n_short in levels:
        for h in hosts:
            wait_idle(h)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                slow = pool.submit(wrk, f"{h['url']}/slow?s={slow_s:g}", n_long, duration, request_timeout + 10)
                time.sleep(0.5)  # the long requests hold their workers first
                short = pool.submit(wrk, h["url"] + "/", n_short, duration - 1, request_timeout + 10)
                s, q = slow.result(), short.result()
            non2xx = {k: v for k, v in q["statuses"].items() if not k.startswith("2")}
            out[h["bench_label"]][str(n_long)] = {
                "long": {"requests": s["requests"], "errors": s["errors_total"], "statuses": s["statuses"],
                         "p50_ms": s["latency_us"]["p50"] / 1000, "max_ms": s["latency_us"]["max"] / 1000},
                "short": {"requests": q["requests"], "rps": q["rps"], "errors": q["errors_total"],
                          "statuses": q["statuses"], "non_2xx": non2xx, "retry_after_503": q["retry_after_503"],
                          "p50_ms": q["latency_us"]["p50"] / 1000, "p99_ms": q["latency_us"]["p99"] / 1000,
                          "max_ms": q["latency_us"]["max"] / 1000},
            }
            out[h["bench_label"]][str(n_long)]["short_clients"] = n_short
            log(f"mix {n_long} long + {n_short} short on {h['bench_label']}: long ok "
                f"{s['statuses'].get('200', 0)}/{s['requests']}, short {q['rps']:.0f} req/s p99 "
                f"{q['latency_us']['p99'] / 1000:.1f} ms, short non-2xx {non2xx}, errors {q['errors_total']}")
    return out


def overload(hosts: list[dict], n_long: int, n_short: int, slow_s: float, wait: float) -> dict:
    """Past capacity: n_long requests on /slow hold every worker (and the queue); then n_short requests
    on / arrive together. Fast shedding answers them 503 with Retry-After within a second; without it
    they hang. Every request is bounded by its client timeout."""
    out = {}
    for h in hosts:
        wait_idle(h)
        with concurrent.futures.ThreadPoolExecutor(n_long + n_short) as pool:
            longs = [pool.submit(_timed_get, f"{h['url']}/slow?s={slow_s:g}", slow_s + 15) for _ in range(n_long)]
            time.sleep(1.0)
            shorts = [pool.submit(_timed_get, h["url"] + "/", wait) for _ in range(n_short)]
            sr = [f.result() for f in shorts]
            lr = [f.result() for f in longs]
        answered_fast = [r for r in sr if r["status"] is not None and r["s"] <= 1.0]
        shed = [r for r in sr if r["status"] == 503 and r["retry_after"] is not None]
        out[h["bench_label"]] = {
            "short_sent": n_short,
            "short_statuses": _count(r["status"] for r in sr),
            "short_answered_within_1s": len(answered_fast),
            "short_503_retry_after": len(shed),
            "short_503_retry_after_within_1s": sum(1 for r in shed if r["s"] <= 1.0),
            "short_hung": sum(1 for r in sr if r["status"] is None),
            "short_max_s": max(r["s"] for r in sr),
            "short_median_s": statistics.median(r["s"] for r in sr),
            "retry_after_values": sorted({r["retry_after"] for r in shed}),
            "long_sent": n_long,
            "long_statuses": _count(r["status"] for r in lr),
        }
        o = out[h["bench_label"]]
        log(f"overload {h['bench_label']}: short {o['short_statuses']}, 503+Retry-After within 1 s "
            f"{o['short_503_retry_after_within_1s']}/{n_short}, hung {o['short_hung']}, long {o['long_statuses']}")
        time.sleep(1)
    return out


def _timed_get(url: str, timeout: float) -> dict:
    start = time.monotonic()
    try:
        status, headers, _, _ = http_get(url, timeout)
        return {"status": status, "s": time.monotonic() - start, "retry_after": headers.get("Retry-After")}
    except (OSError, http.client.HTTPException) as e:
        return {"status": None, "s": time.monotonic() - start, "retry_after": None, "error": type(e).__name__}


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


# --- machine and report -------------------------------------------------------------------------

def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_gb": round(mem_gb, 1), "kernel": platform.release(),
            "os": _os_release(), "wrk": wrk_v.strip(),
            "podman": podman("--version").stdout.strip(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _os_release() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "unknown"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(res: dict) -> str:
    m, tp, lim = res["machine"], res["throughput"], res["inproc"]
    hosts = res["hosts"]
    a, b, c = (tp[x]["rps_median"] for x in "abc")
    app_cpu_ms = lim["cpu_us_per_request"] / 1000
    lines = [
        "# longhaul benchmark results",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['mem_gb']} GB, {m['os']}, kernel {m['kernel']}; "
        f"{m['podman']}; {m['wrk']}. Run {m['date']}, load average at start {res['load_start']:.2f}.",
        f"Each configuration on its own host: podman container from the same base image, "
        f"{res['params']['cpus']} CPU quota each, port published on 127.0.0.1. The machine is shared with "
        "other work: compare ratios, not absolute numbers.",
        "",
        f"## Throughput on `/` ({res['params']['rounds']} interleaved rounds of {res['params']['duration']} s, "
        f"wrk {res['params']['connections']} connections, keep-alive)",
        "",
        "| configuration | req/s (median, min–max) | p50 ms | p99 ms | errors | non-2xx | "
        "CPU s / 1000 req: nginx | app server | journald | whole host | CPU used (of the quota) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for h in hosts:
        t = tp[h["bench_label"]]
        cpu = t["cpu_s_per_1k"]
        lines.append(
            f"| ({h['bench_label']}) {h['bench_title']} | {t['rps_median']:.0f} ({t['rps_min']:.0f}–{t['rps_max']:.0f}) "
            f"| {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {t['errors']} | {t['non_2xx']} | {cpu.get('nginx', 0):.3f} "
            f"| {cpu.get('app', 0):.3f} | {cpu.get('logging', 0):.3f} | {cpu.get('total', 0):.3f} "
            f"| {t['rps_median'] * cpu.get('total', 0) / 1000 / res['params']['cpus']:.2f} |")
    lines.append(f"| app alone (WSGI call loop, the limit) | {1 / (app_cpu_ms / 1000):.0f} per CPU | | | | | "
                 f"| {app_cpu_ms:.3f} | | {app_cpu_ms:.3f} | |")
    if "n" in tp:
        n = tp["n"]
        lines.append(
            f"| nginx alone (answers from its config on host t, no app server: the floor of any nginx-fronted "
            f"stack) | {n['rps_median']:.0f} ({n['rps_min']:.0f}–{n['rps_max']:.0f}) | {n['p50_ms']:.2f} "
            f"| {n['p99_ms']:.2f} | {n['errors']} | {n['non_2xx']} | {n['cpu_s_per_1k'].get('nginx', 0):.3f} | | "
            f"| {n['cpu_s_per_1k'].get('total', 0):.3f} | |")
    limit_rps = 1000 / app_cpu_ms * res["params"]["cpus"]

    def cpu1k(label: str) -> float:
        return tp[label]["cpu_s_per_1k"]["total"]

    lines += [
        "",
        "| ratio | value | target | |",
        "|---|---|---|---|",
    ]
    for x in [lab for lab in ("a", "t") if lab in tp]:
        rx = tp[x]["rps_median"]
        stack_ratio = tp[x]["cpu_s_per_1k"]["total"] / app_cpu_ms
        lines += [
            f"| {x}/c requests/s | {rx / c:.2f} | ≥ {TARGET_A_OVER_C} | {verdict(rx / c >= TARGET_A_OVER_C)} |",
            f"| {x}/b requests/s | {rx / b:.2f} | ≥ {TARGET_A_OVER_B} | {verdict(rx / b >= TARGET_A_OVER_B)} |",
            f"| {x}: whole-host CPU per request / app alone | {stack_ratio:.2f} | ≤ {TARGET_STACK_OVER_APP} | "
            f"{verdict(stack_ratio <= TARGET_STACK_OVER_APP)} |",
            f"| {x}: requests/s / limit (app alone on the same CPU quota) | {rx / limit_rps:.2f} | | |",
            # CPU per request is steadier than req/s on a shared machine: the efficiency behind the ratios.
            f"| c/{x} CPU per request (efficiency) | {cpu1k('c') / cpu1k(x):.2f} | | |",
            f"| b/{x} CPU per request (efficiency) | {cpu1k('b') / cpu1k(x):.2f} | | |",
        ]
    if "n" in tp:
        floor_ms = tp["n"]["cpu_s_per_1k"]["total"]
        lines += [
            f"| nginx alone / app alone (CPU per request) | {floor_ms / app_cpu_ms:.2f} | | |",
            f"| a: whole host − nginx alone − app alone (uWSGI and the hand-off from nginx), µs per request | "
            f"{(cpu1k('a') - floor_ms - app_cpu_ms) * 1000:.0f} | | |",
        ]
    if "t" in tp:
        lines.append(f"| t/a requests/s (what 4 processes per vCPU cost or buy on /) | "
                     f"{tp['t']['rps_median'] / a:.2f} | | |")
        lines.append(f"| t/a CPU per request | {tp['t']['cpu_s_per_1k']['total'] / tp['a']['cpu_s_per_1k']['total']:.2f}"
                     " | | |")
    lines.append("")
    mix = res["long_mix"]
    p = res["params"]
    lines += [
        f"## Long-request mix (clients holding /slow?s={p['slow_s']:g} — T = {p['request_timeout']} s — "
        f"next to clients on /; {p['mix_duration']} s each)",
        "",
        "| configuration | long + short clients | long requests ok / sent | short req/s | short p50 ms | short p99 ms "
        "| short max ms | short non-2xx | short errors (timeouts, resets) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n_long, n_short in p["mix"]:
        for h in hosts:
            x = mix[h["bench_label"]][str(n_long)]
            lg, sh = x["long"], x["short"]
            if sh["requests"] == 0:
                lat = "none answered | – | –"
            else:
                lat = f"{sh['p50_ms']:.1f} | {sh['p99_ms']:.1f} | {sh['max_ms']:.0f}"
            lines.append(
                f"| ({h['bench_label']}) {h['bench_title']} | {n_long} + {n_short} | {lg['statuses'].get('200', 0)} / "
                f"{lg['requests']} ({_fmt(lg['statuses'])}) | {sh['rps']:.0f} | {lat} "
                f"| {_fmt(sh['non_2xx'])} | {sh['errors'] - sum(sh['non_2xx'].values())} |")
    ov = res["overload"]
    lines += [
        "",
        "Latencies of the short requests include every answer (a 503 too); wrk clients send their next request "
        "as soon as one is answered, so a shed long client sends many. \"none answered\": no short request "
        "completed during the run (each waited behind the long ones).",
        "",
        f"## Overload: {p['overload_long']} requests hold /slow?s={p['slow_s']:g}, then {p['overload_short']} "
        f"requests on / arrive together (client timeout {p['overload_wait']} s)",
        "",
        "| configuration | short answers | answered within 1 s | 503 + Retry-After within 1 s | hung until client "
        "timeout | median s | long requests |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in hosts:
        o = ov[h["bench_label"]]
        lines.append(
            f"| ({h['bench_label']}) {h['bench_title']} | {_fmt(o['short_statuses'])} | "
            f"{o['short_answered_within_1s']}/{o['short_sent']} | {o['short_503_retry_after_within_1s']}/"
            f"{o['short_sent']} | {o['short_hung']} | {o['short_median_s']:.2f} | {_fmt(o['long_statuses'])} |")
    lines += ["", "![benchmark](bench.png)", ""]
    return "\n".join(lines)


def _fmt(d: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) or "–"


def chart(res: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no chart (pip install matplotlib)")
        return False
    hosts = res["hosts"]
    labels = [f"({h['bench_label']}) {h['bench_title']}" for h in hosts]
    tp = res["throughput"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    ax = axes[0]
    med = [tp[h["bench_label"]]["rps_median"] for h in hosts]
    err = [[m - tp[h["bench_label"]]["rps_min"] for m, h in zip(med, hosts)],
           [tp[h["bench_label"]]["rps_max"] - m for m, h in zip(med, hosts)]]
    colors = {"a": "#2a7", "b": "#888", "c": "#c84", "t": "#16a"}
    ax.bar(range(len(hosts)), med, yerr=err, color=[colors.get(h["bench_label"], "#555") for h in hosts], capsize=4)
    ax.set_xticks(range(len(hosts)), [f"({h['bench_label']})" for h in hosts])
    ax.set_title("requests/s on / (median, min-max)")
    ax = axes[1]
    bottom = [0.0] * len(hosts)
    for group, color in (("nginx", "#48c"), ("app", "#2a7"), ("logging", "#c84")):
        vals = [tp[h["bench_label"]]["cpu_s_per_1k"].get(group, 0) * 1000 for h in hosts]
        ax.bar(range(len(hosts)), vals, bottom=bottom, color=color, label=group)
        bottom = [x + y for x, y in zip(bottom, vals)]
    app_us = res["inproc"]["cpu_us_per_request"]
    ax.axhline(app_us, color="k", linestyle="--", label="app alone")
    ax.axhline(app_us * TARGET_STACK_OVER_APP, color="r", linestyle=":", label="target 2x app alone")
    ax.set_xticks(range(len(hosts)), [f"({h['bench_label']})" for h in hosts])
    ax.set_ylim(0, max(bottom + [app_us * TARGET_STACK_OVER_APP]) * 1.1)
    ax.set_title("CPU µs per request of / by process group")
    ax.legend(fontsize=8)
    ax = axes[2]
    mix = res["long_mix"]
    width = 0.8 / len(res["params"]["mix"])
    for i, (n_long, n_short) in enumerate(res["params"]["mix"]):
        shorts = [mix[h["bench_label"]][str(n_long)]["short"] for h in hosts]
        # No answer at all during the run: drawn as the whole run, hatched.
        vals = [x["p99_ms"] if x["requests"] else res["params"]["mix_duration"] * 1000 for x in shorts]
        bars = ax.bar([x + i * width for x in range(len(hosts))], vals, width=width,
                      label=f"{n_long} long + {n_short} short clients")
        for bar, x in zip(bars, shorts):
            if not x["requests"]:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
    ax.set_yscale("log")
    ax.set_xticks([x + width / 2 for x in range(len(hosts))], [f"({h['bench_label']})" for h in hosts])
    ax.set_title("p99 ms of / beside long requests\n(hatched: none answered)")
    ax.legend(fontsize=8)
    fig.suptitle(" | ".join(labels) + f"\n{res['machine']['cpu']}, {res['params']['cpus']} CPU per host, "
                 f"{res['machine']['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


# --- main ---------------------------------------------------------------------------------------

def deploy(extra: list[str]) -> None:
    log("deploy: ansible-playbook bench/site.yml (wheels, hosts, configurations)")
    run(["ansible-playbook", "-i", str(BENCH / "inventory.yml"), str(BENCH / "site.yml"), *extra])


def teardown(extra: list[str]) -> None:
    run(["ansible-playbook", "-i", str(BENCH / "inventory.yml"), str(BENCH / "down.yml"), *extra],
        capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-deploy", action="store_true", help="use the hosts as they are")
    ap.add_argument("--keep", action="store_true", help="leave the hosts running afterwards")
    ap.add_argument("--only", default="", help="phases to run, comma-separated (throughput,mix,overload)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=15, help="seconds per throughput run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--mix", default="3:29,6:26,96:32",
                    help="levels of the long-request mix, LONG:SHORT clients, comma-separated (default: below "
                         "a's 4 request slots, below t's 8, then past slots + listen queue)")
    ap.add_argument("--mix-duration", type=int, default=20)
    ap.add_argument("--overload-long", type=int, default=96,
                    help="long requests that hold every slot and fill the queue (t: 8 slots + 64 queued)")
    ap.add_argument("--overload-short", type=int, default=32)
    ap.add_argument("--overload-wait", type=float, default=3.0, help="client timeout of the short requests")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait (up to 1 min) for a quieter machine")
    ap.add_argument("--out", default=str(RESULTS), help="results directory")
    ap.add_argument("--labels", default="abct",
                    help="configurations to measure: a, b, c and t (a tuned); without a, b and c only raw/ is written")
    ap.add_argument("--tuning", default="", help="role variables for t (default bench/tuning/recommended.yml)")
    ap.add_argument("-e", "--extra-vars", action="append", default=[], help="passed to ansible-playbook -e")
    ap.add_argument("--report-only", default="", help="render RESULTS.md and bench.png again from a results JSON")
    args = ap.parse_args()
    if args.report_only:
        res = json.loads(Path(args.report_only).read_text())
        out = Path(args.out)
        chart(res, out / "bench.png")
        (out / "RESULTS.md").write_text(report(res))
        print(report(res))
        return
    for tool in ("wrk", "podman", "ansible-playbook"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (wrk: apt-get install wrk)")

    hosts, gv = load_hosts()
    hosts = [h for h in hosts if h["bench_label"] in args.labels]
    extra = [x for e in args.extra_vars for x in ("-e", e)]
    extra += ["--limit", ",".join(["localhost"] + [h["name"] for h in hosts])]
    if args.tuning:
        extra += ["-e", f"bench_tuning_file={Path(args.tuning).resolve()}"]
    if not args.no_deploy:
        deploy(extra)
    try:
        for h in hosts:
            wait_healthy(h)
        T = int(gv["longhaul_request_timeout"])
        slow_s = max(1, T - 2)  # "near T": the longest request the contract promises, less a little
        params = {"rounds": args.rounds, "duration": args.duration, "connections": args.connections,
                  "cpus": gv["bench_cpus"],
                  "mix": [[int(n) for n in lvl.split(":")] for lvl in args.mix.split(",")],
                  "mix_duration": args.mix_duration,
                  "request_timeout": T, "slow_s": slow_s, "overload_long": args.overload_long,
                  "overload_short": args.overload_short, "overload_wait": args.overload_wait}
        only = set(filter(None, args.only.split(",")))
        if not set("abc") <= set(args.labels):
            only.add("partial")
        res = {"machine": machine(), "params": params,
               "hosts": [{k: h[k] for k in ("bench_label", "bench_title", "name")} for h in hosts]}
        res["load_start"] = wait_for_quiet_machine(args.max_load, 60)
        log(f"load average {res['load_start']:.2f}; in-process cost of the app")
        res["inproc"] = inproc_cost(next(h for h in hosts if "bench_app_python" in h), gv)
        log(f"app alone: {res['inproc']['cpu_us_per_request']} µs CPU per request")
        for h in hosts:  # warm-up: cheaper workers spawned, caches filled; not measured
            wrk(h["url"] + "/", args.connections, 3, 10)
        if not only or "throughput" in only:
            res["throughput"] = throughput(hosts, args.rounds, args.duration, args.connections, "/",
                                           floor=not args.tuning and "t" in args.labels)
        if not only or "mix" in only:
            res["long_mix"] = long_mix(hosts, params["mix"], slow_s, args.mix_duration, T)
        if not only or "overload" in only:
            res["overload"] = overload(hosts, args.overload_long, args.overload_short, slow_s, args.overload_wait)
        res["load_end"] = os.getloadavg()[0]
        out = Path(args.out)
        (out / "raw").mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / "raw" / f"{stamp}.json").write_text(json.dumps(res, indent=1))
        if not only:
            (out / "results.json").write_text(json.dumps({k: v for k, v in res.items()}, indent=1))
            md = report(res)
            chart(res, out / "bench.png")
            (out / "RESULTS.md").write_text(md)
            print("\n" + md)
        else:
            print(json.dumps({k: v for k, v in res.items() if k in ("throughput", "long_mix", "overload")},
                             indent=1, default=str)[:20000])
    finally:
        if not args.keep:
            log("teardown")
            teardown(extra)


if __name__ == "__main__":
    main()
