# One image for every Aristobot process (web, receiver, engine, gateway, heartbeat, migrate);
# docker-compose.yml picks the command. Build: `docker compose build`.

# --- 1. The dashboard, built the way `make` builds it (scripts/frontend.sh): npm install, npm run build.
FROM node:20-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm install --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. The runtime: slim Python, the same requirements.txt as `make`, a user without privileges.
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARISTOBOT_VAR_DIR=/app/var \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 aristobot \
    && useradd --system --uid 10001 --gid aristobot --home-dir /app --no-create-home --shell /usr/sbin/nologin aristobot
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY backend/ backend/
COPY --from=frontend /app/frontend/dist/ frontend/dist/
# Static files (admin, the built dashboard) gathered for WhiteNoise. The secrets here exist only
# for this command: the real ones come from .env at run time and never enter the image.
RUN cd backend \
    && DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only ARISTOBOT_ENCRYPTION_KEY=Y29sbGVjdHN0YXRpYy1vbmx5LW5vdC1hLXNlY3JldCE= \
       python manage.py collectstatic --noinput \
    && test ! -e /app/var/secrets.env \
    && chown -R aristobot:aristobot /app/var
USER aristobot
WORKDIR /app/backend
EXPOSE 8000 8888
# --verbosity 0: no plain-text access log between the JSON lines.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "--verbosity", "0", "aristobot.asgi:application"]
