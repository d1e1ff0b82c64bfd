"""Settings for the test suite: the real settings, plus what makes tests fast and leaves no connections behind."""

from pvtrack.settings import *  # noqa: F403
from pvtrack.settings import DATABASES

# Live-server and worker tests share the test database: close connections at the end of each request so
# the test database can be dropped afterwards.
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never outside tests
