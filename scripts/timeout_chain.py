"""Draw the timeout chain of a contract as an SVG (docs/timeout-chain.svg, shown in the README).

Usage: python scripts/timeout_chain.py [REQUEST_TIMEOUT] [LB_TYPE] > docs/timeout-chain.svg
The numbers come from the contract's own derive(); nothing here computes a timeout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins" / "filter"))
import longhaul_contract as contract  # noqa: E402

# (key, label, colour), innermost hop first: each bar must end before the next one.
HOPS = [
    ("request_timeout", "T: the app may stay silent", "#4c72b0"),
    ("uwsgi_harakiri", "uWSGI harakiri (silence)", "#55a868"),
    ("nginx_uwsgi_read_timeout", "nginx uwsgi_read_timeout", "#c44e52"),
    ("lb_idle_timeout", "LB idle timeout", "#8172b2"),
    ("nginx_keepalive_timeout", "nginx keepalive_timeout", "#ccb974"),
    ("client_timeout_min", "client timeout (minimum)", "#64b5cd"),
]


def svg(request_timeout: int = 120, lb_type: str = "alb") -> str:
    t = contract.derive(request_timeout, lb_type)
    width, left, bar, gap, top = 760, 230, 22, 12, 50
    # The hops are a few margins apart at the end of a long request: start the axis just before T so the
    # gaps the rules demand are visible (the break is marked).
    start = max(0, t["request_timeout"] - 2 * t["timeout_margin"])
    scale = (width - left - 70) / (max(t[k] for k, _, _ in HOPS) - start)
    height = top + len(HOPS) * (bar + gap) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="24" font-size="15" font-weight="bold">{escape(contract_title(t, lb_type))}</text>',
    ]
    for i, (key, label, colour) in enumerate(HOPS):
        y = top + i * (bar + gap)
        w = (t[key] - start) * scale
        out.append(f'<text x="10" y="{y + bar - 6}">{escape(label)}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + bar - 6}">{t[key]} s</text>')
    axis = top + len(HOPS) * (bar + gap) + 4
    out.append(f'<line x1="{left}" y1="{axis}" x2="{width - 60}" y2="{axis}" stroke="#444"/>')
    out.append(f'<text x="{left - 4}" y="{axis + 18}" fill="#444" text-anchor="end">'
               f'{"0 s ... " if start else ""}{start} s</text>')
    out.append(f'<text x="{left + 40}" y="{axis + 18}" fill="#444">each hop acts after the one above it, '
               f'at least {t["timeout_margin"]} s later</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def contract_title(t: dict[str, int], lb_type: str) -> str:
    return f"The timeout chain for T = {t['request_timeout']} s behind an {lb_type.upper()} (innermost acts first)"


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.stdout.write(svg(int(args[0]) if args else 120, args[1] if len(args) > 1 else "alb"))
