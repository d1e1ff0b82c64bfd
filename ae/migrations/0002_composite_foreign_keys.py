"""Composite foreign keys Django cannot declare (it has no multi-column ForeignKey).

* (term_id, grade) -> ae_ctcaegrade(term_id, grade): a grade must exist for its CTCAE term.
* (cycle_id, patient_id) -> patients_treatmentcycle(id, patient_id): the cycle is the patient's.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ae", "0001_initial"),
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql="""
            ALTER TABLE ae_adverseevent
                ADD CONSTRAINT ae_grade_allowed_for_term FOREIGN KEY (term_id, grade)
                REFERENCES ae_ctcaegrade (term_id, grade);
            ALTER TABLE ae_adverseevent
                ADD CONSTRAINT ae_cycle_belongs_to_patient FOREIGN KEY (cycle_id, patient_id)
                REFERENCES patients_treatmentcycle (id, patient_id);
            """,
            reverse_sql="""
            ALTER TABLE ae_adverseevent DROP CONSTRAINT ae_grade_allowed_for_term;
            ALTER TABLE ae_adverseevent DROP CONSTRAINT ae_cycle_belongs_to_patient;
            """,
        ),
    ]
