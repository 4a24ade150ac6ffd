from django.apps import AppConfig


class BrokersConfig(AppConfig):
    name = "apps.brokers"
    label = "brokers"

    def ready(self) -> None:
        from apps.brokers import signals  # noqa: F401  (connects the receivers)
