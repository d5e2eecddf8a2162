"""Datasets → typed examples: dataset_info.json, local files and hubs, converters, mixing, reports.

Nothing here tokenizes; see :func:`load_conversations` for the entry point.
"""

from tunesmith.data.examples import (
    ConversationExample,
    Example,
    FeedbackExample,
    PairExample,
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
from tunesmith.data.report import BadRecord, BadRecordReport, DataError, Reason

__all__ = [
    "BadRecord",
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
