"""Inference: the engine protocol and its transformers engine, chat sessions, batch prediction and
generation metrics. Importing this package imports neither torch nor transformers."""

from tunesmith.infer.engine import InferenceEngine, Prompt, StopPlan, TextStream, TransformersEngine
from tunesmith.infer.output import FinishReason, Generation, finish, held_back, trim_at_stop
from tunesmith.infer.predict import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    PredictItem,
    PredictResult,
    predict,
    run_predict,
    split_prompt,
)
from tunesmith.infer.sampling import SamplingParams
from tunesmith.infer.session import ChatSession, with_default_system

__all__ = [
    "PREDICTIONS_FILE",
    "RESULTS_FILE",
    "ChatSession",
    "FinishReason",
    "Generation",
    "InferenceEngine",
    "PredictItem",
    "PredictResult",
    "Prompt",
    "SamplingParams",
    "StopPlan",
    "TextStream",
    "TransformersEngine",
    "finish",
    "held_back",
    "predict",
    "run_predict",
    "split_prompt",
    "trim_at_stop",
    "with_default_system",
]
