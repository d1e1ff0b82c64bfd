"""``manage.py site``: create a ward or change its settings, validated like the model; nothing saved on bad input."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from patients.models import Site

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("site", *args, stdout=out)
    return out.getvalue()


def test_creates_a_site_and_then_changes_it():
    text = run("krakow-ped", "--name", "Kraków paediatric haematology", "--country", "PL", "--language", "pl")
    assert text.startswith("Created site krakow-ped") and "country PL" in text
    site = Site.objects.get(slug="krakow-ped")
    assert (site.country, site.language, site.time_zone, site.sae_sponsor_hours) == ("PL", "pl", "Europe/Warsaw", 24)
    assert "Updated site" in run("krakow-ped", "--sae-sponsor-hours", "12", "--time-zone", "Europe/Warsaw")
    assert Site.objects.get(slug="krakow-ped").sae_sponsor_hours == 12


@pytest.mark.parametrize("args, message", [
    (["--country", "Poland"], "country"),
    (["--time-zone", "Mars/Olympus"], "time_zone"),
    (["--sae-sponsor-hours", "100"], "sae_sponsor_hours"),
    (["--language", "xx"], "language"),
])
def test_a_bad_value_names_its_field_and_saves_nothing(args, message):
    run("ward-x", "--name", "Ward X")
    before = list(Site.objects.filter(slug="ward-x").values())
    with pytest.raises(CommandError, match=message):
        run("ward-x", *args)
    assert list(Site.objects.filter(slug="ward-x").values()) == before


def test_a_new_site_needs_a_name():
    with pytest.raises(CommandError, match="--name"):
        run("nameless")
    assert not Site.objects.filter(slug="nameless").exists()
