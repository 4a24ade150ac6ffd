"""Settings for the test run: the real settings with safe test secrets filled in."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("ARISTOBOT_ENCRYPTION_KEY", "vOVwesbneqcVWS1dktDnLHD4w0JZuU2V7g0f3Rl_opc=")
os.environ.setdefault("ARISTOBOT_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "var", "test"))

from aristobot.settings import *  # noqa: F403
