"""The longhaul timeout contract: derive every hop's timeout from one request timeout, check every rule.

The core is pure Python (no Ansible imports): ``derive()`` turns the user's inputs into one dict of
seconds, ``check()`` evaluates the rules against it, ``evaluate()`` does both and never raises for a
broken rule, so the caller can report every violation at once. Each rule is a ``Rule`` whose
inequality is a small Python expression over the contract's keys: the same text is evaluated, shown
in error messages and printed in docs/timeouts.md, so the docs cannot drift from the checks.

Ansible sees one filter, ``longhaul_contract`` (see ``FilterModule`` at the bottom).
Run ``python plugins/filter/longhaul_contract.py markdown`` to print docs/timeouts.md.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from typing import Any, Mapping

LB_TYPES = ("alb", "clb", "nlb")

# Idle timeout ranges AWS accepts, seconds (inclusive).
LB_IDLE_LIMITS = {
    "alb": (1, 4000),  # ALB attribute idle_timeout.timeout_seconds
    "clb": (1, 3600),  # CLB ConnectionSettings.IdleTimeout
    "nlb": (60, 6000),  # NLB listener tcp.idle_timeout.seconds
}

DEFAULT_MARGIN = 5

# Every key of the published dict: (meaning, where it lands). Order is the order of the hops,
# from the app outwards, then the fleet.
KEYS: dict[str, tuple[str, str]] = {
    "request_timeout": ("T: the longest a request may run without sending a byte", "input"),
    "timeout_margin": ("seconds between adjacent hops", "input"),
    "uwsgi_harakiri": ("uWSGI kills a worker whose request runs longer", "uwsgi ini harakiri"),
    "uwsgi_socket_timeout": ("uWSGI gives up a socket read/write after", "uwsgi ini socket-timeout"),
    "uwsgi_worker_reload_mercy": ("a reloading worker may finish its request for", "uwsgi ini worker-reload-mercy"),
    "uwsgi_queue_wait_max": ("a request that waited longer in uWSGI's listen queue is answered 503 + Retry-After "
                             "without running", "uwsgi ini env LONGHAUL_UWSGI_QUEUE_WAIT_MAX (the WSGI wrapper)"),
    "nginx_uwsgi_read_timeout": ("nginx waits for uWSGI's response for", "nginx uwsgi_read_timeout"),
    "nginx_uwsgi_send_timeout": ("nginx waits between two writes of the request to uWSGI", "nginx uwsgi_send_timeout"),
    "nginx_uwsgi_connect_timeout": ("nginx waits to connect to uWSGI", "nginx uwsgi_connect_timeout"),
    "nginx_client_body_timeout": ("nginx waits between two reads of the request body", "nginx client_body_timeout"),
    "nginx_send_timeout": ("nginx waits between two writes of the response", "nginx send_timeout"),
    "nginx_keepalive_timeout": ("nginx keeps an idle keep-alive connection open for", "nginx keepalive_timeout"),
    "nginx_shed_retry_after": ("a request refused by a full uWSGI queue, or shed after waiting past "
                               "uwsgi_queue_wait_max, gets 503 with this Retry-After (0: no Retry-After, and a "
                               "refused request stays nginx's 502)",
                               "nginx 503 Retry-After, uwsgi ini env LONGHAUL_UWSGI_RETRY_AFTER"),
    "lb_idle_timeout": ("the load balancer cuts a connection idle for", "LB idle timeout (both sides)"),
    "lb_deregistration_delay": ("a draining target keeps its in-flight requests for", "TG deregistration delay / CLB draining"),
    "lb_health_check_interval": ("seconds between health checks", "TG / CLB health check"),
    "lb_health_check_timeout": ("a health check fails when it takes longer than", "TG / CLB health check"),
    "lb_healthy_threshold": ("consecutive passes before a target is healthy (count)", "TG / CLB health check"),
    "lb_unhealthy_threshold": ("consecutive failures before a target is unhealthy (count)", "TG / CLB health check"),
    "asg_lifecycle_heartbeat": ("a terminating instance may drain for", "ASG termination lifecycle hook"),
    "asg_health_check_grace_period": ("the ASG ignores LB health of a new instance for", "ASG health_check_period"),
    "asg_instance_warmup": ("a new instance's metrics are ignored by scaling for", "ASG default instance warmup"),
    "client_timeout_min": ("clients must wait at least this long for an answer", "your clients"),
}

DERIVED_KEYS = tuple(k for k, (_, where) in KEYS.items() if where != "input")
COUNT_KEYS = ("lb_healthy_threshold", "lb_unhealthy_threshold")

# Role variables that once carried a timeout as a public argument defaulting to the contract; a group_vars line
# (`nginx_uwsgi_read_timeout: 30`) then reached the host with no rule checked. Roles now read the contract fact
# under internal `__` names, and a play that still sets one of these is refused before anything changes.
# Former variable -> the contract key that sets it, through longhaul_timeout_overrides.
FORMER_ROLE_VARIABLES: dict[str, str] = {
    **{f"nginx_{k}": f"nginx_{k}" for k in (
        "uwsgi_read_timeout", "uwsgi_send_timeout", "uwsgi_connect_timeout", "keepalive_timeout",
        "client_body_timeout", "send_timeout", "shed_retry_after")},
    **{f"uwsgi_{k}": f"uwsgi_{k}" for k in ("harakiri", "queue_wait_max", "socket_timeout", "worker_reload_mercy")},
    "uwsgi_shed_retry_after": "nginx_shed_retry_after",
    "uwsgi_stop_timeout": "asg_lifecycle_heartbeat",
    **{f"{role}_{k}": f"lb_{k}" for role in ("aws_lb", "local_lb") for k in (
        "idle_timeout", "deregistration_delay", "health_check_interval", "health_check_timeout",
        "healthy_threshold", "unhealthy_threshold")},
    **{f"aws_asg_{k}": f"asg_{k}" for k in ("lifecycle_heartbeat", "health_check_grace_period", "instance_warmup")},
}
# Role copies of a contract input: an LB type set on one role alone would build one LB type with the numbers
# derived for another. Former variable -> the contract input to set instead.
FORMER_INPUT_COPIES: dict[str, str] = {"aws_lb_type": "longhaul_lb_type", "aws_asg_lb_type": "longhaul_lb_type"}


# --------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Rule:
    """One named rule of the contract.

    ``expr`` is a Python comparison over contract keys (plus ``lb_idle_timeout_min`` /
    ``lb_idle_timeout_max`` for the chosen LB type). ``fix`` may hold ``{expression}`` parts,
    evaluated against the same values when a message is built.
    """

    name: str
    expr: str
    reason: str
    source: str
    fix: str
    lb_types: tuple[str, ...] = LB_TYPES

    def source_for(self, lb_type: str) -> str:
        """The document that states the rule; ``LB_IDLE_SOURCE`` means the chosen LB type's idle timeout page."""
        return LB_IDLE_DOCS[lb_type] if self.source == LB_IDLE_SOURCE else self.source

    @property
    def names(self) -> list[str]:
        """The contract keys this rule reads, in order of appearance."""
        seen: list[str] = []
        for node in ast.walk(ast.parse(self.expr, mode="eval")):
            if isinstance(node, ast.Name) and node.id not in seen and node.id not in _FUNCTIONS:
                seen.append(node.id)
        return seen


NGINX_DOCS = "https://nginx.org/en/docs/http/ngx_http_uwsgi_module.html"
NGINX_CORE = "https://nginx.org/en/docs/http/ngx_http_core_module.html"
UWSGI_DOCS = "https://uwsgi-docs.readthedocs.io/en/latest/Options.html"
ALB_DOCS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout"
CLB_DOCS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-idle-timeout.html"
NLB_DOCS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#connection-idle-timeout"
LB_IDLE_DOCS = {"alb": ALB_DOCS, "clb": CLB_DOCS, "nlb": NLB_DOCS}
LB_IDLE_SOURCE = "the idle timeout page of the LB type"
TG_DOCS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
DRAIN_DOCS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay"
HOOK_DOCS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html"
ASG_DOCS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html"

RULES: tuple[Rule, ...] = (
    # The chain: the innermost layer must act first, so the client always gets an answer with a body.
    Rule(
        "harakiri_after_request",
        "uwsgi_harakiri >= request_timeout + timeout_margin",
        "uWSGI must let a legal request finish; harakiri is the innermost stop for runaway ones",
        UWSGI_DOCS + "#harakiri",
        "set uwsgi_harakiri to at least {request_timeout + timeout_margin}, or lower longhaul_request_timeout",
    ),
    Rule(
        "nginx_read_after_harakiri",
        "nginx_uwsgi_read_timeout >= uwsgi_queue_wait_max + uwsgi_harakiri + timeout_margin",
        "nginx's read timeout also counts the time a request waits in uWSGI's listen queue (harakiri starts only "
        "when a worker takes it): a request may first wait up to uwsgi_queue_wait_max, then run until harakiri, "
        "and nginx must outwait both, so a killed request becomes nginx's clean 502 with a body, not a 504 while "
        "the app still runs",
        NGINX_DOCS + "#uwsgi_read_timeout",
        "set nginx_uwsgi_read_timeout to at least {uwsgi_queue_wait_max + uwsgi_harakiri + timeout_margin}, "
        "or lower uwsgi_queue_wait_max",
    ),
    Rule(
        "lb_idle_after_nginx_read",
        "lb_idle_timeout >= nginx_uwsgi_read_timeout + timeout_margin",
        "the LB cuts a silent request when its idle timeout expires: the client gets an empty reply "
        "and the app's late write dies with a broken pipe",
        LB_IDLE_SOURCE,
        "set lb_idle_timeout to at least {nginx_uwsgi_read_timeout + timeout_margin} "
        "(at most {lb_idle_timeout_max} on this LB type), or lower longhaul_request_timeout",
    ),
    Rule(
        "client_after_lb_idle",
        "client_timeout_min >= lb_idle_timeout + timeout_margin",
        "a client that gives up first never sees the answer of any hop",
        LB_IDLE_SOURCE,
        "set client_timeout_min to at least {lb_idle_timeout + timeout_margin} and configure your clients so",
    ),
    Rule(
        "lb_idle_within_limits",
        "lb_idle_timeout_min <= lb_idle_timeout <= lb_idle_timeout_max",
        "AWS rejects idle timeouts outside the range of the LB type",
        LB_IDLE_SOURCE,
        "keep lb_idle_timeout within {lb_idle_timeout_min}..{lb_idle_timeout_max}; with this margin, "
        "longhaul_request_timeout may be at most "
        "{lb_idle_timeout_max - 3 * timeout_margin - uwsgi_queue_wait_max}",
    ),
    # uWSGI internals.
    Rule(
        "uwsgi_socket_after_harakiri",
        "uwsgi_socket_timeout > uwsgi_harakiri",
        "uWSGI must not give up its socket while a request may still legally run, "
        "or the app's write fails with SIGPIPE / 'Broken pipe'",
        UWSGI_DOCS + "#socket-timeout",
        "set uwsgi_socket_timeout to at least {uwsgi_harakiri + 1}",
    ),
    Rule(
        "reload_mercy_covers_request",
        "uwsgi_worker_reload_mercy >= request_timeout",
        "a graceful reload kills workers still busy after the mercy period: in-flight requests would fail",
        UWSGI_DOCS + "#worker-reload-mercy",
        "set uwsgi_worker_reload_mercy to at least {request_timeout}",
    ),
    Rule(
        "queue_wait_within_limits",
        "1 <= uwsgi_queue_wait_max",
        "a request that waited in uWSGI's listen queue past the budget is shed with 503 before it runs; the "
        "wrapper measures the wait in milliseconds, so a budget of 0 would shed nearly every request (the "
        "budget's upper end is bounded by the chain: nginx_read_after_harakiri)",
        UWSGI_DOCS + "#listen",
        "set uwsgi_queue_wait_max to at least 1",
    ),
    # nginx.
    Rule(
        "nginx_send_before_lb_idle",
        "nginx_uwsgi_send_timeout < lb_idle_timeout",
        "nginx should give up a stalled upload to uWSGI and answer before the LB cuts the connection",
        NGINX_DOCS + "#uwsgi_send_timeout",
        "set nginx_uwsgi_send_timeout below {lb_idle_timeout}",
    ),
    Rule(
        "nginx_client_body_before_lb_idle",
        "nginx_client_body_timeout < lb_idle_timeout",
        "nginx should answer a stalled upload with 408 before the LB cuts it silently",
        NGINX_CORE + "#client_body_timeout",
        "set nginx_client_body_timeout below {lb_idle_timeout}",
    ),
    Rule(
        "nginx_send_timeout_before_lb_idle",
        "nginx_send_timeout < lb_idle_timeout",
        "nginx should drop a client that stopped reading (and log it) before the LB does",
        NGINX_CORE + "#send_timeout",
        "set nginx_send_timeout below {lb_idle_timeout}",
    ),
    Rule(
        "nginx_connect_within_limit",
        "1 <= nginx_uwsgi_connect_timeout <= 75",
        "nginx's connect timeout usually cannot exceed 75 seconds; a full uWSGI queue should fail fast",
        NGINX_DOCS + "#uwsgi_connect_timeout",
        "set nginx_uwsgi_connect_timeout within 1..75",
    ),
    Rule(
        "keepalive_outlives_lb_idle",
        "nginx_keepalive_timeout > lb_idle_timeout",
        "the LB reuses idle backend connections; if nginx closes one first, a request sent on it races the "
        "close: 502 on ALB, 504 on CLB (the keep-alive race)",
        ALB_DOCS,
        "set nginx_keepalive_timeout to at least {lb_idle_timeout + 1}",
        ("alb", "clb"),
    ),
    Rule(
        "keepalive_below_nlb_idle",
        "1 <= nginx_keepalive_timeout < lb_idle_timeout",
        "an NLB silently drops flows idle past its timeout and resets them later; nginx must close idle "
        "keep-alive connections first",
        NLB_DOCS,
        "set nginx_keepalive_timeout below {lb_idle_timeout}",
        ("nlb",),
    ),
    Rule(
        "shed_retry_after_within_client",
        "0 <= nginx_shed_retry_after < client_timeout_min",
        "a shed request must tell the client to come back before the client would give up waiting anyway",
        "https://www.rfc-editor.org/rfc/rfc9110#field.retry-after",
        "set nginx_shed_retry_after within 0..{client_timeout_min - 1} (0 turns shedding off)",
    ),
    # Draining and the fleet.
    Rule(
        "deregistration_covers_request",
        "request_timeout <= lb_deregistration_delay <= 3600",
        "a draining target must keep in-flight requests long enough to finish; AWS allows at most 3600",
        DRAIN_DOCS,
        "set lb_deregistration_delay within {request_timeout}..3600 (a request timeout above 3600 cannot "
        "drain on AWS: lower longhaul_request_timeout)",
    ),
    Rule(
        "heartbeat_covers_drain",
        "lb_deregistration_delay + uwsgi_worker_reload_mercy <= asg_lifecycle_heartbeat",
        "a terminating instance must outlive its drain and its workers' last requests",
        HOOK_DOCS,
        "set asg_lifecycle_heartbeat to at least {lb_deregistration_delay + uwsgi_worker_reload_mercy}",
    ),
    Rule(
        "heartbeat_within_limits",
        "30 <= asg_lifecycle_heartbeat <= 7200",
        "AWS accepts lifecycle hook heartbeats of 30..7200 seconds",
        HOOK_DOCS,
        "set asg_lifecycle_heartbeat within 30..7200 (lower longhaul_request_timeout if the drain needs more)",
    ),
    Rule(
        "health_check_interval_within_limits",
        "5 <= lb_health_check_interval <= 300",
        "AWS accepts health check intervals of 5..300 seconds",
        TG_DOCS,
        "set lb_health_check_interval within 5..300",
    ),
    Rule(
        "health_check_timeout_below_interval",
        "2 <= lb_health_check_timeout < lb_health_check_interval",
        "a health check must time out before the next one starts (AWS rejects the reverse)",
        TG_DOCS,
        "set lb_health_check_timeout within 2..{lb_health_check_interval - 1}",
    ),
    Rule(
        "health_thresholds_within_limits",
        "2 <= lb_healthy_threshold <= 10 and 2 <= lb_unhealthy_threshold <= 10",
        "AWS accepts health thresholds of 2..10",
        TG_DOCS,
        "set lb_healthy_threshold and lb_unhealthy_threshold within 2..10",
    ),
    Rule(
        "grace_covers_first_health",
        "asg_health_check_grace_period >= lb_health_check_interval * lb_healthy_threshold",
        "without an explicit grace period long enough for the LB to see a new instance healthy, "
        "the ASG replaces instances in a loop",
        ASG_DOCS,
        "set asg_health_check_grace_period to at least {lb_health_check_interval * lb_healthy_threshold}",
    ),
    Rule(
        "warmup_covers_first_health",
        "asg_instance_warmup >= lb_health_check_interval * lb_healthy_threshold",
        "scaling must not count an instance that receives no traffic yet",
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html",
        "set asg_instance_warmup to at least {lb_health_check_interval * lb_healthy_threshold}",
    ),
)

RULES_BY_NAME = {r.name: r for r in RULES}


# --------------------------------------------------------------------------------------------
# A tiny, safe evaluator for rule expressions: names, integers, arithmetic, comparisons, and/or.

_FUNCTIONS = {"min": min, "max": max}
_ALLOWED = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.Add, ast.Sub, ast.Mult,
    ast.Name, ast.Load, ast.Constant, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.Call,
)


def safe_eval(expr: str, values: Mapping[str, int]) -> Any:
    """Evaluate a rule expression over ``values``; anything beyond arithmetic and comparisons is refused."""
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"unsupported syntax in rule expression {expr!r}: {type(node).__name__}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise ValueError(f"only min/max may be called in {expr!r}")
    return eval(compile(tree, "<rule>", "eval"), {"__builtins__": {}}, {**_FUNCTIONS, **values})  # noqa: S307


def _fill(template: str, values: Mapping[str, int]) -> str:
    return re.sub(r"\{([^{}]+)\}", lambda m: str(safe_eval(m.group(1), values)), template)


# --------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Violation:
    """A broken rule (or a bad input), with everything a person needs to fix it."""

    rule: str
    message: str


class ContractInputError(ValueError):
    """Raised by ``derive`` when inputs cannot be turned into numbers at all."""

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(v.message for v in violations))
        self.violations = violations


_EXAMPLES = {"longhaul_request_timeout": 120, "longhaul_timeout_margin": DEFAULT_MARGIN}


def _kind(value: Any) -> str:
    """The builtin type a value is (ansible-core 2.19 passes tagged subclasses such as _AnsibleTaggedStr)."""
    return next((c.__name__ for c in type(value).__mro__ if c.__module__ == "builtins" and c is not object),
                type(value).__name__)


def _whole_seconds(variable: str, value: Any, minimum: int) -> tuple[int | None, Violation | None]:
    """Accept ints (and strings of digits, as `-e name=300` passes them); refuse everything else."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        kind = _kind(value)
        return None, Violation(
            "input_whole_seconds",
            f"[input_whole_seconds] {variable}={value!r} ({kind}) is not a whole number of seconds. "
            f"Fix: give an integer number of seconds, e.g. {variable}: {_EXAMPLES.get(variable, 60)}.",
        )
    if number < minimum:
        return None, Violation(
            "input_whole_seconds",
            f"[input_whole_seconds] {variable}={number} must be at least {minimum}. "
            f"Fix: give an integer >= {minimum}.",
        )
    return number, None


def _read_inputs(
    request_timeout: Any, lb_type: Any, margin: Any, overrides: Any, unsafe_allow: Any
) -> tuple[int, str, int, dict[str, int], tuple[str, ...]]:
    errors: list[Violation] = []
    t, err = _whole_seconds("longhaul_request_timeout", request_timeout, 1)
    errors += [err] if err else []
    m, err = _whole_seconds("longhaul_timeout_margin", margin, 1)
    errors += [err] if err else []
    if lb_type not in LB_TYPES:
        errors.append(Violation(
            "input_lb_type",
            f"[input_lb_type] longhaul_lb_type={lb_type!r} is not a load balancer type longhaul knows. "
            f"Fix: use one of {', '.join(LB_TYPES)}.",
        ))
    clean: dict[str, int] = {}
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        errors.append(Violation(
            "input_overrides",
            f"[input_overrides] longhaul_timeout_overrides={overrides!r} must be a dict of key: seconds. "
            f"Fix: e.g. longhaul_timeout_overrides: {{lb_idle_timeout: 400}}.",
        ))
        overrides = {}
    for key, value in overrides.items():
        if key not in DERIVED_KEYS:
            errors.append(Violation(
                "input_overrides",
                f"[input_overrides] longhaul_timeout_overrides has unknown key {key!r}. "
                f"Fix: use one of {', '.join(DERIVED_KEYS)} (set request_timeout and timeout_margin "
                f"through longhaul_request_timeout and longhaul_timeout_margin).",
            ))
            continue
        number, err = _whole_seconds(f"longhaul_timeout_overrides.{key}", value, 0)
        if err:
            errors.append(err)
        else:
            clean[key] = number  # type: ignore[assignment]
    allow = unsafe_allow or []
    if isinstance(allow, str) or not all(isinstance(a, str) for a in allow):
        errors.append(Violation(
            "input_unsafe_allow",
            f"[input_unsafe_allow] longhaul_timeout_unsafe_allow={allow!r} must be a list of rule names. "
            f"Fix: e.g. longhaul_timeout_unsafe_allow: [lb_idle_after_nginx_read].",
        ))
        allow = []
    unknown = [a for a in allow if a not in RULES_BY_NAME]
    if unknown:
        errors.append(Violation(
            "input_unsafe_allow",
            f"[input_unsafe_allow] longhaul_timeout_unsafe_allow names unknown rules {unknown}. "
            f"Fix: use rule names from docs/timeouts.md.",
        ))
    if errors:
        raise ContractInputError(errors)
    return t, lb_type, m, clean, tuple(allow)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Derivation


def derive(
    request_timeout: Any,
    lb_type: Any = "alb",
    margin: Any = DEFAULT_MARGIN,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Derive every hop from T, innermost first; an override replaces a value and its dependents follow it.

    Raises ContractInputError for inputs that are not numbers / known names. Does not check rules.
    """
    t, lb, m, fixed, _ = _read_inputs(request_timeout, lb_type, margin, overrides, [])
    idle_min = LB_IDLE_LIMITS[lb][0]
    v: dict[str, int] = {"request_timeout": t, "timeout_margin": m}

    def put(key: str, value: int) -> int:
        v[key] = fixed.get(key, value)
        return v[key]

    harakiri = put("uwsgi_harakiri", t + m)
    put("uwsgi_worker_reload_mercy", harakiri)
    # A request may wait in uWSGI's listen queue before harakiri starts counting; nginx's read timeout counts
    # that wait too. Past this budget the wrapper sheds it with 503 before it runs, so nginx never cuts one
    # with 504 while the app still works on it.
    queue = put("uwsgi_queue_wait_max", m)
    read = put("nginx_uwsgi_read_timeout", harakiri + queue + m)
    put("uwsgi_socket_timeout", read)
    put("nginx_uwsgi_connect_timeout", min(m, 75))
    # NLB's idle timeout cannot go below 60 s; everything above the chain is fine with a larger gap.
    idle = put("lb_idle_timeout", max(read + m, idle_min))
    # Stall timeouts (no byte moving on a transfer) are not bounded by T but by the LB: nginx gives up
    # one margin before the LB would cut the same connection, so the failure is logged and answered.
    put("nginx_uwsgi_send_timeout", idle - m)
    put("nginx_client_body_timeout", idle - m)
    put("nginx_send_timeout", idle - m)
    # ALB/CLB reuse backend connections, so nginx must hold them longer; an NLB must see nginx close first.
    put("nginx_keepalive_timeout", idle + m if lb in ("alb", "clb") else idle - m)
    # Past capacity, refuse fast and say when to come back, rather than queue until the LB cuts the request.
    put("nginx_shed_retry_after", 1)
    drain = put("lb_deregistration_delay", min(read, 3600))
    put("lb_health_check_interval", 10)
    put("lb_health_check_timeout", 5)
    put("lb_healthy_threshold", 2)
    put("lb_unhealthy_threshold", 2)
    put("asg_lifecycle_heartbeat", max(30, drain + v["uwsgi_worker_reload_mercy"] + m))
    put("asg_health_check_grace_period", 300)
    put("asg_instance_warmup", 120)
    put("client_timeout_min", idle + m)
    assert set(v) == set(KEYS), "derive() must fill every key"
    return {k: v[k] for k in KEYS}


def rule_values(timeouts: Mapping[str, int], lb_type: str) -> dict[str, int]:
    """The names a rule may use: the contract plus the LB type's idle limits."""
    idle_min, idle_max = LB_IDLE_LIMITS[lb_type]
    return {**timeouts, "lb_idle_timeout_min": idle_min, "lb_idle_timeout_max": idle_max}


def check(timeouts: Mapping[str, int], lb_type: str, origins: Mapping[str, str] | None = None) -> list[Violation]:
    """Every rule that applies to ``lb_type`` and does not hold, with a message naming values and the fix."""
    values = rule_values(timeouts, lb_type)
    origins = origins or {}
    broken = []
    for rule in RULES:
        if lb_type not in rule.lb_types or safe_eval(rule.expr, values):
            continue
        shown = ", ".join(
            f"{n}={values[n]}" + (f" ({origins[n]})" if n in origins else "") for n in rule.names
        )
        broken.append(Violation(
            rule.name,
            f"[{rule.name}] {rule.expr} does not hold on {lb_type.upper()}: {shown}. "
            f"Why: {rule.reason}. Fix: {_fill(rule.fix, values)}. Source: {rule.source_for(lb_type)}",
        ))
    return broken


def evaluate(
    request_timeout: Any,
    lb_type: Any = "alb",
    margin: Any = DEFAULT_MARGIN,
    overrides: Mapping[str, Any] | None = None,
    unsafe_allow: list[str] | None = None,
) -> dict[str, Any]:
    """Derive and check. Returns {timeouts, violations, unsafe, table (text)}; never raises for user errors.

    ``violations`` are messages that must stop the run; ``unsafe`` are broken rules the user allowed
    explicitly through ``longhaul_timeout_unsafe_allow`` (to be shown loudly, not to stop the run).
    """
    try:
        t, lb, m, fixed, allow = _read_inputs(request_timeout, lb_type, margin, overrides, unsafe_allow)
    except ContractInputError as exc:
        return {"timeouts": {}, "violations": [v.message for v in exc.violations], "unsafe": [], "table": ""}
    timeouts = derive(t, lb, m, fixed)
    origins = {k: "set in longhaul_timeout_overrides" for k in fixed}
    broken = check(timeouts, lb, origins)
    return {
        "timeouts": timeouts,
        "violations": [v.message for v in broken if v.rule not in allow],
        "unsafe": [f"UNSAFE (allowed by longhaul_timeout_unsafe_allow): {v.message}" for v in broken if v.rule in allow],
        "table": "\n".join(table(timeouts, lb, fixed)),
    }


def table(timeouts: Mapping[str, int], lb_type: str, overridden: Mapping[str, int] | None = None) -> list[str]:
    """Plain-text report: every hop (key, seconds, where it lands), then every rule with its verdict."""
    overridden = overridden or {}
    rows = [("key", "seconds", "lands in")]
    for key, (_, where) in KEYS.items():
        rows.append((key, f"{timeouts[key]}" + ("*" if key in overridden else ""), where))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]}" for r in rows]
    if overridden:
        lines.append("* set in longhaul_timeout_overrides")
    values = rule_values(timeouts, lb_type)
    lines.append("")
    lines.append(f"rules on {lb_type.upper()}:")
    for rule in RULES:
        if lb_type in rule.lb_types:
            verdict = "ok    " if safe_eval(rule.expr, values) else "BROKEN"
            lines.append(f"{verdict} {rule.name}: {rule.expr} -- {rule.reason}")
    return lines


# --------------------------------------------------------------------------------------------
# Docs


def markdown() -> str:
    """docs/timeouts.md, generated from KEYS and RULES."""
    out = [
        "# The timeout contract",
        "",
        "<!-- Generated by `make docs` from plugins/filter/longhaul_contract.py; do not edit by hand. -->",
        "",
        "You state `longhaul_request_timeout` (T: the longest a request may run without sending a byte) and",
        "`longhaul_lb_type`; longhaul derives every hop from it, innermost first, and checks every rule below",
        "before anything on a host or in AWS changes. `longhaul_timeout_margin` (default "
        f"{DEFAULT_MARGIN} s) is the gap between adjacent hops.",
        "Any derived key can be set by hand in `longhaul_timeout_overrides`; overrides are checked by the same",
        "rules, and keys derived after an overridden one follow it. `longhaul_timeout_unsafe_allow` (a list of",
        "rule names) turns those rules' violations into loud warnings: it exists to reproduce failures on",
        "purpose, never for production.",
        "",
        "## Keys (published as the fact `longhaul_timeouts`)",
        "",
        "| key | meaning | lands in | T=60, ALB | T=300, CLB | T=900, NLB |",
        "|---|---|---|---|---|---|",
    ]
    examples = [derive(60, "alb"), derive(300, "clb"), derive(900, "nlb")]
    for key, (meaning, where) in KEYS.items():
        out.append(f"| `{key}` | {meaning} | {where} | " + " | ".join(str(e[key]) for e in examples) + " |")
    out += [
        "",
        "## Rules",
        "",
        "| rule | must hold | LB types | why | source |",
        "|---|---|---|---|---|",
    ]
    for r in RULES:
        if r.source == LB_IDLE_SOURCE:
            sources = " ".join(f"[{lb.upper()}]({LB_IDLE_DOCS[lb]})" for lb in r.lb_types)
        else:
            sources = f"[doc]({r.source})"
        out.append(f"| `{r.name}` | `{r.expr}` | {', '.join(r.lb_types)} | {r.reason} | {sources} |")
    out += [
        "",
        "LB idle timeout limits: " + ", ".join(f"{k.upper()} {a}..{b} s" for k, (a, b) in LB_IDLE_LIMITS.items()) + ".",
        "",
        "Input rules: `input_whole_seconds` (timeouts are integers of seconds; strings of digits from `-e` are",
        "accepted, floats are not), `input_lb_type`, `input_overrides` (known keys only), `input_unsafe_allow`",
        "(known rule names only).",
        "",
    ]
    return "\n".join(out)


def former_variables(names: Any) -> list[str]:
    """Those of ``names`` (variable names defined in a play) that are former role timeout variables, sorted."""
    if not isinstance(names, (list, tuple)):
        return []
    return sorted({n for n in names if isinstance(n, str) and (n in FORMER_ROLE_VARIABLES or n in FORMER_INPUT_COPIES)})


def bypass_violations(defined: Any) -> list[str]:
    """One message per former role timeout variable set in ``defined`` ({name: value}), naming the way in."""
    if not isinstance(defined, Mapping):
        return []
    out = []
    for name in former_variables(list(defined)):
        value = defined[name]
        shown = value if isinstance(value, (int, str)) and not isinstance(value, bool) else repr(value)
        if name in FORMER_INPUT_COPIES:
            out.append(
                f"[input_one_way_in] {name}={shown!s} is set, but no role reads it: the LB type is a contract input, "
                f"and one role's own copy would build one LB type with the timeouts derived for another. "
                f"Fix: remove {name} and set {FORMER_INPUT_COPIES[name]}: {shown!s}."
            )
            continue
        key = FORMER_ROLE_VARIABLES[name]
        out.append(
            f"[input_one_way_in] {name}={shown!s} is set (group_vars, host_vars or -e), but no role reads it: every "
            f"timeout comes from the contract, and a role variable would bypass its rules. "
            f"Fix: remove {name} and set longhaul_timeout_overrides: {{{key}: {shown!s}}}, which is checked by the "
            f"same rules as the rest of the chain."
        )
    return out


# --------------------------------------------------------------------------------------------
# The Ansible boundary


def longhaul_contract(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Filter: ``{{ {'request_timeout': .., 'lb_type': .., ...} | longhaul_contract }}`` -> evaluate(...)."""
    known = {"request_timeout", "lb_type", "margin", "overrides", "unsafe_allow"}
    if not isinstance(inputs, Mapping) or not set(inputs) <= known:
        from ansible.errors import AnsibleFilterError  # the only Ansible import, at the boundary

        raise AnsibleFilterError(f"longhaul_contract expects a dict with keys {sorted(known)}, got {inputs!r}")
    return evaluate(
        inputs.get("request_timeout"),
        inputs.get("lb_type", "alb"),
        inputs.get("margin", DEFAULT_MARGIN),
        inputs.get("overrides") or {},
        inputs.get("unsafe_allow") or [],
    )


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "longhaul_contract": longhaul_contract,
            "longhaul_former_timeout_variables": former_variables,
            "longhaul_timeout_bypass_errors": bypass_violations,
        }


if __name__ == "__main__":
    if sys.argv[1:] == ["markdown"]:
        sys.stdout.write(markdown())
    else:
        sys.exit("usage: longhaul_contract.py markdown")
