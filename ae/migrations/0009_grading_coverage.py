"""Grading coverage (issue 10): which fever-masking therapy was given (ASTCT 2019), ICANS findings attributable to
another cause, "awakens spontaneously" shown apart from "alert".

The old yes/no "tocilizumab or corticosteroids given" becomes the therapy "tocilizumab_or_corticosteroid" (which of
the two is not known), in the assessments and in their history rows, before the old column goes.
"""

import django.contrib.postgres.fields
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


def _record_masking_therapy(apps, schema_editor):
    apps.get_model("ae", "CRSAssessment").objects.filter(tocilizumab_or_steroids_given=True).update(
        fever_masking_therapies=["tocilizumab_or_corticosteroid"])
    # The history table is append-only (trigger pgtrigger_append_only_4afec): this one carried-over value is written
    # into its rows with the trigger off for the statement, so the history keeps what was recorded.
    schema_editor.execute("ALTER TABLE ae_crsassessmentevent DISABLE TRIGGER pgtrigger_append_only_4afec")
    schema_editor.execute("UPDATE ae_crsassessmentevent SET fever_masking_therapies = "
                          "ARRAY['tocilizumab_or_corticosteroid']::varchar(40)[] WHERE tocilizumab_or_steroids_given")
    schema_editor.execute("ALTER TABLE ae_crsassessmentevent ENABLE TRIGGER pgtrigger_append_only_4afec")


class Migration(migrations.Migration):

    dependencies = [
        ('ae', '0008_lab_units_and_episodes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='crsassessment',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='crsassessment',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='crsassessment',
            name='delete_delete',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='icansassessment',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='icansassessment',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='icansassessment',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='crsassessment',
            name='fever_masking_therapies',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('antipyretic', 'Antipyretic (e.g. paracetamol, ibuprofen)'), ('tocilizumab', 'Tocilizumab (anticytokine)'), ('other_anticytokine', 'Other anticytokine (e.g. anakinra, siltuximab)'), ('corticosteroid', 'Corticosteroid (e.g. dexamethasone)'), ('tocilizumab_or_corticosteroid', 'Tocilizumab or corticosteroid (not recorded which)')], max_length=40), blank=True, default=list, help_text='After CRS was diagnosed these can mask fever (ASTCT 2019 footnote).', size=None, verbose_name='antipyretic or anticytokine therapy given'),
        ),
        migrations.AddField(
            model_name='crsassessmentevent',
            name='fever_masking_therapies',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('antipyretic', 'Antipyretic (e.g. paracetamol, ibuprofen)'), ('tocilizumab', 'Tocilizumab (anticytokine)'), ('other_anticytokine', 'Other anticytokine (e.g. anakinra, siltuximab)'), ('corticosteroid', 'Corticosteroid (e.g. dexamethasone)'), ('tocilizumab_or_corticosteroid', 'Tocilizumab or corticosteroid (not recorded which)')], max_length=40), blank=True, default=list, help_text='After CRS was diagnosed these can mask fever (ASTCT 2019 footnote).', size=None, verbose_name='antipyretic or anticytokine therapy given'),
        ),
        migrations.RunPython(_record_masking_therapy, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='crsassessment',
            name='tocilizumab_or_steroids_given',
        ),
        migrations.RemoveField(
            model_name='crsassessmentevent',
            name='tocilizumab_or_steroids_given',
        ),
        migrations.AddField(
            model_name='icansassessment',
            name='other_cause',
            field=models.TextField(blank=True, verbose_name='the other cause'),
        ),
        migrations.AddField(
            model_name='icansassessment',
            name='other_cause_domains',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('encephalopathy_score', 'Encephalopathy score'), ('consciousness', 'Consciousness'), ('seizure', 'Seizure'), ('motor', 'Motor'), ('cerebral_edema', 'Cerebral edema')], max_length=30), blank=True, default=list, help_text='Excluded from the ICANS grade (ASTCT 2019 footnotes), e.g. depressed consciousness under sedation.', size=None, verbose_name='findings attributable to another cause'),
        ),
        migrations.AddField(
            model_name='icansassessmentevent',
            name='other_cause',
            field=models.TextField(blank=True, verbose_name='the other cause'),
        ),
        migrations.AddField(
            model_name='icansassessmentevent',
            name='other_cause_domains',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('encephalopathy_score', 'Encephalopathy score'), ('consciousness', 'Consciousness'), ('seizure', 'Seizure'), ('motor', 'Motor'), ('cerebral_edema', 'Cerebral edema')], max_length=30), blank=True, default=list, help_text='Excluded from the ICANS grade (ASTCT 2019 footnotes), e.g. depressed consciousness under sedation.', size=None, verbose_name='findings attributable to another cause'),
        ),
        migrations.AlterField(
            model_name='icansassessment',
            name='consciousness',
            field=models.CharField(choices=[('normal', 'Alert (normal)'), ('awakens_spontaneously', 'Awakens spontaneously'), ('awakens_to_voice', 'Awakens to voice'), ('awakens_to_tactile', 'Awakens only to tactile stimulus'), ('unarousable', 'Unarousable, or needs vigorous or repetitive tactile stimuli; stupor or coma')], default='normal', max_length=30, verbose_name='level of consciousness'),
        ),
        migrations.AlterField(
            model_name='icansassessmentevent',
            name='consciousness',
            field=models.CharField(choices=[('normal', 'Alert (normal)'), ('awakens_spontaneously', 'Awakens spontaneously'), ('awakens_to_voice', 'Awakens to voice'), ('awakens_to_tactile', 'Awakens only to tactile stimulus'), ('unarousable', 'Unarousable, or needs vigorous or repetitive tactile stimuli; stupor or coma')], default='normal', max_length=30, verbose_name='level of consciousness'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='crsassessment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "ae_crsassessmentevent" ("adverse_event_id", "assessed_at", "astct_grade", "astct_rationale", "created_at", "ctcae_grade", "ctcae_rationale", "entered_by_id", "entered_grade", "fever_masking_therapies", "grade_discrepancy_reason", "hypotension", "id", "lee_grade", "lee_rationale", "oxygen_device", "oxygen_fio2_percent", "oxygen_flow_l_min", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "temperature_c", "vasopressors") VALUES (NEW."adverse_event_id", NEW."assessed_at", NEW."astct_grade", NEW."astct_rationale", NEW."created_at", NEW."ctcae_grade", NEW."ctcae_rationale", NEW."entered_by_id", NEW."entered_grade", NEW."fever_masking_therapies", NEW."grade_discrepancy_reason", NEW."hypotension", NEW."id", NEW."lee_grade", NEW."lee_rationale", NEW."oxygen_device", NEW."oxygen_fio2_percent", NEW."oxygen_flow_l_min", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."temperature_c", NEW."vasopressors"); RETURN NULL;', hash='83d3f078c8ed31855b5141c5855a4a5ca282855d', operation='INSERT', pgid='pgtrigger_insert_insert_c8b3c', table='ae_crsassessment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='crsassessment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "ae_crsassessmentevent" ("adverse_event_id", "assessed_at", "astct_grade", "astct_rationale", "created_at", "ctcae_grade", "ctcae_rationale", "entered_by_id", "entered_grade", "fever_masking_therapies", "grade_discrepancy_reason", "hypotension", "id", "lee_grade", "lee_rationale", "oxygen_device", "oxygen_fio2_percent", "oxygen_flow_l_min", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "temperature_c", "vasopressors") VALUES (NEW."adverse_event_id", NEW."assessed_at", NEW."astct_grade", NEW."astct_rationale", NEW."created_at", NEW."ctcae_grade", NEW."ctcae_rationale", NEW."entered_by_id", NEW."entered_grade", NEW."fever_masking_therapies", NEW."grade_discrepancy_reason", NEW."hypotension", NEW."id", NEW."lee_grade", NEW."lee_rationale", NEW."oxygen_device", NEW."oxygen_fio2_percent", NEW."oxygen_flow_l_min", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."temperature_c", NEW."vasopressors"); RETURN NULL;', hash='ddc241915d14025c3be097b9b4a773d9c587cf30', operation='UPDATE', pgid='pgtrigger_update_update_c3f40', table='ae_crsassessment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='crsassessment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "ae_crsassessmentevent" ("adverse_event_id", "assessed_at", "astct_grade", "astct_rationale", "created_at", "ctcae_grade", "ctcae_rationale", "entered_by_id", "entered_grade", "fever_masking_therapies", "grade_discrepancy_reason", "hypotension", "id", "lee_grade", "lee_rationale", "oxygen_device", "oxygen_fio2_percent", "oxygen_flow_l_min", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "temperature_c", "vasopressors") VALUES (OLD."adverse_event_id", OLD."assessed_at", OLD."astct_grade", OLD."astct_rationale", OLD."created_at", OLD."ctcae_grade", OLD."ctcae_rationale", OLD."entered_by_id", OLD."entered_grade", OLD."fever_masking_therapies", OLD."grade_discrepancy_reason", OLD."hypotension", OLD."id", OLD."lee_grade", OLD."lee_rationale", OLD."oxygen_device", OLD."oxygen_fio2_percent", OLD."oxygen_flow_l_min", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."temperature_c", OLD."vasopressors"); RETURN NULL;', hash='e1fa8388a814cedb0edea6879e5db62bc133915c', operation='DELETE', pgid='pgtrigger_delete_delete_d241b', table='ae_crsassessment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='icansassessment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "ae_icansassessmentevent" ("adverse_event_id", "assessed_at", "cerebral_edema", "consciousness", "created_at", "developmental_delay", "entered_by_id", "entered_grade", "grade", "grade_discrepancy_reason", "id", "motor", "other_cause", "other_cause_domains", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "score", "seizure", "tool", "unable_to_perform") VALUES (NEW."adverse_event_id", NEW."assessed_at", NEW."cerebral_edema", NEW."consciousness", NEW."created_at", NEW."developmental_delay", NEW."entered_by_id", NEW."entered_grade", NEW."grade", NEW."grade_discrepancy_reason", NEW."id", NEW."motor", NEW."other_cause", NEW."other_cause_domains", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."rationale", NEW."score", NEW."seizure", NEW."tool", NEW."unable_to_perform"); RETURN NULL;', hash='36d2264bc419cde7f69063da53162076ef2eb0ed', operation='INSERT', pgid='pgtrigger_insert_insert_3eeee', table='ae_icansassessment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='icansassessment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "ae_icansassessmentevent" ("adverse_event_id", "assessed_at", "cerebral_edema", "consciousness", "created_at", "developmental_delay", "entered_by_id", "entered_grade", "grade", "grade_discrepancy_reason", "id", "motor", "other_cause", "other_cause_domains", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "score", "seizure", "tool", "unable_to_perform") VALUES (NEW."adverse_event_id", NEW."assessed_at", NEW."cerebral_edema", NEW."consciousness", NEW."created_at", NEW."developmental_delay", NEW."entered_by_id", NEW."entered_grade", NEW."grade", NEW."grade_discrepancy_reason", NEW."id", NEW."motor", NEW."other_cause", NEW."other_cause_domains", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."rationale", NEW."score", NEW."seizure", NEW."tool", NEW."unable_to_perform"); RETURN NULL;', hash='f64a2eab7197a3b04643676e9ff0de91cae110de', operation='UPDATE', pgid='pgtrigger_update_update_aa55d', table='ae_icansassessment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='icansassessment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "ae_icansassessmentevent" ("adverse_event_id", "assessed_at", "cerebral_edema", "consciousness", "created_at", "developmental_delay", "entered_by_id", "entered_grade", "grade", "grade_discrepancy_reason", "id", "motor", "other_cause", "other_cause_domains", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "rationale", "score", "seizure", "tool", "unable_to_perform") VALUES (OLD."adverse_event_id", OLD."assessed_at", OLD."cerebral_edema", OLD."consciousness", OLD."created_at", OLD."developmental_delay", OLD."entered_by_id", OLD."entered_grade", OLD."grade", OLD."grade_discrepancy_reason", OLD."id", OLD."motor", OLD."other_cause", OLD."other_cause_domains", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."rationale", OLD."score", OLD."seizure", OLD."tool", OLD."unable_to_perform"); RETURN NULL;', hash='70bba5eb44a44069226f077e29f89bd5ab86067a', operation='DELETE', pgid='pgtrigger_delete_delete_7d9e7', table='ae_icansassessment', when='AFTER')),
        ),
        migrations.AddConstraint(
            model_name='crsassessment',
            constraint=models.CheckConstraint(condition=models.Q(('fever_masking_therapies__contained_by', ['antipyretic', 'tocilizumab', 'other_anticytokine', 'corticosteroid', 'tocilizumab_or_corticosteroid'])), name='crs_masking_therapies_known'),
        ),
        migrations.AddConstraint(
            model_name='icansassessment',
            constraint=models.CheckConstraint(condition=models.Q(('other_cause_domains__contained_by', ['encephalopathy_score', 'consciousness', 'seizure', 'motor', 'cerebral_edema'])), name='icans_other_cause_domains_known'),
        ),
        migrations.AddConstraint(
            model_name='icansassessment',
            constraint=models.CheckConstraint(condition=models.Q(('other_cause_domains', []), models.Q(('other_cause', ''), _negated=True), _connector='OR'), name='icans_other_cause_named', violation_error_message='Name the other cause of the excluded findings.'),
        ),
    ]
