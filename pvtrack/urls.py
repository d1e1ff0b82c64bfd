from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_page
from django.views.generic.base import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from ae import apis as ae_apis
from ae import (
                grading_apis,
                import_apis,
                import_views,
                listing_views,
                reference_range_views,
                sae_apis,
                sae_views,
                timeline_views,
)
from ae import treatment_views as ae_treatment_views
from ae import views as ae_views
from core import errors
from patients import apis as patient_apis
from patients import notification_views, profile_views
from patients import views as patient_views
from pvtrack import auth as pvtrack_auth
from pvtrack import twofactor
from pvtrack import views as pvtrack_views
from pvtrack.auth_epoch import EpochTokenAuthentication
from reports import apis as report_apis
from reports import export_apis, health, icsr_views
from reports import views as report_views

router = DefaultRouter()
router.register("patients", patient_apis.PatientViewSet, basename="patient")
router.register("cycles", patient_apis.TreatmentCycleViewSet, basename="cycle")
router.register("dosing-steps", patient_apis.DosingStepViewSet, basename="dosing-step")
router.register("interruptions", patient_apis.InfusionInterruptionViewSet, basename="interruption")
router.register("hospital-stays", patient_apis.HospitalStayViewSet, basename="hospital-stay")
router.register("next-therapies", patient_apis.NextTherapyViewSet, basename="next-therapy")
router.register("adverse-events", ae_apis.AdverseEventViewSet, basename="adverse-event")
router.register("event-treatments", ae_apis.EventTreatmentViewSet, basename="event-treatment")
router.register("ctcae-terms", ae_apis.CTCAETermViewSet, basename="ctcae-term")
router.register("reference-ranges", ae_apis.ReferenceRangeViewSet, basename="reference-range")
router.register("sae-cases", sae_apis.SAECaseViewSet, basename="sae-case")
router.register("rsi", sae_apis.RSIViewSet, basename="rsi")
router.register("benchmark-runs", report_apis.BenchmarkRunViewSet, basename="benchmark-run")

urlpatterns = [
    path("", patient_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/two-factor/", twofactor.two_factor_setup, name="two-factor-setup"),
    path("account/two-factor/verify/", twofactor.two_factor_verify, name="two-factor-verify"),
    path("sites/<slug:site>/patients/", patient_views.patient_list, name="patient-list"),
    path("patients/<int:pk>/", ae_views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/timeline/", timeline_views.patient_timeline, name="patient-timeline"),
    path("patients/<int:patient_pk>/cycles/new/", patient_views.cycle_form, name="cycle-create"),
    path("patients/<int:patient_pk>/cycles/<int:pk>/edit/", patient_views.cycle_form, name="cycle-edit"),
    path("patients/<int:patient_pk>/cycles/<int:pk>/treatment/", patient_views.cycle_treatment,
         name="cycle-treatment"),
    path("patients/<int:patient_pk>/events/new/", ae_views.event_create, name="event-create"),
    path("events/<int:pk>/edit/", ae_views.event_edit, name="event-edit"),
    path("events/<int:pk>/history/", ae_views.event_history, name="event-history"),
    path("events/<int:pk>/treatments/", ae_treatment_views.event_treatments, name="event-treatments"),
    path("patients/<int:patient_pk>/crs/new/", ae_views.crs_assessment_create, name="crs-assessment-create"),
    path("patients/<int:patient_pk>/icans/new/", ae_views.icans_assessment_create, name="icans-assessment-create"),
    path("patients/<int:patient_pk>/labs/new/", ae_views.lab_result_create, name="lab-result-create"),
    path("sites/<slug:site>/reference-ranges/", reference_range_views.reference_ranges, name="reference-ranges"),
    path("events/<int:pk>/discrepancy/resolve/", ae_views.discrepancy_resolve, name="discrepancy-resolve"),
    path("sites/<slug:site>/cases/", sae_views.sae_case_list, name="sae-case-list"),
    path("cases/<int:pk>/", sae_views.sae_case, name="sae-case"),
    path("events/<int:pk>/case/", sae_views.sae_case_open, name="sae-case-open"),
    path("rsi/", sae_views.rsi_list, name="rsi-list"),
    path("cases/<int:pk>/versions/<int:number>/<str:name>", icsr_views.icsr_download, name="icsr-download"),
    path("api/v1/sae-cases/<int:pk>/versions/<int:number>/<str:name>", icsr_views.IcsrDownloadApi.as_view(),
         name="api-icsr-download"),
    path("account/", profile_views.profile, name="profile"),
    path("account/session/", profile_views.session_keepalive, name="session-keepalive"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/<int:pk>/open/", notification_views.notification_open, name="notification-open"),
    path("notifications/preferences/", notification_views.notification_preferences,
         name="notification-preferences"),
    path("notices/", RedirectView.as_view(pattern_name="notifications", permanent=True)),  # before issue 15
    path("sites/<slug:site>/report/", report_views.report, name="report"),
    path("network/", report_views.network, name="network"),
    path("sites/<slug:site>/report/plots/<slug:key>/<slug:kind>.svg", report_views.report_plot, name="report-plot"),
    path("sites/<slug:site>/report/<slug:category>/<str:band>/<str:scope>/", report_views.drilldown,
         name="drilldown"),
    path("sites/<slug:site>/report/<slug:category>/<str:band>/<str:scope>/plots/", report_views.cell_plots,
         name="cell-plots"),
    path("sites/<slug:site>/runs/", report_views.run_history, name="run-history"),
    path("sites/<slug:site>/runs/<int:pk>/", report_views.run_detail, name="run-detail"),
    path("flags/<int:pk>/review/", report_views.flag_review_view, name="flag-review"),
    path("benchmark-runs/<int:pk>/sign/", report_views.run_signoff_view, name="run-signoff"),
    path("sites/<slug:site>/export.<str:fmt>", report_views.export_ae_table, name="export-ae-table"),
    path("sites/<slug:site>/events/", listing_views.event_listing, name="event-listing"),
    path("sites/<slug:site>/ae-imports/", import_views.ae_import, name="ae-import"),
    path("sites/<slug:site>/ae-imports/mapping/", import_views.ae_import_mapping, name="ae-import-mapping"),
    path("sites/<slug:site>/aet.<str:fmt>", report_views.export_aet, name="export-aet"),
    path("sites/<slug:site>/cdisc/<str:kind>.<str:fmt>.zip", report_views.export_cdisc, name="export-cdisc"),
    path("api/v1/auth/login/", pvtrack_auth.TokenLoginView.as_view(), name="api-login"),
    # knox's log-out views authenticate with knox's own class: the same check of the auth epoch as the API's
    path("api/v1/auth/logout/", pvtrack_auth.TokenLogoutView.as_view(authentication_classes=[EpochTokenAuthentication]),
         name="api-logout"),
    path("api/v1/auth/logoutall/",
         pvtrack_auth.TokenLogoutAllView.as_view(authentication_classes=[EpochTokenAuthentication]),
         name="api-logoutall"),
    path("api/v1/grading/crs/", grading_apis.CRSGradeApi.as_view(), name="grading-crs"),
    path("api/v1/grading/icans/", grading_apis.ICANSGradeApi.as_view(), name="grading-icans"),
    path("api/v1/grading/fever/", grading_apis.FeverGradeApi.as_view(), name="grading-fever"),
    path("api/v1/grading/lab/", grading_apis.LabGradeApi.as_view(), name="grading-lab"),
    path("api/v1/grading/lab/units/", grading_apis.LabUnitsApi.as_view(), name="grading-lab-units"),
    path("history/<slug:kind>/<int:pk>/", pvtrack_views.record_history, name="record-history"),
    path("api/v1/sites/<slug:site>/sdtm/", export_apis.SdtmExportApi.as_view(), name="api-sdtm"),
    path("api/v1/sites/<slug:site>/adam/", export_apis.AdamExportApi.as_view(), name="api-adam"),
    path("api/v1/sites/<slug:site>/tables/aet/", export_apis.AetTablesApi.as_view(), name="api-aet"),
    path("api/v1/sites/<slug:site>/ae-imports/", import_apis.AdverseEventImportApi.as_view(), name="api-ae-import"),
    path("api/v1/", include((router.urls, "api"))),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("admin/", admin.site.urls),
    path("health/", health.health_view, name="health"),
    # The scripts' texts in the reader's language (static/*.js call gettext/interpolate): Django's catalogue of the
    # "djangojs" domain, a same-origin script (CSP script-src 'self'), open to anonymous and not-yet-verified
    # sessions (pvtrack.twofactor.OPEN_PATHS). Built once per language and process (cache_page keys on the active
    # language); the browser does not keep it (core.nostore), so a change of language shows at the next page.
    path("jsi18n/", cache_page(3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    # Browsers ask for /favicon.ico whatever the page says; the icon is the SVG every page links to.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True), name="favicon"),
]

handler400 = errors.bad_request  # a lost database answers a clean 503; the API answers problem JSON ...
handler500 = errors.server_error  # ... never a bare HTML 500 under /api/
