"""pvtrack settings: every environment difference comes from environment variables.

Importing this module only reads the environment: it writes no file, creates no directory and starts no
server. The development database (an embedded PostgreSQL) is started and stopped by the scripts that need
it (``scripts/run.sh``, ``scripts/test.sh``, ``scripts/manage.sh``; see ``pvtrack/devdb.py``), which then
pass its address in ``DATABASE_URL`` like any other database.

Required in production (``PVTRACK_ENV=production``): ``SECRET_KEY``, ``DATABASE_URL``, ``REDIS_URL``,
``ALLOWED_HOSTS``. Secrets may instead be given as files (Docker/Kubernetes secrets): ``<NAME>_FILE`` names a
file whose content, stripped of surrounding white space, is the value (see ``secret()`` below). Without
``REDIS_URL`` outside production, Celery tasks run in-process after commit.
"""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

PVTRACK_ENV = env.str("PVTRACK_ENV", default="development")
if PVTRACK_ENV not in ("development", "production", "test"):
    raise ImproperlyConfigured(f"PVTRACK_ENV must be development, production or test, not {PVTRACK_ENV!r}")
PRODUCTION = PVTRACK_ENV == "production"

DEBUG = env.bool("DEBUG", default=False)

# Variables that may be given as <NAME>_FILE instead of <NAME>.
SECRET_NAMES = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL")


def secret(name: str) -> str:
    """The value of ``name``, or the stripped content of the file named by ``<name>_FILE``; "" if neither is set.

    A variable set to the empty string counts as unset. Setting both is an error (which one would win is not
    obvious to whoever reads the deployment), and so are an unreadable or empty file.
    """
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "")
    if value and path:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one of them")
    if not path:
        return value
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path}: cannot read the file ({exc.strerror or exc})") from exc
    if not content:
        raise ImproperlyConfigured(f"{name}_FILE={path}: the file is empty")
    return content


SECRET_KEY = secret("SECRET_KEY")
# Private (lower case): not a Django setting, so the password in it never shows on a DEBUG error page.
_database_url = secret("DATABASE_URL")
REDIS_URL = secret("REDIS_URL")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])

if PRODUCTION:
    _missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("DATABASE_URL", _database_url),
                                         ("REDIS_URL", REDIS_URL), ("ALLOWED_HOSTS", ALLOWED_HOSTS)) if not value]
    if _missing:
        raise ImproperlyConfigured(
            f"PVTRACK_ENV=production requires {', '.join(_missing)} (SECRET_KEY, DATABASE_URL and REDIS_URL may "
            "instead be given as files: SECRET_KEY_FILE, DATABASE_URL_FILE, REDIS_URL_FILE)")
elif not SECRET_KEY:
    # Development and test only. The scripts always provide a key (scripts/_env.sh creates .pvtrack/secret_key
    # once and exports SECRET_KEY_FILE), so sessions survive restarts and every process of a run shares it.
    # A bare `manage.py` call with nothing set gets a random key of its own: enough for one-off commands
    # (migrate, shell, check), which sign nothing that must outlive the process. Serving requests this way
    # (gunicorn by hand) would log everyone out on each restart and disagree between workers: set SECRET_KEY.
    SECRET_KEY = secrets.token_urlsafe(50)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_filters",
    "drf_spectacular",
    "pgtrigger",
    "pghistory",
    "core",
    "patients",
    "ae",
    "reports",
    "pvtrack.apps.ShellConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Cache-Control: no-store on every page and API answer (static files are served above, cacheable).
    "core.nostore.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language for anonymous pages (login); a logged-in user's own choice is applied further down.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's language (else their site's) and their site's time zone, remembered in the session at log-in.
    "patients.locale.UserLocaleMiddleware",
    # Sessions logged in before PVTRACK_AUTH_NOT_BEFORE (set by the restore procedure) are logged out.
    "pvtrack.auth_epoch.AuthEpochMiddleware",
    # Second factor (TOTP): marks verified sessions, then sends unverified ones that need it to enrol or verify.
    "django_otp.middleware.OTPMiddleware",
    "pvtrack.twofactor.TwoFactorMiddleware",
    # Who, from where (web form or API) and which URL, attached to every audit event of the request.
    "core.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a lockout detected during the request into the lockout page (or JSON for the API).
    "axes.middleware.AxesMiddleware",
]

# --- Audit trail (django-pghistory: PostgreSQL triggers, so bulk updates and raw SQL are caught too) -----
# Every tracked model records inserts, updates and deletes; event tables refuse UPDATE and DELETE.
PGHISTORY_APPEND_ONLY = True
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ROOT_URLCONF = "pvtrack.urls"
WSGI_APPLICATION = "pvtrack.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "patients.context_processors.notifications",
                "patients.context_processors.session_timeout",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL only: grade/term, onset/cycle and patient/cycle rules are enforced by composite foreign
# keys and triggers (see ae/migrations), which SQLite cannot express.
if not _database_url:
    # Outside production (production raised above): settings start nothing, so say how to get a database.
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. On a development machine use the scripts, which start an embedded PostgreSQL "
        "for as long as they run: `bash scripts/manage.sh <command>` instead of `python manage.py <command>`, "
        "`bash scripts/run.sh`, `bash scripts/test.sh`. Or set DATABASE_URL (or DATABASE_URL_FILE) to a "
        "PostgreSQL >= 15 database; for an embedded server started by hand with `python -m pvtrack.devdb start`: "
        "export DATABASE_URL=$(python -m pvtrack.devdb url)")
DATABASES = {"default": env.db_url_config(_database_url)}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------------
# django-axes first: it refuses a locked-out username+IP before any password is checked. Every
# authenticate() call must pass the request (the web login and the API token login both do).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (core/lockout.py, docs/operations.md "Login throttling"): three tiers, each with its own limit of
# failures within the cool-off window: one username on one computer (5), one computer for any usernames (20: password
# spraying), one username from any computers (50: distributed guessing; NIST SP 800-63B §5.2.2 allows at most 100).
PVTRACK_LOCKOUT_PER_USERNAME_AND_ADDRESS = env.int("PVTRACK_LOCKOUT_PER_USERNAME_AND_ADDRESS", default=5)
PVTRACK_LOCKOUT_PER_ADDRESS = env.int("PVTRACK_LOCKOUT_PER_ADDRESS", default=20)
PVTRACK_LOCKOUT_PER_USERNAME = env.int("PVTRACK_LOCKOUT_PER_USERNAME", default=50)
AXES_HANDLER = "core.lockout.TieredLockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address", "username"]  # the order of core.lockout.TIERS
AXES_FAILURE_LIMIT = PVTRACK_LOCKOUT_PER_USERNAME_AND_ADDRESS
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Attempts refused during a lockout are not counted: hammering one computer's lock never adds to the username tier.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "pvtrack.auth.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client address: REMOTE_ADDR, or with PVTRACK_TRUSTED_PROXIES = n reverse proxies in front of gunicorn the n-th
# X-Forwarded-For entry from the right (core/clientip.py). Never an entry the client wrote itself.
PVTRACK_TRUSTED_PROXIES = env.int("PVTRACK_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "core.clientip.client_ip"
# Two-factor authentication (django-otp, pvtrack/twofactor.py): required for these membership roles (the roles that
# sign) and for Django staff; optional for everyone else. Comma-separated; empty turns the requirement off.
PVTRACK_TWO_FACTOR_ROLES = env.list("PVTRACK_TWO_FACTOR_ROLES",
                                    default=["safety_officer", "administrator", "network_coordinator"])
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="pvtrack")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Shared ward PCs: sessions end 30 minutes after the last request and when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_ENGINE = "core.sessions"  # Django's database sessions; an update is one statement (no BEGIN/COMMIT)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Internationalisation -------------------------------------------------------------------------
# The interface speaks these languages (docs/usability.md, "Language and formats"): a user's choice (profile page),
# else their site's default (Site.language), else the browser's (LocaleMiddleware), else LANGUAGE_CODE. Dates, times
# and numbers follow the active language's formats; times are shown in the user's site's time zone (Site.time_zone,
# activated by patients.locale.UserLocaleMiddleware). CTCAE terms and grade texts stay in NCI's English.
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("pl", "Polski")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Warsaw")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
# STATIC_ROOT is where `collectstatic` (which creates it) gathers the files whitenoise serves in production.
# Outside production whitenoise serves straight from the app and STATICFILES_DIRS (WHITENOISE_USE_FINDERS),
# so there is nothing to collect and STATIC_ROOT stays unset unless given: whitenoise then does not look for
# the directory (and does not warn "No directory at ..." when it is missing).
_static_root = env.str("STATIC_ROOT", default="")
STATIC_ROOT: Path | None
if _static_root:
    STATIC_ROOT = Path(_static_root)
elif PRODUCTION:
    STATIC_ROOT = BASE_DIR / ".pvtrack" / "staticfiles"
else:
    STATIC_ROOT = None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
                    if PRODUCTION else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the term picker's fetch() reads nothing from it; DRF reads the header
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# Content-Security-Policy (django-csp 4): the pages use static CSS and JS files only, no inline code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The token class first: a request without credentials answers 401 with "WWW-Authenticate: Token" (the first
    # class names the challenge; SessionAuthentication has none, which made DRF answer 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pvtrack.auth_epoch.EpochTokenAuthentication",  # core.api.TokenAuthentication minus tokens before the epoch
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Unknown query parameters answer 400 (core.api.StrictFilterBackend).
    "DEFAULT_FILTER_BACKENDS": ["core.api.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.LimitOffsetPagination",
    # JSON only (docs/api-changelog.md): one request encoding, so generated clients send JSON.
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser"],
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "core.openapi.PvtrackAutoSchema",
    # One error shape for every API error (RFC 9457 problem details with a stable "code"): core/errors.py.
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
}
# The authentication epoch (pvtrack/auth_epoch.py, docs/operations.md §5.4): sessions and API tokens issued
# before this ISO 8601 time (with a UTC offset, e.g. 2026-03-01T14:30:00Z) are refused. The restore procedure
# sets it to the restore's time: a restored database must not bring back sessions or tokens revoked since.
_auth_not_before = secret("PVTRACK_AUTH_NOT_BEFORE")
try:
    PVTRACK_AUTH_NOT_BEFORE = datetime.datetime.fromisoformat(_auth_not_before) if _auth_not_before else None
except ValueError as exc:
    raise ImproperlyConfigured(f"PVTRACK_AUTH_NOT_BEFORE={_auth_not_before!r} is not an ISO 8601 time") from exc
if PVTRACK_AUTH_NOT_BEFORE is not None and PVTRACK_AUTH_NOT_BEFORE.tzinfo is None:
    raise ImproperlyConfigured("PVTRACK_AUTH_NOT_BEFORE needs a UTC offset (e.g. 2026-03-01T14:30:00Z)")
# API tokens (django-rest-knox): stored as SHA-512 digests, expire API_TOKEN_TTL_HOURS after issue.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "pvtrack API",
    "DESCRIPTION": "Adverse events of blinatumomab per patient and treatment cycle; benchmark runs.",
    "VERSION": "1.4.5",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema maps every operation: served to logged-in users (session or token) only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {"ProblemCodeEnum": "core.errors.CODE_CHOICES",
                            "RecordedEnum": "patients.treatment.Recorded",
                            "HospitalStayKindEnum": "patients.treatment.HospitalStay.Kind",
                            "NextTherapyKindEnum": "patients.treatment.NextTherapy.Kind",
                            # the adverse event's names, kept when SAE cases brought other sets of the same fields
                            "ActionTakenEnum": "ae.models.events.AdverseEvent.Action",
                            "OutcomeEnum": "ae.models.events.AdverseEvent.Outcome",
                            "RelatednessEnum": "ae.models.events.AdverseEvent.Relatedness",  # = SAE causality
                            "SAEExpectednessEnum": "ae.models.sae.SAECase.Expectedness",
                            "SAEActionTakenEnum": "ae.models.sae.SAECase.Action",
                            "SAEChallengeEnum": "ae.models.sae.YES_NO_UNKNOWN"},
    # Separate request and response components: read-only fields (id, created_at, ...) are not asked for on
    # create, and response components require every member the server always returns (core/openapi.py).
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ---------------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # No broker configured: run tasks in-process (still after commit, see reports/outbox.py).
    CELERY_BROKER_URL = "memory://localhost/"  # with its host: kombu warns at every start without one
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# The benchmark task claims its run with a conditional UPDATE, so it is safe to re-deliver.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 28 * 60
# A stalled broker must not hang a nurse's save: short socket timeouts and a bounded publish retry.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200, "socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The outbox (reports/outbox.py, docs/operations.md): a save waits for the broker at most PUBLISH_WAIT_S
# (the send runs on PUBLISH_THREADS threads); beat's sweeper publishes again, every SWEEP_EVERY_S, runs
# pending longer than SWEEP_AFTER_S and runs left 'running' by a dead worker for RECLAIM_AFTER_S.
# Health (reports/health.py) calls a pending run older than STALE_AFTER_S a backlog.
PVTRACK_OUTBOX = {
    "PUBLISH_WAIT_S": env.float("PVTRACK_PUBLISH_WAIT_S", default=0.5),
    "PUBLISH_THREADS": env.int("PVTRACK_PUBLISH_THREADS", default=4),
    "SWEEP_EVERY_S": env.float("PVTRACK_SWEEP_EVERY_S", default=60.0),
    "SWEEP_AFTER_S": env.float("PVTRACK_SWEEP_AFTER_S", default=60.0),
    "RECLAIM_AFTER_S": env.float("PVTRACK_RECLAIM_AFTER_S", default=300.0),
    "STALE_AFTER_S": env.float("PVTRACK_STALE_AFTER_S", default=900.0),
}
# Heartbeats (reports/health.py, docs/operations.md §2): beat writes its own on every tick (at least every
# CELERY_BEAT_MAX_LOOP_INTERVAL s) announcing its next tick, and is stale once that tick is GRACE_S late;
# beat sends a heartbeat task to the workers every EVERY_S, and a worker whose newest heartbeat is older
# than WORKER_DEAD_AFTER_S is stale.
PVTRACK_HEARTBEAT = {
    "EVERY_S": env.float("PVTRACK_HEARTBEAT_EVERY_S", default=10.0),
    "GRACE_S": env.float("PVTRACK_HEARTBEAT_GRACE_S", default=5.0),
    "WORKER_DEAD_AFTER_S": env.float("PVTRACK_WORKER_DEAD_AFTER_S", default=30.0),
    # Beat exits (status 70, for its supervisor to restart it) when no tick has finished for this long
    # (reports.health.HeartbeatScheduler); 0 switches the watchdog off. Keep it well above
    # CELERY_BEAT_MAX_LOOP_INTERVAL plus the longest send (broker timeouts, about 4 s).
    "BEAT_STALL_EXIT_S": env.float("PVTRACK_BEAT_STALL_EXIT_S", default=120.0),
}
# Task modules besides each app's tasks.py (autodiscovered): the outbox sweeper.
CELERY_IMPORTS = ["reports.outbox"]
CELERY_BEAT_SCHEDULER = "reports.health:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = env.int("PVTRACK_BEAT_MAX_LOOP_INTERVAL", default=30)
CELERY_BEAT_SCHEDULE = {
    "nightly-benchmarks": {
        "task": "reports.tasks.benchmark_all_sites_task",
        "schedule": crontab(hour=2, minute=0),
    },
    "expire-idempotency-records": {
        "task": "core.tasks.idempotency_records_expire_task",
        "schedule": crontab(hour=3, minute=30),
    },
    "resend-notification-emails": {
        "task": "patients.tasks.notification_emails_resend_task",
        "schedule": PVTRACK_OUTBOX["SWEEP_EVERY_S"],
    },
    "sae-clock-reminders": {  # SAE reporting clocks (docs/sae-cases.md): before and at each deadline, once each
        "task": "ae.tasks.sae_reminders_task",
        "schedule": 300,
    },
    "worker-heartbeat": {
        "task": "reports.tasks.worker_heartbeat_task",
        "schedule": PVTRACK_HEARTBEAT["EVERY_S"],
        # a heartbeat nobody ran in time is worthless: never let them pile up while the workers are down
        "options": {"expires": PVTRACK_HEARTBEAT["EVERY_S"]},
    },
    "requeue-pending-benchmarks": {
        "task": "reports.outbox.requeue_pending_runs_task",
        "schedule": PVTRACK_OUTBOX["SWEEP_EVERY_S"],
    },
}

# Adverse events and assessments belong to a cycle from its start to its end plus this many days (ADaM's
# treatment-emergent window after the last dose); later onsets are recorded as follow-up with a reason.
PVTRACK_FOLLOW_UP_DAYS = env.int("PVTRACK_FOLLOW_UP_DAYS", default=30)
# End of the treatment-emergent window: onsets up to this many days after the cycle's last infusion day count (also
# ended earlier by the start of the next therapy, HSCT/CAR-T/chemotherapy; ae.models.events.treatment_emergent_q).
PVTRACK_EMERGENCE_DAYS = env.int("PVTRACK_EMERGENCE_DAYS", default=30)

# Composition root: ward-data writers (ae, patients) request a benchmark through core.outbox, which calls this
# function of the layer above them (the one inversion of the dependency order; see core/outbox.py).
PVTRACK_BENCHMARK_REQUEST = "reports.outbox.benchmark_run_queue"

# --- Benchmark configuration (statistics.md §3.5; thresholds are configuration, not code) ----------
PVTRACK_BENCHMARK = {
    "ALARM_P": env.float("PVTRACK_ALARM_P", default=0.001),  # outside the 99.8% predictive limit
    "ALERT_P": env.float("PVTRACK_ALERT_P", default=0.025),  # outside the 95% predictive limit
    "WATCH_P": env.float("PVTRACK_WATCH_P", default=0.025),  # above the pooled rate, inside the spread
    "LOW_P": env.float("PVTRACK_LOW_P", default=0.025),  # fewer events than the 95% lower limit
    "MIN_COHORTS": env.int("PVTRACK_MIN_COHORTS", default=3),
    "MIN_EVENTS": env.int("PVTRACK_MIN_EVENTS", default=3),
    "MAX_ATTEMPTS": env.int("PVTRACK_MAX_ATTEMPTS", default=3),
    # Sequential monitoring (Pocock-type, Ivanova 2005): planned patients and overall one-sided alpha.
    "N_MAX": env.int("PVTRACK_N_MAX", default=40),
    "SEQUENTIAL_ALPHA": env.float("PVTRACK_SEQUENTIAL_ALPHA", default=0.05),
    # A cohort figure graded on another scale family (CTCAE vs ASTCT/Lee): "exclude" it, or "label" it and pool it.
    "SCALE_MISMATCH": env.str("PVTRACK_SCALE_MISMATCH", default="exclude"),
    # A CRS figure whose cohort was (not) premedicated unlike most of the ward's first cycles: "exclude" or "label".
    "PREMEDICATION_MISMATCH": env.str("PVTRACK_PREMEDICATION_MISMATCH", default="exclude"),
}

# --- E-mail (notifications: patients/services/notifications.py) -----------
# EMAIL_URL as django-environ reads it (smtp://user:password@host:587/?tls=True, consolemail://). Development and
# tests print e-mails to the console (pytest-django swaps in the in-memory backend); production defaults to a
# local relay. Links in e-mails start with PVTRACK_BASE_URL.
# EMAIL_URL may carry a password: it may be given as EMAIL_URL_FILE.
_email = env.email_url_config(secret("EMAIL_URL") or ("smtp://localhost:25" if PRODUCTION else "consolemail://"))
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pvtrack <pvtrack@localhost>")
PVTRACK_BASE_URL = env.str("PVTRACK_BASE_URL", default="http://localhost:8000")

# --- Logging: ids only, never form bodies or patient data -----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
