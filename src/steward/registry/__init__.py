"""The model registry: packages, flavors, signatures, versions, aliases and exports."""

from steward.registry._api import (
    ModelInfo,
    create_registered_model,
    delete_alias,
    download_model,
    get_alias_history,
    get_model_version,
    get_registered_model,
    load_model,
    log_model,
    register_model,
    set_alias,
    set_model_tag,
)

# For the stages and interfaces above the registry (not part of ``steward.*``):
from steward.registry._evaluation import EvaluationData as EvaluationData
from steward.registry._evaluation import evaluation_data as evaluation_data
from steward.registry._evaluation import input_example as input_example
from steward.registry._evaluation import sample_within_signature as sample_within_signature
from steward.registry._export import ExportResult, export_model, read_parity_report
from steward.registry._flavors import Flavor, register_flavor
from steward.registry._flavors import flavor_for as flavor_for
from steward.registry._hooks import (
    PromotionRequest,
    add_promotion_hook,
    add_version_hook,
    remove_promotion_hook,
    remove_version_hook,
)
from steward.registry._loaded import LoadedModel
from steward.registry._models import (
    AliasMove,
    ColumnSpec,
    Manifest,
    ModelVersion,
    RegisteredModel,
    Signature,
)
from steward.registry._models import ModelFile as ModelFile
from steward.registry._package import VersionMismatchWarning
from steward.registry._package import read_manifest as read_manifest
from steward.registry._package import version_differences as version_differences
from steward.registry._parity import ParityReport as ParityReport
from steward.registry._registry_ops import RegistryOps as RegistryOps
from steward.registry._registry_ops import resolve_version as resolve_version
from steward.registry._signature import (
    SignatureError,
    SignatureWarning,
    UnseenCategoryWarning,
    infer_signature,
)
from steward.registry._signature import validate_frame as validate_frame
from steward.registry._summary import model_summary
from steward.registry._uri import parse_model_uri as parse_model_uri

__all__ = [
    "AliasMove",
    "ColumnSpec",
    "ExportResult",
    "Flavor",
    "LoadedModel",
    "Manifest",
    "ModelInfo",
    "ModelVersion",
    "PromotionRequest",
    "RegisteredModel",
    "Signature",
    "SignatureError",
    "SignatureWarning",
    "UnseenCategoryWarning",
    "VersionMismatchWarning",
    "add_promotion_hook",
    "add_version_hook",
    "create_registered_model",
    "delete_alias",
    "download_model",
    "export_model",
    "get_alias_history",
    "get_model_version",
    "get_registered_model",
    "infer_signature",
    "load_model",
    "log_model",
    "model_summary",
    "read_parity_report",
    "register_flavor",
    "register_model",
    "remove_promotion_hook",
    "remove_version_hook",
    "set_alias",
    "set_model_tag",
]
