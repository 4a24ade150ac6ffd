"""WhiteNoise for the web process, quiet when nothing was collected yet."""

from __future__ import annotations

import warnings
from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serves STATIC_ROOT (collectstatic's output; the Docker image has it) compressed and cached.

    Before the first collectstatic (tests, `make run`, which serves static files through daphne
    in DEBUG) there is nothing to serve: WhiteNoise's warning about the missing folder is noise.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No directory at: ")
            super().__init__(*args, **kwargs)
