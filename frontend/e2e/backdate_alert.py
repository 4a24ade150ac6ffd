"""Move an alert's receipt time back by some days, straight in the stack's database.

The receiver stamps every alert with the time it arrives, so an alert from last week can only
be made by editing one: the browser tests use it to see the period selector at work.

    backdate_alert.py DATABASE_URL ALERT_ID DAYS
"""

from __future__ import annotations

import sqlite3
import sys


def backdate(database_url: str, alert_id: int, days: int) -> int:
    """Rows changed (1 when the alert exists)."""
    if database_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        with psycopg.connect(database_url) as conn:
            changed = conn.execute(
                "UPDATE webhooks_webhook SET received_at = received_at - make_interval(days => %s) WHERE id = %s",
                (days, alert_id),
            ).rowcount
            return changed
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=20) as conn:
        return conn.execute(
            "UPDATE webhooks_webhook SET received_at = datetime(received_at, ?) WHERE id = ?",
            (f"-{days} days", alert_id),
        ).rowcount


if __name__ == "__main__":
    url, raw_id, raw_days = sys.argv[1:4]
    changed = backdate(url, int(raw_id), int(raw_days))
    if changed != 1:
        sys.exit(f"backdate_alert: alert {raw_id} not found")
