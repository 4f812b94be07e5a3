"""The monitor stage: reference profiles, input and prediction drift, performance with
delayed ground truth and estimated without it, service health, business KPIs, alerts and
reports, read from the prediction log the deploy stage writes."""

from steward.monitor._api import acknowledge_alert as acknowledge_alert
from steward.monitor._api import get_monitor_config as get_monitor_config
from steward.monitor._api import list_alerts as list_alerts
from steward.monitor._api import set_monitor_config as set_monitor_config
from steward.monitor._build import build_profile as build_profile
from steward.monitor._build import merge_profiles as merge_profiles
from steward.monitor._calibrate import calibrate_estimator as calibrate_estimator
from steward.monitor._domain import DomainCheck as DomainCheck
from steward.monitor._domain import DomainConfig as DomainConfig
from steward.monitor._drift import DriftConfig as DriftConfig
from steward.monitor._drift import DriftReport as DriftReport
from steward.monitor._drift import FeatureDrift as FeatureDrift
from steward.monitor._drift import drift as drift
from steward.monitor._drift_tests import ColumnPair as ColumnPair
from steward.monitor._drift_tests import DriftOutcome as DriftOutcome
from steward.monitor._drift_tests import DriftTest as DriftTest
from steward.monitor._drift_tests import DriftTestConfig as DriftTestConfig
from steward.monitor._drift_tests import DriftTestResult as DriftTestResult
from steward.monitor._drift_tests import drift_tests as drift_tests
from steward.monitor._drift_tests import register_drift_test as register_drift_test
from steward.monitor._estimation import PerformanceEstimator as PerformanceEstimator
from steward.monitor._estimation import fit_estimator as fit_estimator
from steward.monitor._estimation import load_estimator as load_estimator
from steward.monitor._estimation import store_estimator as store_estimator
from steward.monitor._estimation_report import EstimatedMetric as EstimatedMetric
from steward.monitor._estimation_report import EstimatedPerformance as EstimatedPerformance
from steward.monitor._estimation_report import EstimatedWindow as EstimatedWindow
from steward.monitor._labels import with_labels as with_labels
from steward.monitor._logread import read as read_prediction_log
from steward.monitor._monitor_ops import MonitorOps as MonitorOps
from steward.monitor._performance import performance as performance
from steward.monitor._performance_labels import LabelCounts as LabelCounts
from steward.monitor._performance_report import PerformanceGroup as PerformanceGroup
from steward.monitor._performance_report import PerformanceMetric as PerformanceMetric
from steward.monitor._performance_report import PerformanceReport as PerformanceReport
from steward.monitor._profile import FeatureProfile as FeatureProfile
from steward.monitor._profile import ProfileSettings as ProfileSettings
from steward.monitor._profile import ReferenceProfile as ReferenceProfile
from steward.monitor._records import KPI as KPI
from steward.monitor._records import Alert as Alert
from steward.monitor._records import MonitorConfig as MonitorConfig
from steward.monitor._records import MonitorRun as MonitorRun
from steward.monitor._reference import load_reference as load_reference
from steward.monitor._reference import set_reference as set_reference
from steward.monitor._reference import store_reference as store_reference
from steward.monitor._report import report_html as report_html
from steward.monitor._report import series_figures as series_figures
from steward.monitor._report import stored_report as stored_report
from steward.monitor._run import MonitorResult as MonitorResult
from steward.monitor._run import monitor_deployment as monitor_deployment
from steward.monitor._run import parse_window as parse_window

__all__ = [
    "KPI",
    "Alert",
    "ColumnPair",
    "DomainCheck",
    "DomainConfig",
    "DriftConfig",
    "DriftOutcome",
    "DriftReport",
    "DriftTest",
    "DriftTestConfig",
    "DriftTestResult",
    "EstimatedMetric",
    "EstimatedPerformance",
    "EstimatedWindow",
    "FeatureDrift",
    "FeatureProfile",
    "LabelCounts",
    "MonitorConfig",
    "MonitorOps",
    "MonitorResult",
    "MonitorRun",
    "PerformanceEstimator",
    "PerformanceGroup",
    "PerformanceMetric",
    "PerformanceReport",
    "ProfileSettings",
    "ReferenceProfile",
    "acknowledge_alert",
    "build_profile",
    "calibrate_estimator",
    "drift",
    "drift_tests",
    "fit_estimator",
    "get_monitor_config",
    "list_alerts",
    "load_estimator",
    "load_reference",
    "merge_profiles",
    "monitor_deployment",
    "parse_window",
    "performance",
    "read_prediction_log",
    "register_drift_test",
    "report_html",
    "series_figures",
    "set_monitor_config",
    "set_reference",
    "store_estimator",
    "store_reference",
    "stored_report",
    "with_labels",
]
