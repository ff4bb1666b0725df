"""Render the report's blocks as GitHub-flavoured Markdown (pictures as PNG files beside it)."""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from rvcqa.report.blocks import Block, Bullets, Code, Figure, Heading, Para, Table

_INLINE = re.compile(r"(\*\*.+?\*\*|`[^`]+`)")
_ESCAPE = re.compile(r"([\\*_<>\[\]])")


def inline(text: str) -> str:
    """Keep the document's ``**bold**``/```code``` markup; escape Markdown specials elsewhere."""
    parts = _INLINE.split(text)
    out = []
    for part in parts:
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append("**" + _ESCAPE.sub(r"\\\1", part[2:-2]) + "**")
        elif part.startswith("`") and part.endswith("`") and len(part) > 2:
            out.append(part)
        else:
            out.append(_ESCAPE.sub(r"\\\1", part))
    return "".join(out)


def _cell(text: str) -> str:
    return inline(str(text)).replace("|", "\\|").replace("\n", "<br>")


def render(blocks: Sequence[Block], images: Mapping[str, str] | None = None,
           errors: Mapping[str, str] | None = None) -> str:
    """``images``: figure key -> relative path of its PNG; ``errors``: key -> why it is missing."""
    images = images or {}
    errors = errors or {}
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * min(b.level, 6) + " " + inline(b.text), ""]
        elif isinstance(b, Para):
            text = b.text if b.text == "---" else inline(b.text)
            if b.kind == "note":
                text = "> " + text
            lines += [text, ""]
        elif isinstance(b, Table):
            if not b.rows:
                continue
            lines.append("| " + " | ".join(_cell(h) for h in b.headers) + " |")
            lines.append("|" + "|".join("---" for _ in b.headers) + "|")
            for row in b.rows:
                cells = list(row) + [""] * (len(b.headers) - len(row))
                if b.status_col is not None and cells[b.status_col] in ("failed", "FAIL"):
                    cells[b.status_col] = f"**{cells[b.status_col]}**"
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
            lines.append("")
        elif isinstance(b, Code):
            fence = "````" if "```" in b.text else "```"
            lines += [fence, b.text, fence, ""]
        elif isinstance(b, Bullets):
            for i, item in enumerate(b.items, 1):
                lines.append(f"{i}. {inline(item)}" if b.ordered else f"- {inline(item)}")
            lines.append("")
        elif isinstance(b, Figure):
            if b.key in images:
                lines += [f"![{b.title}]({images[b.key]})", ""]
                if b.caption:
                    lines += [f"*{inline(b.caption)}*", ""]
            else:
                lines += [f"> No picture ({b.title}): {inline(errors.get(b.key, 'not drawn'))}", ""]
    return "\n".join(lines).rstrip() + "\n"
