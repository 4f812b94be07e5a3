"""The govern stage: users and roles, policies, sign-offs, the validation gate and the
deployment gate (process governance); the audit trail, lineage and PII (data governance)."""

from steward.develop import add_dataset_hook as _add_dataset_hook
from steward.govern import _enforce
from steward.govern._access import ROLES as ROLES
from steward.govern._access import action_of as action_of
from steward.govern._access import allows as allows
from steward.govern._audit import AuditEvent as AuditEvent
from steward.govern._audit import AuditProblem as AuditProblem
from steward.govern._audit import AuditVerification as AuditVerification
from steward.govern._audit_report import audit_report as audit_report
from steward.govern._data_api import audit_events as audit_events
from steward.govern._data_api import export_audit as export_audit
from steward.govern._data_api import flagged_columns as flagged_columns
from steward.govern._data_api import impact as impact
from steward.govern._data_api import lineage as lineage
from steward.govern._data_api import parse_anchor as parse_anchor
from steward.govern._data_api import scan_dataset as scan_dataset
from steward.govern._data_api import scan_on_registration as scan_on_registration
from steward.govern._data_api import set_pii_scan as set_pii_scan
from steward.govern._data_api import verify_audit as verify_audit
from steward.govern._data_ops import GovernDataOps as GovernDataOps
from steward.govern._enforce import PolicyWarning as PolicyWarning
from steward.govern._enforce import gate_status as gate_status
from steward.govern._enforce import missing_requirements as missing_requirements
from steward.govern._gate import validate as validate
from steward.govern._gate_report import CheckResult as CheckResult
from steward.govern._gate_report import GateReport as GateReport
from steward.govern._lineage import NODE_FORMS as NODE_FORMS
from steward.govern._lineage import LineageEdge as LineageEdge
from steward.govern._lineage import LineageGraph as LineageGraph
from steward.govern._lineage_nodes import LineageNode as LineageNode
from steward.govern._openlineage import openlineage_events as openlineage_events
from steward.govern._openlineage import run_events as run_events
from steward.govern._openlineage import send_openlineage as send_openlineage
from steward.govern._openlineage import write_openlineage as write_openlineage
from steward.govern._pii import PiiFinding as PiiFinding
from steward.govern._pii import PiiScan as PiiScan
from steward.govern._pii import PiiScanSpec as PiiScanSpec
from steward.govern._pii import scan_frame as scan_frame
from steward.govern._policy import CHECKS as CHECKS
from steward.govern._policy import Policy as Policy
from steward.govern._policy import default_policy as default_policy
from steward.govern._process_api import get_policy as get_policy
from steward.govern._process_api import request_review as request_review
from steward.govern._process_api import set_policy as set_policy
from steward.govern._process_api import sign_off as sign_off
from steward.govern._process_api import signoff_status as signoff_status
from steward.govern._records import NewUserToken as NewUserToken
from steward.govern._records import Principal as Principal
from steward.govern._records import ReviewRequest as ReviewRequest
from steward.govern._records import SignOff as SignOff
from steward.govern._records import SignOffStatus as SignOffStatus
from steward.govern._records import User as User
from steward.govern._records import UserToken as UserToken
from steward.govern._records import Validation as Validation
from steward.govern._review_ops import ReviewOps as ReviewOps
from steward.govern._user_ops import UserOps as UserOps

_enforce.install()  # the deployment gate: alias moves and deployments consult the policy
_add_dataset_hook(scan_on_registration)  # every registered dataset is scanned for personal data
