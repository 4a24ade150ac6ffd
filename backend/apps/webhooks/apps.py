from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from apps.webhooks import signals  # noqa: F401  (connects the signal receivers)
        from apps.webhooks.push import sessions  # noqa: F401  (sign-out closes the session's sockets)
        from apps.webhooks.push import signals as push_signals  # noqa: F401  (live push of saved rows)
