"""The shell as a Django app, only so that its signal receivers are connected at start-up."""

from django.apps import AppConfig


class ShellConfig(AppConfig):
    name = "pvtrack"
    verbose_name = "pvtrack shell"

    def ready(self) -> None:
        # The second-factor step is decided at login (user_logged_in); connected here, not when the middleware
        # happens to be imported, so a login before the first request (tests' force_login, a shell) is seen.
        from pvtrack import twofactor  # noqa: F401
