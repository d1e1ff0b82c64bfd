"""Write services of the adverse-event app, one module per concept.

- :mod:`ae.services.events`: record and edit adverse events (revisions with reasons), close grade queries;
- :mod:`ae.services.assessments`: bedside CRS/ICANS assessments and their episodes;
- :mod:`ae.services.labs`: lab results graded by CTCAE v5.0.

Each public service is keyword-only, atomic, checks the acting user's role on the site, raises Django's
ValidationError (keyed by field, nothing saved) or a :mod:`core.errors` domain error, and requests a
benchmark of the site through :func:`core.outbox.benchmark_request` when the ward's data changed.
"""
