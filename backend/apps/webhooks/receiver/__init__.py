"""The webhook receiver: an aiohttp app that authenticates TradingView alerts and makes them durable, fast.

Entry point: `build_app(...)`; `server.serve(...)` runs it for `manage.py run_webhook_receiver`,
through `runner.py` (aiohttp's timeouts and limits) and `connections.py` (the cap on open connections).
"""

from apps.webhooks.receiver.app import build_app
from apps.webhooks.receiver.config import ReceiverConfig

__all__ = ["ReceiverConfig", "build_app"]
