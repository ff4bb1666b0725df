"""Render the report's blocks as one self-contained HTML file (CSS inline, pictures as base64 PNG).

No scripts, fonts or links to anything outside the file, so it renders the same in a browser, in
headless Chromium (``scripts/screenshot_report.sh``) and as a CI artifact opened offline.
"""
from __future__ import annotations

import base64
import html
import re
from typing import Mapping, Sequence

from rvcqa.report.blocks import Block, Bullets, Code, Figure, Heading, Para, Table

_INLINE = re.compile(r"(\*\*.+?\*\*|`[^`]+`)")

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; margin: 0;
       background: #f6f7f9; color: #1d2330; line-height: 1.45; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.9em; border-bottom: 3px solid #1d2330; padding-bottom: .3em; }
h2 { font-size: 1.45em; margin-top: 1.8em; border-bottom: 1px solid #d5d9e0; padding-bottom: .2em; }
h3 { font-size: 1.15em; margin-top: 1.4em; }
h4 { font-size: 1em; margin-top: 1.2em; }
p { margin: .5em 0; }
p.note { color: #555; background: #f2f4f7; border-left: 4px solid #9aa3b2; padding: .4em .8em; }
p.fail { background: #fdecec; border-left: 4px solid #c62828; padding: .4em .8em; }
p.pass { background: #eaf6ec; border-left: 4px solid #2e7d32; padding: .4em .8em; }
p.warn { background: #fff6e0; border-left: 4px solid #e6a100; padding: .4em .8em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .88em; width: 100%; }
th, td { border: 1px solid #d5d9e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
tr:nth-child(even) td { background: #fafbfc; }
td.status { font-weight: 600; white-space: nowrap; }
td.s-failed, td.s-FAIL { color: #fff; background: #c62828 !important; }
td.s-passed, td.s-PASS { color: #1b5e20; background: #e3f2e5 !important; }
td.s-warning, td.s-PASS-warnings { color: #7a5200; background: #fff3cd !important; }
td.s-skipped, td.s-not-run, td.s-NOT-RUN { color: #555; background: #eceff1 !important; }
pre { background: #1d2330; color: #e8eaf0; padding: 10px 14px; border-radius: 4px; overflow-x: auto;
      font-size: .86em; white-space: pre-wrap; }
code { background: #eef1f5; padding: 0 3px; border-radius: 3px; font-size: .92em; }
figure { margin: .8em 0 1.2em; }
figure img { max-width: 100%; border: 1px solid #d5d9e0; }
figcaption { color: #555; font-size: .85em; }
hr { border: 0; border-top: 1px solid #d5d9e0; margin: 2em 0 1em; }
"""


def inline(text: str) -> str:
    out = []
    for part in _INLINE.split(text):
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append(f"<strong>{html.escape(part[2:-2])}</strong>")
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            out.append(html.escape(part))
    return "".join(out).replace("\n", "<br>")


def _status_class(text: str) -> str:
    return "s-" + re.sub(r"[^A-Za-z0-9]+", "-", text.strip()).strip("-")


def render(blocks: Sequence[Block], images: Mapping[str, bytes] | None = None,
           errors: Mapping[str, str] | None = None, title: str = "rvcqa report") -> str:
    """``images``: figure key -> PNG bytes (embedded as data URIs); ``errors``: key -> why missing."""
    images = images or {}
    errors = errors or {}
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            level = min(max(b.level, 1), 6)
            body.append(f"<h{level}>{inline(b.text)}</h{level}>")
        elif isinstance(b, Para):
            if b.text == "---":
                body.append("<hr>")
            else:
                cls = f' class="{b.kind}"' if b.kind else ""
                body.append(f"<p{cls}>{inline(b.text)}</p>")
        elif isinstance(b, Table):
            if not b.rows:
                continue
            rows = ["<tr>" + "".join(f"<th>{inline(h)}</th>" for h in b.headers) + "</tr>"]
            for row in b.rows:
                cells = []
                for i, c in enumerate(list(row) + [""] * (len(b.headers) - len(row))):
                    if b.status_col is not None and i == b.status_col:
                        cells.append(f'<td class="status {_status_class(str(c))}">{inline(str(c))}</td>')
                    else:
                        cells.append(f"<td>{inline(str(c))}</td>")
                rows.append("<tr>" + "".join(cells) + "</tr>")
            body.append("<table>" + "".join(rows) + "</table>")
        elif isinstance(b, Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
        elif isinstance(b, Bullets):
            tag = "ol" if b.ordered else "ul"
            body.append(f"<{tag}>" + "".join(f"<li>{inline(i)}</li>" for i in b.items) + f"</{tag}>")
        elif isinstance(b, Figure):
            if b.key in images:
                data = base64.b64encode(images[b.key]).decode("ascii")
                cap = f"<figcaption>{inline(b.title)}{': ' + inline(b.caption) if b.caption else ''}</figcaption>"
                body.append(f'<figure><img alt="{html.escape(b.title)}" src="data:image/png;base64,{data}">{cap}</figure>')
            else:
                body.append(f'<p class="note">No picture ({inline(b.title)}): '
                            f"{inline(errors.get(b.key, 'not drawn'))}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{html.escape(title)}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")
