"""The ground floor: what every app may import and nothing here imports an app.

``audit`` (history context), ``errors`` (domain exceptions and the API's one error shape),
``text`` (free-text rules such as reasons), ``outbox`` (the one entry point ward writers use to
request a benchmark of their site). Layers (enforced by import-linter, see ``setup.cfg``/``.importlinter``):
``pvtrack`` (shell) → ``reports`` → ``ae`` → ``patients`` → ``core``.
"""
