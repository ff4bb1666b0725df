"""Progress lines for long work (conversions, resynthesis): logged, and passed to a callback."""
from __future__ import annotations

import logging
from typing import Callable, Optional

Progress = Callable[[str], None]


def say(log: logging.Logger, progress: Optional[Progress], line: str) -> None:
    """Log ``line`` and hand it to ``progress`` when one is given (e.g. the plugin's printer)."""
    log.info(line)
    if progress is not None:
        progress(line)
