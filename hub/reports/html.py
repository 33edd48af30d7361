"""A self-contained HTML page: inline CSS, charts as inline PNG, no script or font from anywhere else.

Counts are written in ``<td class="count">`` cells and suppressed cells as ``*``, so a test (and a
reviewer) can check that nothing below the release threshold is shown. A small inline script checks,
once the page has loaded, that every chart decoded, and records the result on ``<body>``
(``data-render-check``): headless Chromium's DOM dump then tells a test whether the page rendered.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#1b1b1b;background:#fff}
header{background:#0b3c5d;color:#fff;padding:1.2em 2em}header h1{margin:0 0 .3em 0;font-size:1.6em}
header p{margin:.2em 0;opacity:.9}main{padding:0 2em 2em 2em;max-width:1200px}
nav{background:#eef3f7;padding:.6em 2em;font-size:.9em}nav a{margin-right:1em;color:#0b3c5d}
section{border-bottom:1px solid #ddd;padding:1em 0}h2{color:#0b3c5d;margin-bottom:.3em}h3{margin:.8em 0 .3em}
figure{margin:.6em 0}figure img{max-width:100%;border:1px solid #e3e3e3}figcaption{font-size:.85em;color:#555}
table{border-collapse:collapse;font-size:.8em;margin:.4em 0;max-width:100%}
th,td{border:1px solid #ccc;padding:.2em .5em}
th{background:#f2f5f8;text-align:left}td.count,td.rate,td.pop{text-align:right;font-variant-numeric:tabular-nums}
.na{background:#fff7e0;border-left:4px solid #e0a800;padding:.6em 1em}.method{font-size:.85em;color:#444}
.audit{font-size:.8em;color:#666}.kpi{display:inline-block;margin:0 1.5em .5em 0}.kpi b{font-size:1.4em}
"""

RENDER_CHECK = """
<script>
window.addEventListener('error', function (e) {
  document.body.setAttribute('data-render-errors', (document.body.getAttribute('data-render-errors') || '')
    + ' ' + (e.message || 'resource failed'));
}, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-height', String(document.documentElement.scrollHeight));
  document.body.setAttribute('data-render-check', broken.length === 0 && !document.body.getAttribute(
    'data-render-errors') ? 'ok' : 'broken:' + broken.length);
});
</script>
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def count_cell(value: int | None) -> str:
    return '<td class="count">*</td>' if value is None else f'<td class="count">{value:,}</td>'


@dataclass
class Page:
    title: str
    subtitle: list[str]
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (id, heading, body html)

    def section(self, anchor: str, heading: str, *parts: str) -> None:
        self.sections.append((anchor, heading, "\n".join(parts)))

    def render(self) -> str:
        nav = " ".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "\n".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>\n{b}\n</section>' for a, h, b in self.sections)
        sub = "".join(f"<p>{esc(s)}</p>" for s in self.subtitle)
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head>\n"
                f'<body><header><h1>{esc(self.title)}</h1>{sub}</header><nav>{nav}</nav><main>\n{body}\n</main>'
                f"{RENDER_CHECK}</body></html>\n")


def figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Rows are pre-rendered cells (``<td>...``), so counts, rates and text keep their classes."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def td(value: object, cls: str | None = None) -> str:
    return f'<td class="{cls}">{esc(value)}</td>' if cls else f"<td>{esc(value)}</td>"


def not_available(what: str, until: str) -> str:
    return f'<div class="na"><b>Not available until {esc(until)}.</b> {esc(what)}</div>'


def para(text: str, cls: str | None = None) -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def audit_note(release_ids: Sequence[int]) -> str:
    ids = ", ".join(str(i) for i in sorted(release_ids))
    return para(f"Released under audit row(s) {ids} (hub audit list).", "audit")
