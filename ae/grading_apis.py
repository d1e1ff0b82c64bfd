"""Stateless grading calculators over REST (CRS, ICANS, fever/febrile neutropenia, CTCAE lab values); they read and
store no patient data.

Each endpoint validates its body with an InputSerializer, calls the pure rules in :mod:`ae.grading` and answers
``{grade, scale, version, rationale}`` (labs and fever add ``ctcae_term``). Impossible input answers 400 with field
errors, and so does a key the endpoint does not know (a misspelt criterion is never silently read as "absent").
The rules and their sources: docs/grading.md.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ae import grading, lab_units
from ae.bedside_labels import with_agent_names
from core.numbers import reader_numbers

CRS_SCALES = ("astct_2019", "ctcae_v5_0", "ctcae_v4_03", "lee_2014")


class GradeOutputSerializer(serializers.Serializer):
    grade = serializers.IntegerField(allow_null=True)
    scale = serializers.CharField()
    version = serializers.CharField()
    rationale = serializers.CharField()


class LabGradeOutputSerializer(GradeOutputSerializer):
    ctcae_term = serializers.CharField(help_text="The CTCAE v5.0 term the value proposes (by direction for "
                                                 "chemistry: Hyponatremia or Hypernatremia).")
    verbatim_term = serializers.CharField(allow_null=True, help_text="The reported term under an 'Other, specify' "
                                                                     "CTCAE term (IgG: Hypogammaglobulinemia); "
                                                                     "null otherwise.")


def _grade_response(grade: grading.Grade, *, with_term: bool = False) -> Response:
    """The answer; the rationale was built with Django's ``gettext`` (English unless the request's language — the
    page's session, or ``Accept-Language`` — is another), its numbers in that language's convention."""
    body = {"grade": grade.grade, "scale": grade.scale, "version": grade.version,
            "rationale": reader_numbers(grade.rationale)}
    if with_term:
        body["ctcae_term"] = grade.ctcae_term
        body["verbatim_term"] = grade.verbatim_term
    return Response(body)


class _GradingView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    input_serializer: type[serializers.Serializer]

    def compute(self, data: dict) -> Response:
        raise NotImplementedError

    def post(self, request):
        serializer = self.input_serializer(data=request.data)
        known = set(serializer.fields)
        unknown = sorted(str(k) for k in request.data if k not in known) if hasattr(request.data, "keys") else []
        if unknown:
            raise serializers.ValidationError(
                {k: [f"Unknown field; this endpoint reads {', '.join(sorted(known))}."] for k in unknown})
        serializer.is_valid(raise_exception=True)
        try:
            return self.compute(serializer.validated_data)
        except grading.GradingInputError as exc:  # the pure rules know no Django: name the field for the API
            raise DjangoValidationError({exc.field: reader_numbers(exc.text(gettext))}) from exc


class CRSGradeApi(_GradingView):
    """Grade CRS by ASTCT 2019 (default), CTCAE v5.0, CTCAE v4.03 or Lee 2014; fields not used by the chosen scale
    are ignored. A temperature not sent is "not recorded", never "no fever": where fever could change the grade
    the answer is ``grade: null`` with the grade with and without fever in the rationale."""

    @extend_schema_serializer(component_name="CRSGradeInput")
    class InputSerializer(serializers.Serializer):
        scale = serializers.ChoiceField(choices=CRS_SCALES, default="astct_2019")
        temperature_c = serializers.FloatField(required=False, allow_null=True, default=None)
        fever_masking_therapies = serializers.ListField(
            child=serializers.ChoiceField(choices=grading.FEVER_MASKING_OFFERED), default=list,
            help_text="ASTCT 2019: therapies given after CRS was diagnosed that can mask fever.")
        had_crs_before = serializers.BooleanField(default=False)
        hypotension = serializers.BooleanField(default=False)
        vasopressors = serializers.ListField(child=serializers.ChoiceField(choices=sorted(grading.VASOPRESSORS)),
                                             default=list)
        oxygen_device = serializers.ChoiceField(choices=grading.OXYGEN_DEVICES, default="none")
        oxygen_flow_l_min = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
        oxygen_fio2_percent = serializers.FloatField(required=False, allow_null=True, default=None,
                                                     min_value=21, max_value=100)
        life_threatening_urgent_intervention = serializers.BooleanField(default=False)
        constitutional_symptoms = serializers.BooleanField(default=False)
        high_dose_or_multiple_pressors = serializers.BooleanField(default=False)
        ventilator_support = serializers.BooleanField(default=False)
        organ_toxicity_grade = serializers.IntegerField(default=0, min_value=0, max_value=4)
        organ_toxicity_is_transaminitis = serializers.BooleanField(default=False)
        symptoms = serializers.BooleanField(default=False, help_text="CTCAE v4.03 grade 1: mild reaction.")
        therapy_or_interruption_indicated = serializers.BooleanField(
            default=False, help_text="CTCAE v4.03 grade 2: therapy or infusion interruption indicated, responds "
                                     "promptly to symptomatic treatment.")
        prolonged_or_recurrent = serializers.BooleanField(
            default=False, help_text="CTCAE v4.03 grade 3: prolonged, or recurrence after initial improvement.")
        hospitalization_indicated = serializers.BooleanField(
            default=False, help_text="CTCAE v4.03 grade 3: hospitalization indicated for clinical sequelae.")
        ventilatory_support = serializers.BooleanField(default=False,
                                                       help_text="CTCAE v4.03 grade 4: ventilatory support.")
        death_due_to_crs = serializers.BooleanField(default=False)
        other_cause_findings = serializers.ListField(
            child=serializers.ChoiceField(choices=grading.CRS_FINDINGS), default=list,
            help_text="ASTCT 2019: findings attributable to another cause, set aside (footnotes: fever, hypotension "
                      "and hypoxia 'not attributable to any other cause').")

    input_serializer = InputSerializer

    @extend_schema(request=InputSerializer, responses=GradeOutputSerializer)
    def post(self, request):
        return super().post(request)

    def compute(self, data: dict) -> Response:
        common = {k: data[k] for k in ("temperature_c", "vasopressors", "death_due_to_crs")}
        translate = with_agent_names(gettext)  # the agents named as the bedside form names them
        if data["scale"] == "ctcae_v5_0":
            grade = grading.grade_crs_ctcae_v5(
                **common, hypotension=data["hypotension"], oxygen_fio2_percent=data["oxygen_fio2_percent"],
                life_threatening_urgent_intervention=data["life_threatening_urgent_intervention"], translate=translate)
        elif data["scale"] == "ctcae_v4_03":
            grade = grading.grade_crs_ctcae_v4(
                symptoms=data["symptoms"], hypotension=data["hypotension"],
                therapy_or_interruption_indicated=data["therapy_or_interruption_indicated"],
                prolonged_or_recurrent=data["prolonged_or_recurrent"],
                hospitalization_indicated=data["hospitalization_indicated"], vasopressors=data["vasopressors"],
                ventilatory_support=data["ventilatory_support"],
                life_threatening=data["life_threatening_urgent_intervention"],
                death_due_to_crs=data["death_due_to_crs"], translate=translate)
        elif data["scale"] == "lee_2014":
            grade = grading.grade_crs_lee2014(
                **common, hypotension=data["hypotension"], constitutional_symptoms=data["constitutional_symptoms"],
                high_dose_or_multiple_pressors=data["high_dose_or_multiple_pressors"],
                oxygen_fio2_percent=data["oxygen_fio2_percent"], ventilator_support=data["ventilator_support"],
                organ_toxicity_grade=data["organ_toxicity_grade"],
                organ_toxicity_is_transaminitis=data["organ_toxicity_is_transaminitis"], translate=translate)
        else:
            grade = grading.grade_crs_astct(
                **common, fever_masking_therapies=data["fever_masking_therapies"],
                had_crs_before=data["had_crs_before"], hypotension=data["hypotension"],
                oxygen_device=data["oxygen_device"], oxygen_flow_l_min=data["oxygen_flow_l_min"],
                other_cause_findings=data["other_cause_findings"], translate=translate)
        return _grade_response(grade)


class ICANSGradeApi(_GradingView):
    """Grade ICANS by ASTCT 2019 with the ICE (0-10) or CAPD (0-32) tool."""

    @extend_schema_serializer(component_name="ICANSGradeInput")
    class InputSerializer(serializers.Serializer):
        tool = serializers.ChoiceField(choices=grading.ICANS_TOOLS)
        ice_score = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                             max_value=grading.ICE_MAX)
        capd_score = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0,
                                              max_value=grading.CAPD_MAX)
        unable_to_perform = serializers.BooleanField(default=False)
        consciousness = serializers.ChoiceField(choices=grading.CONSCIOUSNESS_LEVELS, default="normal", allow_null=True,
                                                help_text="null = not assessed (the grade may be undetermined).")
        seizure = serializers.ChoiceField(choices=grading.SEIZURE_LEVELS, default="none", allow_null=True)
        motor = serializers.ChoiceField(choices=grading.MOTOR_LEVELS, default="none", allow_null=True)
        cerebral_edema = serializers.ChoiceField(choices=grading.CEREBRAL_EDEMA_LEVELS, default="none",
                                                 allow_null=True)
        other_cause_domains = serializers.ListField(
            child=serializers.ChoiceField(choices=grading.ICANS_DOMAINS), default=list,
            help_text="Domains whose finding is attributable to another cause (e.g. consciousness under sedation): "
                      "excluded from the grade (ASTCT 2019 footnotes).")
        death = serializers.BooleanField(default=False)

    input_serializer = InputSerializer

    @extend_schema(request=InputSerializer, responses=GradeOutputSerializer)
    def post(self, request):
        return super().post(request)

    def compute(self, data: dict) -> Response:
        return _grade_response(grading.grade_icans(**data, translate=gettext))


class FeverGradeApi(_GradingView):
    """Grade a fever by CTCAE v5.0: "Fever" by temperature band, or "Febrile neutropenia" when the ANC sent (the most
    recent count) is < 1.0 x 10^9/L and a single temperature > 38.3 °C or >= 38.0 °C sustained > 1 h is met. The
    answer's ``ctcae_term`` says which term applies."""

    @extend_schema_serializer(component_name="FeverGradeInput")
    class InputSerializer(serializers.Serializer):
        temperature_c = serializers.FloatField(help_text="Highest temperature, °C.")
        hours_above_40 = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0,
                                                help_text="Hours above 40.0 °C (Fever grade 3 vs 4).")
        anc = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0,
                                     help_text="Most recent ANC, in anc_unit.")
        anc_unit = serializers.CharField(required=False, allow_blank=True, default="", max_length=20,
                                         help_text="An ANC unit (GET /api/v1/grading/lab/units/), e.g. 10^9/L.")
        sustained_38_over_1h = serializers.BooleanField(required=False, allow_null=True, default=None,
                                                        help_text=">= 38.0 °C for more than one hour.")
        life_threatening = serializers.BooleanField(default=False)
        death = serializers.BooleanField(default=False)

    input_serializer = InputSerializer

    @extend_schema(request=InputSerializer, responses=LabGradeOutputSerializer)
    def post(self, request):
        return super().post(request)

    def compute(self, data: dict) -> Response:
        if data["anc"] is not None and data["anc_unit"]:
            _unit, errors = lab_units.entry_errors("anc", data["anc_unit"], data["anc"], translate=gettext)
            if errors:
                raise DjangoValidationError({"anc" if k == "value" else "anc_unit" if k == "unit" else k:
                                             reader_numbers(v) for k, v in errors.items()})
        return _grade_response(grading.grade_fever_episode(**(data | {"anc_unit": data["anc_unit"] or None}),
                                                           translate=gettext), with_term=True)


class LabGradeApi(_GradingView):
    """Grade one lab value by CTCAE v5.0 (value, LLN, ULN and baseline all in ``unit``).

    ``unit`` must be one of the analyte's units (``GET /api/v1/grading/lab/units/``; other spellings of the same
    unit such as ``x10^9/L`` are accepted). A value, LLN or ULN that is not plausible in that unit answers 400 with
    the likely unit ("Hb 95 g/dL is not plausible (Hb is 3–25 g/dL). Did you mean 95 g/L?").

    Chemistry analytes (sodium, potassium, calcium, calcium_ionized, magnesium, phosphate, glucose, uric_acid, igg)
    propose their CTCAE term by the value's direction (``ctcae_term`` in the answer: Hyponatremia or Hypernatremia);
    a clinical criterion applies to that term, and one the term does not have answers 400. Total calcium is graded
    corrected for ``albumin``; without it the grade is undetermined. Rules: docs/grading.md.
    """

    @extend_schema_serializer(component_name="LabGradeInput")
    class InputSerializer(serializers.Serializer):
        analyte = serializers.ChoiceField(choices=grading.LAB_ANALYTES)
        value = serializers.FloatField(min_value=0)
        unit = serializers.CharField(max_length=20, help_text="One of the analyte's units (GET "
                                                              "/api/v1/grading/lab/units/), e.g. 10^9/L, /mm3, g/L.")
        lln = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
        uln = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
        baseline = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0)
        baseline_abnormal = serializers.BooleanField(required=False, allow_null=True, default=None)
        symptomatic = serializers.BooleanField(default=False, help_text="Hypokalemia grade 2: symptomatic.")
        intervention_indicated = serializers.BooleanField(default=False,
                                                          help_text="Hypokalemia grade 2: intervention indicated.")
        transfusion_indicated = serializers.BooleanField(default=False,
                                                         help_text="Anemia grade 3: transfusion indicated.")
        hospitalization_indicated = serializers.BooleanField(
            default=False, help_text="Hypokalemia grade 3: hospitalization indicated.")
        life_threatening = serializers.BooleanField(
            default=False, help_text="Grade 4 'life-threatening consequences' of the term the value proposes (Anemia, "
                                     "Hypokalemia, the chemistry terms).")
        intervention_initiated = serializers.BooleanField(
            default=False, help_text="Hypernatremia / Hyperkalemia grade 2: intervention initiated.")
        seizures = serializers.BooleanField(default=False, help_text="Hypoglycemia grade 4: seizures.")
        oral_antiglycemic_initiated = serializers.BooleanField(
            default=False, help_text="Hyperglycemia grade 2: change in daily management; oral antiglycemic agent "
                                     "initiated; workup for diabetes.")
        insulin_initiated = serializers.BooleanField(default=False,
                                                     help_text="Hyperglycemia grade 3: insulin therapy initiated.")
        oral_replacement_indicated = serializers.BooleanField(
            default=False, help_text="Hypophosphatemia grade 2: oral replacement therapy indicated.")
        noninvasive_intervention_indicated = serializers.BooleanField(
            default=False, help_text="Hyperphosphatemia grade 2: noninvasive intervention indicated; IgG (Immune "
                                     "system disorders - Other, specify) grade 2: minimal, local or noninvasive "
                                     "intervention indicated.")
        physiologic_consequences = serializers.BooleanField(
            default=False, help_text="Hyperuricemia grade 3: >ULN with physiologic consequences.")
        albumin = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0,
                                         help_text="Total calcium: the albumin of the same sample, in albumin_unit "
                                                   "(CTCAE v5.0 grades calcium corrected for albumin).")
        albumin_unit = serializers.CharField(required=False, allow_null=True, default=None, max_length=20,
                                             help_text="g/L or g/dL.")

    input_serializer = InputSerializer

    @extend_schema(request=InputSerializer, responses=LabGradeOutputSerializer)
    def post(self, request):
        return super().post(request)

    def compute(self, data: dict) -> Response:
        if data["analyte"] in lab_units.ANALYTES:
            _unit, errors = lab_units.entry_errors(data["analyte"], data["unit"], data["value"], lln=data["lln"],
                                                   uln=data["uln"], translate=gettext)
            if errors:  # the reader's language (English for a client without Accept-Language): its separator too
                raise DjangoValidationError({k: reader_numbers(v) for k, v in errors.items()})
        return _grade_response(grading.grade_lab(**data, translate=gettext), with_term=True)


class LabUnitSerializer(serializers.Serializer):
    unit = serializers.CharField(help_text="The code to send (and the one stored), e.g. 10^9/L.")
    label = serializers.CharField(help_text="How it is shown, e.g. ×10⁹/L.")  # type: ignore[assignment]  # a field
    default = serializers.BooleanField(help_text="The ward's usual unit for the analyte (listed first).")
    plausible_min = serializers.FloatField()
    plausible_max = serializers.FloatField()
    zero_plausible = serializers.BooleanField(help_text="0 (below the detection limit) is plausible too.")


class LabAnalyteUnitsSerializer(serializers.Serializer):
    analyte = serializers.ChoiceField(choices=grading.LAB_ANALYTES)
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label
    ctcae_term = serializers.CharField(help_text="The analyte's (low) term; ctcae_terms lists every term it grades.")
    ctcae_terms = serializers.ListField(child=serializers.CharField(),
                                        help_text="Every CTCAE v5.0 term a value can propose, by direction.")
    units = LabUnitSerializer(many=True)


class LabUnitsApi(APIView):
    """The units of each lab analyte, the ward's usual one first, with the range of values plausible in each
    (a value outside it is refused as a probable unit slip; docs/labs.md gives the reasoning)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=LabAnalyteUnitsSerializer(many=True))
    def get(self, request):
        return Response([
            {"analyte": entry.code, "label": entry.label,
             "ctcae_term": grading.LAB_TERMS[entry.code],
             "ctcae_terms": list(grading.LAB_TERMS_BY_ANALYTE[entry.code]),
             "units": [{"unit": u.code, "label": u.label, "default": i == 0, "plausible_min": u.plausible[0],
                        "plausible_max": u.plausible[1], "zero_plausible": u.zero_plausible}
                       for i, u in enumerate(entry.units)]}
            for entry in lab_units.ANALYTES.values()])
