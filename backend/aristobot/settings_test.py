"""Settings for the test run: the real settings with safe test secrets filled in."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("ARISTOBOT_ENCRYPTION_KEY", "vOVwesbneqcVWS1dktDnLHD4w0JZuU2V7g0f3Rl_opc=")
os.environ.setdefault("ARISTOBOT_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "var", "test"))

from aristobot.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared in-memory database: the gateway thread writes while the
    # engine does, which needs SQLite's real locking (WAL, busy timeout) as in production.
    os.makedirs(VAR_DIR, exist_ok=True)  # noqa: F405
    # One file per test process, so that two test runs on one checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Unit tests need no Redis for the cache; tests that want Redis use the redis_url fixture.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
