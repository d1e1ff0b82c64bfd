"""Shared fixtures: reference data, two wards, and personas.

Personas: ``nurse`` (ward staff of ward A), ``officer`` (safety officer of ward A),
``outsider`` (ward staff of ward B only: must never see ward A's data).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ae.models import AdverseEvent, CTCAETerm
from patients.models import Membership, Patient, Site, TreatmentCycle

PASSWORD = "correct-horse-battery-9"
COMMITTING_MARKERS = ("worker", "browser", "concurrency", "client")


def pytest_collection_modifyitems(config, items):
    """Run tests that commit to the database (real worker, live browser) last.

    They are transactional: pytest-django empties every table after each of them, including the
    reference data the other tests share, so they reload it themselves (``committed_reference_data``).
    """
    items.sort(key=lambda item: any(item.get_closest_marker(m) for m in COMMITTING_MARKERS))


@pytest.fixture
def committed_reference_data(transactional_db):
    """The CTCAE catalogue and its ward synonyms, categories, cohorts and the default RSI, committed (for
    transactional tests)."""
    from ae.catalogue import ctcae_catalogue_load
    from ae.rsi import rsi_fixture_load
    from ae.synonyms import ctcae_synonyms_load
    from reports.reference_data import categories_load, cohorts_load

    ctcae_catalogue_load()
    ctcae_synonyms_load()
    categories_load()
    cohorts_load()
    rsi_fixture_load()


@pytest.fixture(autouse=True)
def _eager_celery(request, settings):
    """Run Celery tasks in-process unless a test drives a real worker (marker ``worker``)."""
    from pvtrack.celery import app

    eager = request.node.get_closest_marker("worker") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    app.conf.task_eager_propagates = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request's middleware activates the reader's language for the
    thread (Django's LocaleMiddleware does not undo it), so a Polish page test would otherwise leave the services a
    later test calls directly speaking Polish."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the CTCAE catalogue and synonyms, benchmark categories, published cohorts and the default reference
    safety information (RSI) once per test database, as ``load_reference_data`` does."""
    from ae.catalogue import ctcae_catalogue_load
    from ae.rsi import rsi_fixture_load
    from ae.synonyms import ctcae_synonyms_load
    from reports.reference_data import categories_load, cohorts_load

    with django_db_blocker.unblock():
        ctcae_catalogue_load()
        ctcae_synonyms_load()
        categories_load()
        cohorts_load()
        rsi_fixture_load()


@pytest.fixture(scope="session")
def live_server(django_db_setup, django_db_blocker, live_server):
    """pytest-django's live server, whose request threads keep their database connections open between requests
    (``CONN_MAX_AGE``, as in production): when the server stops, those sessions are ended, so the test database can
    be dropped at the end of the run ("database … is being accessed by other users" otherwise)."""
    yield live_server
    live_server.stop()  # stopping twice is harmless: pytest-django stops it again
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


def libpq_params(connection) -> dict:
    """Connection parameters of Django's ``connection`` (host may be a socket directory, or come from OPTIONS).

    Django's own ``get_connection_params()``, without the psycopg objects it adds (cursor class, adapters):
    a session opened with these reaches exactly the server and database Django uses.
    """
    params = connection.get_connection_params()
    return {k: v for k, v in params.items() if k not in ("cursor_factory", "context", "prepare_threshold")}


def database_url(connection) -> str:
    """A DATABASE_URL for another process (worker, web server) that reaches the database of ``connection``."""
    params = libpq_params(connection)
    user = quote(str(params.pop("user", "")), safe="")
    password = params.pop("password", None)
    dbname = quote(str(params.pop("dbname")), safe="")
    params.pop("client_encoding", None)
    host = str(params.pop("host", "") or "")
    port = str(params.pop("port", "") or "")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    if host.startswith("/"):  # a socket directory: libpq and django-environ both read it from ?host=
        params = {"host": host, **({"port": port} if port else {}), **params}
        netloc = ""
    else:
        netloc = host + (f":{port}" if port else "")
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"postgresql://{auth}{netloc}/{dbname}" + (f"?{query}" if query else "")


def make_user(username: str, site: Site | None = None, role: str = Membership.Role.WARD_STAFF):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if site is not None:
        Membership.objects.create(user=user, site=site, role=role)
    return user


@pytest.fixture
def ward(db) -> Site:
    return Site.objects.create(slug="ward-a", name="Ward A")


@pytest.fixture
def other_ward(db) -> Site:
    return Site.objects.create(slug="ward-b", name="Ward B")


@pytest.fixture
def nurse(ward):
    return make_user("nurse", ward, Membership.Role.WARD_STAFF)


@pytest.fixture
def nurse_client(client, nurse):
    """The test client logged in as the ward's nurse."""
    client.force_login(nurse)
    return client


@pytest.fixture
def polish_nurse(ward, nurse):
    """A client logged in as the nurse of the ward set to Polish (Europe/Warsaw); the language is chosen at log-in."""
    from django.test import Client

    ward.language, ward.time_zone = "pl", "Europe/Warsaw"
    ward.save()
    client = Client()
    client.force_login(nurse)
    return client


def form_errors(response, field: str) -> str:
    """The page's form's errors of ``field``, joined (the response must be the form shown again, 200)."""
    assert response.status_code == 200
    return " ".join(response.context["form"].errors[field])


@pytest.fixture
def officer(ward):
    return make_user("officer", ward, Membership.Role.SAFETY_OFFICER)


@pytest.fixture
def outsider(other_ward):
    return make_user("outsider", other_ward, Membership.Role.WARD_STAFF)


def make_patient(site: Site, study_id: str = "KRK-001", **kw) -> Patient:
    defaults = {"sex": "F", "birth_month": datetime.date(2015, 3, 1),
                "disease_status": Patient.DiseaseStatus.FIRST_RELAPSE}
    return Patient.objects.create(site=site, study_id=study_id, **(defaults | kw))


def make_cycle(patient: Patient, number: int = 1, start: datetime.date = datetime.date(2026, 1, 5),
               **kw) -> TreatmentCycle:
    defaults = {"schedule": TreatmentCycle.Schedule.STANDARD_28D, "weight_kg": Decimal("20"),
                "marrow_blasts_pct": Decimal("30")}
    return TreatmentCycle.objects.create(patient=patient, number=number, start_date=start, **(defaults | kw))


def migrate_to(target: list[tuple[str, str]] | None = None):
    """Migrate the test database to ``target`` (``[(app, migration name)]``; None: the newest migration of every
    app, which a migration test must return to so that later tests run on the current schema) and return the apps
    of that state, for models as they were then (``apps.get_model``). Needs ``django_db(transaction=True)``."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    target = target or executor.loader.graph.leaf_nodes()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def term(name: str) -> CTCAETerm:
    return CTCAETerm.objects.get(term=name)


def make_event(cycle: TreatmentCycle, term_name: str = "Cytokine release syndrome", grade: int = 2,
               onset_day: int = 2, user=None, **kw) -> AdverseEvent:
    """Save an event directly (bypassing the service: no benchmark request), onset on cycle day ``onset_day``."""
    if user is None:
        user = get_user_model().objects.first() or make_user("recorder")
    # The outcome agrees with the resolution date (ended ⇔ dated), as the rules require, unless the test says otherwise.
    ended = kw.get("resolution_date") is not None
    defaults = {"relatedness": "probable", "action_taken": "DOSE NOT CHANGED",
                "outcome": "RECOVERED/RESOLVED" if ended else "NOT RECOVERED/NOT RESOLVED"}
    if grade == 5 or kw.get("outcome") == "FATAL":  # a death is serious with "results in death" (as the service does)
        defaults |= {"serious": True, "sae_death": True, "outcome": "FATAL"}
    if kw.get("present_before_cycle"):  # not worsened since the cycle started, unless the test says otherwise
        defaults["grade_at_cycle_start"] = grade
    return AdverseEvent.objects.create(
        patient=cycle.patient, cycle=cycle, term=term(term_name), grade=grade,
        onset_date=cycle.start_date + datetime.timedelta(days=onset_day - 1), created_by=user, **(defaults | kw))


@pytest.fixture
def patient(ward) -> Patient:
    return make_patient(ward)


@pytest.fixture
def cycle(patient) -> TreatmentCycle:
    return make_cycle(patient)


def event_form_data(cycle: TreatmentCycle, **overrides) -> dict:
    """POST data of the AE form for a valid grade 2 CRS on cycle day 2 (ongoing; "Recovered/resolved" when the
    overrides give a resolution date and no outcome)."""
    ended = bool(overrides.get("resolution_date"))
    data = {"cycle": cycle.pk, "term": "Cytokine release syndrome", "grade": 2,
            "onset_date": (cycle.start_date + datetime.timedelta(days=1)).isoformat(), "resolution_date": "",
            "relatedness": "probable", "action_taken": "DOSE NOT CHANGED",
            "outcome": "RECOVERED/RESOLVED" if ended else "NOT RECOVERED/NOT RESOLVED",
            "grading_scale": "ctcae_v5_0", "verbatim_term": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- browser tests (Playwright driving Debian's Chromium) -----------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--lang=en-GB"]


@pytest.fixture
def page(committed_reference_data):
    """A headless Chromium page (Debian's binary: browser downloads are blocked here)."""
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (scripts/test.sh installs it with apt-get)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(locale="en-GB", timezone_id="Europe/Warsaw")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()


def log_in(page, url: str, username: str) -> None:
    """Log ``username`` in through the login page of the live server at ``url`` (password ``PASSWORD``)."""
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: "/login/" not in u)


def type_into_autofocus(page, element_id: str, text: str) -> None:
    """Type ``text`` into the field a page focuses on load (``autofocus``), once it has the focus.

    Chromium applies ``autofocus`` on a rendering frame after the load event, so keys typed at once after
    ``page.goto`` can reach the page before the field (seen in CI: "Cytokine release syndrome" arrived as
    "ytokine release syndrome"). Fails if the field never gets the focus, which is itself a defect.
    """
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=element_id)
    page.keyboard.type(text)


def tab_to(page, predicate_js: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies ``predicate_js`` (a JS expression over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({predicate_js}); }})()"):
            return
    raise AssertionError(f"could not reach an element matching {predicate_js} with Tab")


def api_errors(response) -> dict:
    """The field errors of an API error response, checking it is the one documented problem shape
    (core/errors.py: RFC 9457 problem details with a stable ``code``)."""
    body = response.json()
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    assert body["status"] == response.status_code and body["code"] and body["detail"], body
    return body.get("errors", {})
