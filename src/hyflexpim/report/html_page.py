"""The pieces of a self-contained HTML page: sections, sortable tables, embedded PNG figures, one style sheet and
one small script. The page opens from disk with no server and no network (figures are data: URIs)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;padding:0 18px 60px;
color:#1d2430;background:#fff}
h1{font-size:24px;margin:22px 0 4px}h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #d8dde6;padding-bottom:3px}
h3{font-size:15px;margin:18px 0 6px}p.note{color:#4b5565;margin:4px 0 10px}
nav{position:sticky;top:0;background:#f5f7fa;border-bottom:1px solid #d8dde6;padding:6px 8px;font-size:13px;z-index:2}
nav a{margin-right:12px;color:#1f5fbf;text-decoration:none}
table{border-collapse:collapse;margin:6px 0 14px;font-size:12.5px}
th,td{border:1px solid #d8dde6;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#eef1f6;cursor:pointer;user-select:none;position:sticky;top:0}
th:hover{background:#dfe6f1}th[data-order=asc]::after{content:' ▲'}th[data-order=desc]::after{content:' ▼'}
td.text,th.text{text-align:left}tr:nth-child(even) td{background:#fafbfd}
td.yes{color:#0b6b2b;font-weight:600}.scroll{max-height:520px;overflow:auto;display:inline-block;max-width:100%}
figure{margin:10px 0 18px}figure img{max-width:100%;border:1px solid #e3e7ee}figcaption{color:#4b5565;font-size:12.5px}
pre{background:#f5f7fa;border:1px solid #d8dde6;padding:8px;font-size:12px;overflow:auto;max-height:480px}
.headline{background:#eef6ee;border:1px solid #b9d8bd;padding:8px 12px;margin:10px 0}
.failed{color:#a11}
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, i) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.dataset.order !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = asc ? 'asc' : 'desc';
      var key = function (r) {
        var c = r.cells[i], v = c.dataset.value !== undefined ? c.dataset.value : c.textContent;
        var n = parseFloat(v);
        return isNaN(n) || !/^\\s*[-+]?[0-9.]/.test(v) ? [1, v] : [0, n];
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), c = x[0] - y[0] || (x[0] ? String(x[1]).localeCompare(String(y[1])) : x[1] - y[1]);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def page(title: str, sections: list[tuple[str, str, str]], lead: str = "") -> str:
    """The whole page: a title, a bar of links to the sections, then each (anchor, heading, body)."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in sections)
    body = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{b}</section>' for a, h, b in sections)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head>"
            f"<body><nav>{nav}</nav><h1>{esc(title)}</h1>{lead}{body}<script>{SCRIPT}</script></body></html>")


def cell(value, shown: str | None = None, text: bool = False, cls: str = "", href: str | None = None) -> tuple:
    """A table cell: the value the table sorts by (kept exactly, as ``data-value``), the text shown, and a link."""
    return (value, shown, text, cls, href)


def table(columns: list[str], rows: list[list], note: str = "", limit: int = 2000) -> str:
    """A sortable table. Each row item is a plain value or a ``cell(...)``; numbers are right-aligned, text left.
    At most ``limit`` rows are shown (the note says so)."""
    if not rows:
        return ""
    head = "".join(f'<th class="{"text" if i == 0 else ""}">{esc(c)}</th>' for i, c in enumerate(columns))
    out = []
    for row in rows[:limit]:
        tds = []
        for item in row:
            value, shown, text, cls, href = item if isinstance(item, tuple) else (item, None, None, "", None)
            if text is None:
                text = not isinstance(value, (int, float)) or isinstance(value, bool)
            shown = ("" if value is None else _plain(value)) if shown is None else shown
            data = "" if value is None or text else f' data-value="{esc(value)}"'
            inner = f'<a href="{esc(href)}">{esc(shown)}</a>' if href else esc(shown)
            tds.append(f'<td class="{"text " if text else ""}{cls}"{data}>{inner}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    more = f" Showing the first {limit} of {len(rows)} rows." if len(rows) > limit else ""
    lead = f'<p class="note">{esc(note + more)}</p>' if note or more else ""
    return f'{lead}<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(out)}' \
           f"</tbody></table></div>"


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def figure(png: Path | bytes, caption: str = "") -> str:
    """A PNG embedded as a data: URI, with its caption."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    src = "data:image/png;base64," + base64.b64encode(data).decode()
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" alt="{esc(caption or "figure")}">{cap}</figure>'


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def para(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'
