"""Live push to the dashboard: changed alerts, positions and orders over the WebSocket `/ws/webhooks/`.

`announce` (any process) → stream `ui_events` → `forwarder` (web process) → channel layer
group `user.<id>` → `consumer` (one per socket).
"""
