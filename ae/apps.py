from django.apps import AppConfig


class AeConfig(AppConfig):
    name = "ae"
    verbose_name = "Adverse events (CTCAE v5.0)"
