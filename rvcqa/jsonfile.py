"""Reading the small JSON files of a model folder (config.json, rvcqa_content.json, an embedder's config).

One reader so that every caller reports a broken file the same way: the path, then what is wrong.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_object(path: Path, error: type[Exception], expected: str) -> dict[str, Any]:
    """The JSON object in ``path``; ``error`` (with ``path: ...``) when it is unreadable or not an object.

    ``expected`` completes "expected ..." in the message, e.g. "a JSON object with data/model/train sections".
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected {expected}")
    return data
