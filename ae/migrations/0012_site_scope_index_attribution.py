"""The site-scope covering index also holds relatedness and action taken: the benchmark now counts related-only
AEs (attribution) and AE-driven interruptions/discontinuations (issue 20), and a ward's counts must still read
this index only (docs/operations.md, "Scale")."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Rebuilt without locking writes: a registry's AE table may be large.
    atomic = False

    dependencies = [
        ('ae', '0011_merge_grading_coverage'),
    ]

    operations = [
        RemoveIndexConcurrently(model_name='adverseevent', name='ae_site_scope_idx'),
        AddIndexConcurrently(
            model_name='adverseevent',
            index=models.Index(fields=['patient', 'cycle', 'term', 'grade'],
                               include=('id', 'onset_date', 'present_before_cycle', 'grade_at_cycle_start',
                                        'after_cycle_follow_up', 'grading_scale', 'relatedness', 'action_taken'),
                               name='ae_site_scope_idx'),
        ),
    ]
