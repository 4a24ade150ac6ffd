"""CORS for POST /webhook: the dashboard's "send a test alert" posts from the browser (another port).

Any origin may post and read the answer: the receiver uses no cookies, only the token the
sender already holds (in the path or the body), and any site could send the same POST as a
"simple" request anyway; CORS only lets the page read the answer (received, 401, 429 …).
"""

from __future__ import annotations

from aiohttp import web

ALLOWED_HEADERS = "Content-Type, X-Webhook-Token"
PREFLIGHT_MAX_AGE = "600"
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}  # on every /webhook answer, set where it is built (handlers.py)


async def cors_preflight(request: web.Request) -> web.Response:
    """Answer the browser's OPTIONS before a JSON POST: POST with Content-Type is allowed."""
    return web.Response(
        status=204,
        headers={
            **ANY_ORIGIN,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )


def cors_enable(app: web.Application) -> None:
    """Add the preflight routes (the /webhook handlers add Access-Control-Allow-Origin to their answers)."""
    app.router.add_route("OPTIONS", "/webhook", cors_preflight)
    app.router.add_route("OPTIONS", "/webhook/{token}", cors_preflight)
