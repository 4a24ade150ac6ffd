from django.apps import AppConfig


class BrokersConfig(AppConfig):
    name = "apps.brokers"
    label = "brokers"
