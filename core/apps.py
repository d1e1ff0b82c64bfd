from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "pvtrack core"

    def ready(self) -> None:
        from core import credentials

        credentials.connect()  # API tokens die with a password change or a deactivation
