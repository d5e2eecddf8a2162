"""The model-adaptation workflow (`tunesmith adapt`): inspect a model folder, check it, write a plugin."""

from tunesmith.adapt.inspect import (
    Inspection,
    check_transformers_version,
    inspect_model_dir,
    transformers_version_problem,
)
from tunesmith.adapt.report import AdaptReport, Check
from tunesmith.adapt.workflow import run_adapt

__all__ = [
    "AdaptReport",
    "Check",
    "Inspection",
    "check_transformers_version",
    "inspect_model_dir",
    "run_adapt",
    "transformers_version_problem",
]
