"""The timeout contract: derivation, every rule, inputs, overrides, docs."""

from __future__ import annotations

import re
from pathlib import Path

import longhaul_contract as c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

lb_types = st.sampled_from(c.LB_TYPES)
margins = st.integers(min_value=1, max_value=30)


def max_request(lb: str, margin: int) -> int:
    """Largest T whose derived chain still fits every AWS limit (idle, drain, heartbeat)."""
    idle_max = c.LB_IDLE_LIMITS[lb][1]
    # idle = T + 4m (harakiri, queue wait, nginx read, idle: one margin each);
    # heartbeat = drain + mercy + m <= 7200 with drain = T + 3m and mercy = T + m
    return min(idle_max - 4 * margin, 3600, (7200 - 5 * margin) // 2)


@st.composite
def valid_inputs(draw):
    lb = draw(lb_types)
    m = draw(margins)
    t = draw(st.integers(min_value=1, max_value=max_request(lb, m)))
    return t, lb, m


def test_derives_the_documented_chain_for_the_defaults():
    t = c.derive(60, "alb", 5)
    assert (t["uwsgi_harakiri"], t["uwsgi_queue_wait_max"], t["nginx_uwsgi_read_timeout"], t["lb_idle_timeout"],
            t["client_timeout_min"]) == (65, 5, 75, 80, 85)
    assert t["nginx_keepalive_timeout"] == 85  # outlives the ALB's 80 s idle timeout
    assert t["lb_deregistration_delay"] >= 60 and t["uwsgi_worker_reload_mercy"] >= 60
    assert t["asg_lifecycle_heartbeat"] >= t["lb_deregistration_delay"] + t["uwsgi_worker_reload_mercy"]
    assert set(t) == set(c.KEYS) and all(isinstance(v, int) for v in t.values())


def test_nlb_keeps_nginx_keepalive_below_its_idle_timeout_and_respects_its_minimum():
    t = c.derive(8, "nlb", 2)
    assert t["lb_idle_timeout"] == 60  # NLB idle timeout cannot go below 60 s
    assert t["nginx_keepalive_timeout"] < t["lb_idle_timeout"]
    assert c.evaluate(8, "nlb", 2)["violations"] == []


@settings(max_examples=300, deadline=None)
@given(valid_inputs())
def test_every_rule_holds_for_every_valid_input(inputs):
    t, lb, m = inputs
    report = c.evaluate(t, lb, m)
    assert report["violations"] == [], report["violations"]
    d = report["timeouts"]
    chain = [d["request_timeout"], d["uwsgi_harakiri"], d["nginx_uwsgi_read_timeout"], d["lb_idle_timeout"],
             d["client_timeout_min"]]
    assert all(b - a >= m for a, b in zip(chain, chain[1:])), chain
    # A request that waited the whole queue budget, then ran until harakiri, still ends before nginx's read.
    assert d["uwsgi_queue_wait_max"] >= 1
    assert d["uwsgi_queue_wait_max"] + d["uwsgi_harakiri"] + m <= d["nginx_uwsgi_read_timeout"]


def violating_override(rule: c.Rule, base: dict[str, int], lb: str) -> dict[str, int] | None:
    """Search one key of the rule for a value that breaks it while the other keys stay derived."""
    for key in rule.names:
        if key not in c.DERIVED_KEYS:
            continue
        for value in (0, 1, 2, base[key] - 1, base[key] + 1, 10_000, 100_000):
            if value < 0:
                continue
            trial = c.derive(base["request_timeout"], lb, base["timeout_margin"], {key: value})
            if not c.safe_eval(rule.expr, c.rule_values(trial, lb)):
                return {key: value}
    return None


@settings(max_examples=150, deadline=None)
@given(valid_inputs(), st.sampled_from(c.RULES))
def test_every_rule_rejects_a_violating_override_by_name(inputs, rule):
    t, lb, m = inputs
    if lb not in rule.lb_types:
        return
    base = c.derive(t, lb, m)
    override = violating_override(rule, base, lb)
    assert override is not None, f"no override breaks {rule.name}: the rule cannot fail"
    report = c.evaluate(t, lb, m, override)
    assert any(v.startswith(f"[{rule.name}]") for v in report["violations"]), report["violations"]


def test_every_rule_is_documented_and_well_formed():
    for rule in c.RULES:
        assert re.fullmatch(r"[a-z0-9_]+", rule.name)
        assert rule.reason and rule.fix and rule.source
        unknown = set(rule.names) - set(c.KEYS) - {"lb_idle_timeout_min", "lb_idle_timeout_max"}
        assert not unknown, (rule.name, unknown)
    assert len(c.RULES_BY_NAME) == len(c.RULES)


def test_the_seeds_configuration_is_rejected_naming_both_broken_rules():
    # CLB idle 60 s, uWSGI socket closed at 30 s, requests running longer than a minute.
    report = c.evaluate(90, "clb", 5, {"lb_idle_timeout": 60, "uwsgi_socket_timeout": 30})
    names = {v.split("]")[0].lstrip("[") for v in report["violations"]}
    assert {"lb_idle_after_nginx_read", "uwsgi_socket_after_harakiri"} <= names
    idle = next(v for v in report["violations"] if v.startswith("[lb_idle_after_nginx_read]"))
    assert "lb_idle_timeout=60 (set in longhaul_timeout_overrides)" in idle
    assert "Fix: set lb_idle_timeout to at least 110" in idle
    assert "config-idle-timeout" in idle  # the CLB's own page, not the ALB's


def test_the_keepalive_race_is_refused_on_alb_and_clb_but_required_on_nlb():
    for lb in ("alb", "clb"):
        t = c.derive(60, lb)
        report = c.evaluate(60, lb, 5, {"nginx_keepalive_timeout": t["lb_idle_timeout"] - 1})
        assert any(v.startswith("[keepalive_outlives_lb_idle]") for v in report["violations"])
    t = c.derive(60, "nlb")
    report = c.evaluate(60, "nlb", 5, {"nginx_keepalive_timeout": t["lb_idle_timeout"] + 5})
    assert any(v.startswith("[keepalive_below_nlb_idle]") for v in report["violations"])


def test_an_override_moves_its_dependents_with_it():
    t = c.derive(60, "alb", 5, {"uwsgi_harakiri": 100})
    assert t["nginx_uwsgi_read_timeout"] == 110 and t["lb_idle_timeout"] == 115
    assert c.evaluate(60, "alb", 5, {"uwsgi_harakiri": 100})["violations"] == []


@pytest.mark.parametrize(
    ("kwargs", "rule", "needle"),
    [
        ({"request_timeout": "fast"}, "input_whole_seconds", "longhaul_request_timeout='fast' (str)"),
        ({"request_timeout": 90.5}, "input_whole_seconds", "longhaul_request_timeout=90.5 (float)"),
        ({"request_timeout": 0}, "input_whole_seconds", "longhaul_request_timeout=0 must be at least 1"),
        ({"request_timeout": -5}, "input_whole_seconds", "longhaul_request_timeout=-5 must be at least 1"),
        ({"request_timeout": True}, "input_whole_seconds", "longhaul_request_timeout=True (bool)"),
        ({"request_timeout": None}, "input_whole_seconds", "longhaul_request_timeout=None"),
        ({"margin": 0}, "input_whole_seconds", "longhaul_timeout_margin=0 must be at least 1"),
        ({"lb_type": "elb"}, "input_lb_type", "longhaul_lb_type='elb'"),
        ({"overrides": {"lb_idle": 60}}, "input_overrides", "unknown key 'lb_idle'"),
        ({"overrides": {"lb_idle_timeout": "60s"}}, "input_whole_seconds", "longhaul_timeout_overrides.lb_idle_timeout='60s'"),
        ({"overrides": {"request_timeout": 60}}, "input_overrides", "unknown key 'request_timeout'"),
        ({"overrides": [60]}, "input_overrides", "must be a dict"),
        ({"unsafe_allow": ["no_such_rule"]}, "input_unsafe_allow", "unknown rules ['no_such_rule']"),
        ({"request_timeout": 4000}, "lb_idle_within_limits", "longhaul_request_timeout may be at most 3980"),
        ({"request_timeout": 3590, "lb_type": "clb"}, "lb_idle_within_limits", "lb_idle_timeout=3610"),
    ],
)
def test_bad_input_names_variable_value_rule_and_fix(kwargs, rule, needle):
    args = {"request_timeout": 60, "lb_type": "alb", "margin": 5, "overrides": {}, "unsafe_allow": []} | kwargs
    report = c.evaluate(**args)
    hit = [v for v in report["violations"] if v.startswith(f"[{rule}]")]
    assert hit, report["violations"]
    assert needle in hit[0] and "Fix:" in hit[0]


def test_the_queue_wait_budget_is_one_margin_and_moves_nginx_and_everything_outwards():
    t = c.derive(60, "alb", 5, {"uwsgi_queue_wait_max": 20})
    assert t["uwsgi_queue_wait_max"] == 20
    assert (t["nginx_uwsgi_read_timeout"], t["lb_idle_timeout"], t["client_timeout_min"]) == (90, 95, 100)
    assert t["uwsgi_socket_timeout"] > t["uwsgi_harakiri"] and t["lb_deregistration_delay"] == 90
    assert c.evaluate(60, "alb", 5, {"uwsgi_queue_wait_max": 20})["violations"] == []
    assert c.derive(8, "alb", 2)["uwsgi_queue_wait_max"] == 2


def test_a_read_timeout_without_room_for_the_queue_wait_names_key_value_and_fix():
    report = c.evaluate(60, "alb", 5, {"nginx_uwsgi_read_timeout": 70})
    (hit,) = [v for v in report["violations"] if v.startswith("[nginx_read_after_harakiri]")]
    assert "nginx_uwsgi_read_timeout=70 (set in longhaul_timeout_overrides)" in hit
    assert "uwsgi_queue_wait_max=5" in hit and "uwsgi_harakiri=65" in hit
    assert "Fix: set nginx_uwsgi_read_timeout to at least 75, or lower uwsgi_queue_wait_max" in hit
    # harakiri + margin (the chain before the queue wait counted) is refused; adding the budget is enough.
    assert c.evaluate(60, "alb", 5, {"nginx_uwsgi_read_timeout": 75})["violations"] == []


def test_a_queue_wait_budget_of_zero_is_refused_by_name():
    report = c.evaluate(60, "alb", 5, {"uwsgi_queue_wait_max": 0})
    (hit,) = [v for v in report["violations"] if v.startswith("[queue_wait_within_limits]")]
    assert "uwsgi_queue_wait_max=0 (set in longhaul_timeout_overrides)" in hit
    assert "Fix: set uwsgi_queue_wait_max to at least 1" in hit


def test_digit_strings_from_the_command_line_are_accepted():
    assert c.evaluate("300", "alb", "5")["timeouts"]["request_timeout"] == 300


def test_unsafe_allow_demotes_only_the_named_rules_and_says_so():
    overrides = {"lb_idle_timeout": 20, "nginx_uwsgi_send_timeout": 10, "nginx_client_body_timeout": 10,
                 "nginx_send_timeout": 10, "client_timeout_min": 30, "nginx_keepalive_timeout": 25}
    report = c.evaluate(30, "alb", 2, overrides, ["lb_idle_after_nginx_read"])
    assert report["violations"] == []
    assert len(report["unsafe"]) == 1 and "UNSAFE" in report["unsafe"][0]
    assert "[lb_idle_after_nginx_read]" in report["unsafe"][0]
    assert c.evaluate(30, "alb", 2, overrides)["violations"]


def test_rule_expressions_cannot_run_arbitrary_code():
    with pytest.raises(ValueError):
        c.safe_eval("__import__('os').system('true')", {})
    with pytest.raises(ValueError):
        c.safe_eval("request_timeout.__class__", {"request_timeout": 1})


def test_report_table_lists_every_key_and_every_applicable_rule():
    text = c.evaluate(60, "clb")["table"]
    for key in c.KEYS:
        assert re.search(rf"^{key}\s+\d+", text, re.M), key
    assert "ok     keepalive_outlives_lb_idle" in text and "keepalive_below_nlb_idle" not in text


def test_docs_are_generated_from_the_rules_and_not_stale():
    committed = (ROOT / "docs" / "timeouts.md").read_text(encoding="utf-8")
    assert committed == c.markdown(), "docs/timeouts.md is stale: run `make docs`"
    for rule in c.RULES:
        assert f"`{rule.name}`" in committed


def test_unsafe_allow_must_be_a_list_of_names():
    report = c.evaluate(60, "alb", 5, {}, "lb_idle_after_nginx_read")
    assert report["violations"] and report["violations"][0].startswith("[input_unsafe_allow]")
    assert "Fix:" in report["violations"][0]


def test_the_chain_picture_is_generated_from_the_contract_and_not_stale():
    import importlib.util

    spec = importlib.util.spec_from_file_location("timeout_chain", ROOT / "scripts" / "timeout_chain.py")
    chain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chain)
    committed = (ROOT / "docs" / "timeout-chain.svg").read_text(encoding="utf-8")
    assert committed == chain.svg(120, "alb"), "docs/timeout-chain.svg is stale: run `make docs`"
    t = c.derive(120, "alb")
    for key, _, _ in chain.HOPS:
        assert f">{t[key]} s<" in committed, key
