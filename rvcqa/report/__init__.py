"""The diagnosis report: Markdown and self-contained HTML built from the checks' findings.

``collect`` turns ModelContexts into :class:`~rvcqa.report.collect.ModelReport` data, ``document``
turns that into blocks, ``markdown``/``html`` render the blocks and ``plots`` draws the pictures.
Importing this package is cheap (no torch, no matplotlib).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

__all__ = ["ReportPaths", "report_paths", "write_report"]


@dataclass
class ReportPaths:
    markdown: Path
    html: Path
    images_dir: Path
    pictures: int = 0
    picture_errors: dict[str, str] = field(default_factory=dict)
    plots_note: str = ""


def report_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """``x.md``/``x.html``/``x`` -> ``x.md`` + ``x.html`` (+ ``x_files/``); an existing folder or a
    path ending in ``/`` -> ``report.md`` + ``report.html`` inside it."""
    p = Path(out).expanduser()
    if p.is_dir() or str(out).endswith(("/", "\\")):
        base = p / "report"
    elif p.suffix.lower() in (".md", ".html", ".htm", ".markdown"):
        base = p.with_suffix("")
    else:
        base = p
    return base.with_suffix(".md"), base.with_suffix(".html"), base.parent / f"{base.name}_files"


def write_report(models: Sequence[Any], out: str | Path, *, title: str | None = None,
                 plots: bool = True) -> ReportPaths:
    """Write the Markdown and HTML report for ``models`` (:class:`ModelReport` objects).

    Pictures go into the HTML as base64 PNG and beside the Markdown in ``<name>_files/``. Without
    matplotlib (or with ``plots=False``) both files say that they have no pictures and why.
    """
    from rvcqa.report import document, html, markdown
    from rvcqa.report import plots as plots_mod

    md_path, html_path, img_dir = report_paths(out)
    ok, reason = plots_mod.available() if plots else (False, "pictures were turned off")
    blocks = document.build(list(models), plots_available=ok, plots_reason=reason, title=title)
    images: dict[str, bytes] = {}
    errors: dict[str, str] = {}
    if ok:
        for b in blocks:
            if isinstance(b, document.Figure) and b.key not in images:
                try:
                    images[b.key] = plots_mod.render(b.kind, b.args)
                except Exception as exc:  # noqa: BLE001 - one bad picture must not lose the report
                    errors[b.key] = f"{type(exc).__name__}: {exc}"
    md_path.parent.mkdir(parents=True, exist_ok=True)
    rel: dict[str, str] = {}
    if images:
        img_dir.mkdir(parents=True, exist_ok=True)
        for key, data in images.items():
            (img_dir / f"{key}.png").write_bytes(data)
            rel[key] = f"{img_dir.name}/{key}.png"
    page_title = title or (f"{models[0].name} RVC Model Diagnosis Report" if len(models) == 1 else "rvcqa report")
    _atomic_write(md_path, markdown.render(blocks, rel, errors))
    _atomic_write(html_path, html.render(blocks, images, errors, title=page_title))
    return ReportPaths(md_path, html_path, img_dir, len(images), errors, "" if ok else reason)


def _atomic_write(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
