# pvtrack production image: the web (gunicorn), worker and beat services of docker-compose.yml all run it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (their layer is reused while requirements.lock is unchanged); every wheel is hash-checked.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Only what the application needs at run time: no .venv, no .pvtrack (local secret key, embedded database).
COPY manage.py ./
COPY pvtrack ./pvtrack
COPY patients ./patients
COPY ae ./ae
COPY reports ./reports
COPY templates ./templates
COPY static ./static
COPY fixtures ./fixtures

# Non-root user. The code stays owned by root (read-only to the app); only the collected static files and
# the beat schedule file are writable.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home pvtrack \
    && mkdir -p /app/staticfiles /app/var \
    && chown pvtrack:pvtrack /app/staticfiles /app/var
USER pvtrack

ENV PVTRACK_ENV=production \
    STATIC_ROOT=/app/staticfiles

EXPOSE 8000

CMD ["gunicorn", "pvtrack.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
