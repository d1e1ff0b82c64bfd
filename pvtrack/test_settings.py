"""Settings for the test suite: the real settings, plus what makes tests fast and leaves no connections behind."""

from pvtrack.settings import *  # noqa: F403
from pvtrack.settings import DATABASES

# Live-server and worker tests share the test database: close connections at the end of each request so
# the test database can be dropped afterwards.
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never outside tests
# The suite's personas log in with force_login and sign with a password only; the second factor is switched on
# by the tests that exercise it (tests/security/test_two_factor.py), and the production default is checked there.
PVTRACK_TWO_FACTOR_ROLES = []
