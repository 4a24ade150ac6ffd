"""The built Vue dashboard: index.html for every dashboard route, so the app's router takes over.

The built assets themselves are static files under /static/app/ (frontend/dist is in
STATICFILES_DIRS); this view only answers the HTML page, never cached, with the CSRF cookie
the app sends back on its first unsafe request, and who is signed in (a meta tag), so that the
app starts without asking /api/auth/me/ (whose 403 when signed out a browser logs as an error).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

NOT_BUILT = (
    "The dashboard is not built yet: run `make setup` (or `npm install && npm run build` in frontend/), "
    "then reload this page. The API (/api/) and the admin (/admin/) work without it.\n"
)


USER_FIELDS = ("id", "username", "email", "first_name", "last_name", "is_staff")


def spa_index_path() -> Path:
    """Where the built index.html is (settings.FRONTEND_DIST_DIR / index.html)."""
    return Path(settings.FRONTEND_DIST_DIR) / "index.html"


@require_safe
@never_cache
@ensure_csrf_cookie
def spa_index(request: HttpRequest, path: str = "") -> HttpResponse:
    """The app's index.html; 503 saying how to build it when it is missing; 404 for a file-like path."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "." in last:
        # /favicon.ico, /robots.txt, a stale asset URL: a file that is not here, not a dashboard route.
        return HttpResponseNotFound(f"Not found: /{path}\n", content_type="text/plain; charset=utf-8")
    try:
        html = spa_index_path().read_bytes()
    except FileNotFoundError:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/plain; charset=utf-8")
    return HttpResponse(spa_with_user(html, request), content_type="text/html; charset=utf-8")


def spa_with_user(html: bytes, request: HttpRequest) -> bytes:
    """index.html with `<meta name="aristobot-user" content="{…}">` (`null` when signed out)."""
    user = request.user
    data = {field: getattr(user, field) for field in USER_FIELDS} if user.is_authenticated else None
    tag = f'<meta name="aristobot-user" content="{escape(json.dumps(data))}">'.encode()
    head_end = html.find(b"</head>")
    return html if head_end < 0 else html[:head_end] + tag + html[head_end:]
