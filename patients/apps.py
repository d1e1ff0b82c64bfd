from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Sites, patients and treatment cycles"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from patients.locale import remember_locale

        # The user's language and time zone are worked out at log-in and kept in the session (patients/locale.py).
        user_logged_in.connect(remember_locale, dispatch_uid="patients.locale.remember_locale")
