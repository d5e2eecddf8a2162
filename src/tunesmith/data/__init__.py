"""Datasets → typed examples: dataset_info.json, local files and hubs, converters, mixing, reports.

:func:`load_conversations` gives typed examples (nothing tokenized); :func:`build_datasets` encodes
them (encode, truncation, packing), caches the result and returns ``datasets.Dataset`` objects for
the collators; :func:`build_prompts` encodes the prompts of online RL (grpo, ppo). Importing this package imports neither torch, transformers nor datasets.
"""

from tunesmith.data.collator import LeftPadCollator, SupervisedCollator
from tunesmith.data.encode import (
    Dropped,
    PromptExample,
    SupervisedExample,
    encode_supervised,
    encode_unsupervised,
    tokenize_document,
)
from tunesmith.data.examples import (
    ConversationExample,
    Example,
    FeedbackExample,
    PairExample,
    PromptOnlyExample,
    RecordRef,
    TextExample,
)
from tunesmith.data.info import (
    DatasetAttr,
    DatasetColumns,
    DatasetTags,
    get_dataset_attrs,
    parse_dataset_attr,
)
from tunesmith.data.loader import LoadedData, example_kind, load_conversations, load_dataset_examples
from tunesmith.data.mixing import mix_datasets, split_train_eval
from tunesmith.data.packing import PackedSequence, chunk_documents, pack_supervised
from tunesmith.data.pipeline import EncodeStats, TokenizedDatasets, build_datasets
from tunesmith.data.prompts import EncodedPrompt, PromptSet, build_prompts, encode_prompt
from tunesmith.data.report import BadRecord, BadRecordReport, DataError, Reason
from tunesmith.data.truncation import infer_seqlen

__all__ = [
    "BadRecord",
    "Dropped",
    "EncodeStats",
    "EncodedPrompt",
    "PromptOnlyExample",
    "PromptSet",
    "build_prompts",
    "encode_prompt",
    "LeftPadCollator",
    "PackedSequence",
    "PromptExample",
    "SupervisedCollator",
    "SupervisedExample",
    "TokenizedDatasets",
    "build_datasets",
    "chunk_documents",
    "encode_supervised",
    "encode_unsupervised",
    "infer_seqlen",
    "pack_supervised",
    "tokenize_document",
    "BadRecordReport",
    "ConversationExample",
    "DataError",
    "DatasetAttr",
    "DatasetColumns",
    "DatasetTags",
    "Example",
    "FeedbackExample",
    "LoadedData",
    "PairExample",
    "Reason",
    "RecordRef",
    "TextExample",
    "example_kind",
    "get_dataset_attrs",
    "load_conversations",
    "load_dataset_examples",
    "mix_datasets",
    "parse_dataset_attr",
    "split_train_eval",
]
