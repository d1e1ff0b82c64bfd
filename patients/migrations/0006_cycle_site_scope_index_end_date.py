"""The cycle covering index also holds the cycle's end date: the treatment-emergence window ends a configurable
number of days after it (issue 20), and a ward's counts must still read this index only (docs/operations.md,
"Scale")."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Rebuilt without locking writes: a registry's cycle table may be large.
    atomic = False

    dependencies = [
        ('patients', '0005_merge_parallel_branches'),
    ]

    operations = [
        RemoveIndexConcurrently(model_name='treatmentcycle', name='cycle_site_scope_idx'),
        AddIndexConcurrently(
            model_name='treatmentcycle',
            index=models.Index(fields=['id'], include=('patient', 'number', 'start_date', 'end_date'),
                               name='cycle_site_scope_idx'),
        ),
    ]
