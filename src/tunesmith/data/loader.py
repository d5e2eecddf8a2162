"""``load_conversations``: dataset names → typed examples for a training stage, with a bad-record report.

Per dataset: read its records (:mod:`~tunesmith.data.sources`), sample ``num_samples``, truncate to
``max_samples``, convert each record (:mod:`~tunesmith.data.converters`); then mix the datasets
(:mod:`~tunesmith.data.mixing`). Malformed records are skipped and reported (``on_bad_record="skip"``)
or stop the run at the first one (``"error"``); a dataset none of whose records is usable is an error
that lists the first failures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tunesmith.data.converters import ExampleKind, convert_record
from tunesmith.data.examples import Example
from tunesmith.data.info import DatasetAttr, get_dataset_attrs
from tunesmith.data.mixing import MIX_STRATEGIES, mix_datasets, split_train_eval
from tunesmith.data.report import BadRecord, BadRecordReport, DataError, RecordError, describe_failures
from tunesmith.data.sources import HubLoader, RawRecord, read_dataset, sample_records, truncate_records

logger = logging.getLogger(__name__)

__all__ = ["LoadedData", "load_conversations", "load_dataset_examples", "example_kind", "split_train_eval"]

OnBadRecord = Literal["skip", "error"]
PAIRWISE_STAGES: tuple[str, ...] = ("rm", "dpo", "orpo", "simpo")
RL_STAGES: tuple[str, ...] = ("grpo", "ppo")
STAGES: tuple[str, ...] = ("pt", "sft", *PAIRWISE_STAGES, "kto", *RL_STAGES)


@dataclass(frozen=True)
class LoadedData:
    examples: list[Example]
    report: BadRecordReport
    counts: dict[str, int] = field(default_factory=dict)
    """Usable examples per dataset name, before mixing."""


def example_kind(attr: DatasetAttr, stage: str) -> ExampleKind:
    """Which example a dataset gives in ``stage``; a dataset unfit for the stage is an error."""
    if stage not in STAGES:
        raise DataError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if stage in RL_STAGES:  # any dataset with a prompt: its answers, if any, are references
        return "prompt"
    if attr.ranking and stage not in PAIRWISE_STAGES:
        raise DataError(
            f"dataset {attr.name!r} is a ranking dataset (chosen/rejected); it fits the stages "
            f"{', '.join(PAIRWISE_STAGES)}, not {stage!r}"
        )
    if stage == "pt":
        return "text"
    if stage in PAIRWISE_STAGES:
        if not attr.ranking:
            raise DataError(
                f"stage {stage!r} needs preference pairs, but dataset {attr.name!r} is not marked "
                '"ranking": true in dataset_info.json'
            )
        return "pair"
    if stage == "kto":
        if attr.columns.kto_tag is None:
            raise DataError(f"stage 'kto' needs a kto_tag column, but dataset {attr.name!r} maps none")
        return "feedback"
    if attr.columns.kto_tag is not None:
        raise DataError(
            f"dataset {attr.name!r} labels its answers desirable/undesirable (kto_tag); "
            "use it with stage 'kto', not 'sft'"
        )
    return "conversation"


def _bad_record_error(bad: BadRecord) -> DataError:
    return DataError(
        f"bad record in {bad.describe()}\n"
        "(on_bad_record='error'; set on_bad_record='skip' to skip such records and report them)"
    )


def _in_file_order(
    records: list[RawRecord], unparsed: list[BadRecord], *, sampled: bool
) -> list[RawRecord | BadRecord]:
    """Records and unparsable rows merged back into file order (after sampling: unparsable first)."""
    if sampled or not unparsed:
        return [*unparsed, *records]

    def key(item: RawRecord | BadRecord) -> tuple[str, int]:  # folders are read in sorted path order
        ref = item.ref if isinstance(item, RawRecord) else item
        return ref.file, ref.row

    return sorted([*records, *unparsed], key=key)


def load_dataset_examples(
    attr: DatasetAttr,
    dataset_dir: str | Path,
    *,
    stage: str = "sft",
    max_samples: int | None = None,
    on_bad_record: OnBadRecord = "skip",
    seed: int = 42,
    cache_dir: str | None = None,
    hub_loader: HubLoader | None = None,
    max_bad_examples: int = 20,
) -> tuple[list[Example], BadRecordReport]:
    """The usable examples of one dataset and the report of its bad records."""
    if on_bad_record not in ("skip", "error"):
        raise DataError(f"on_bad_record must be 'skip' or 'error', got {on_bad_record!r}")
    kind = example_kind(attr, stage)
    source = read_dataset(attr, dataset_dir, cache_dir=cache_dir, hub_loader=hub_loader)
    records = source.records
    if attr.num_samples is not None:
        records = sample_records(records, attr.num_samples, seed)
    records = truncate_records(records, max_samples)

    report = BadRecordReport(max_examples=max_bad_examples)
    report.records_read = len(records) + len(source.bad)
    media_base = None if attr.is_hub else Path(dataset_dir)
    examples: list[Example] = []
    for item in _in_file_order(records, source.bad, sampled=attr.num_samples is not None):
        if isinstance(item, RawRecord):
            try:
                examples.append(convert_record(item.data, attr, item.ref, kind=kind, dataset_dir=media_base))
                continue
            except RecordError as exc:
                bad = BadRecord.at(item.ref, exc.reason, exc.detail)
        else:
            bad = item
        if on_bad_record == "error":
            raise _bad_record_error(bad)
        report.add(bad)

    if not examples:
        if not report:
            raise DataError(f"dataset {attr.name!r} ({attr.path}) has no records")
        raise DataError(
            f"dataset {attr.name!r}: none of its {report.records_read} records is usable "
            f"(formatting {attr.formatting!r}, stage {stage!r}); the first failures:\n"
            f"{describe_failures(report.examples)}"
        )
    if report:
        logger.warning("dataset %r: %s", attr.name, report.summary())
    logger.info("dataset %r: %d examples (%s)", attr.name, len(examples), kind)
    return examples, report


def load_conversations(
    dataset_names: str | Sequence[str],
    dataset_dir: str | Path,
    *,
    stage: str = "sft",
    max_samples: int | None = None,
    on_bad_record: OnBadRecord = "skip",
    seed: int = 42,
    mix_strategy: str = "concat",
    interleave_probs: Sequence[float] | None = None,
    cache_dir: str | None = None,
    hub_loader: HubLoader | None = None,
    prefer_modelscope: bool = False,
    max_bad_examples: int = 20,
) -> LoadedData:
    """Load the datasets named in ``dataset_dir/dataset_info.json`` as examples for ``stage``.

    ``dataset_names`` is a list or a comma-separated string (as LLaMA-Factory's ``dataset``).
    ``max_samples`` caps each dataset (after its ``num_samples`` sampling); ``mix_strategy`` is
    concat, interleave_under or interleave_over (``interleave_probs``: one weight per dataset).
    """
    names = (
        [n.strip() for n in dataset_names.split(",")]
        if isinstance(dataset_names, str)
        else list(dataset_names)
    )
    names = [n for n in names if n]
    if not names:
        raise DataError("no dataset names given")
    if mix_strategy not in MIX_STRATEGIES:
        raise DataError(f"unknown mix_strategy {mix_strategy!r}; expected one of {', '.join(MIX_STRATEGIES)}")
    attrs = get_dataset_attrs(names, dataset_dir, prefer_modelscope=prefer_modelscope)
    report = BadRecordReport(max_examples=max_bad_examples)
    per_dataset: list[list[Example]] = []
    counts: dict[str, int] = {}
    for attr in attrs:
        examples, dataset_report = load_dataset_examples(
            attr,
            dataset_dir,
            stage=stage,
            max_samples=max_samples,
            on_bad_record=on_bad_record,
            seed=seed,
            cache_dir=cache_dir,
            hub_loader=hub_loader,
            max_bad_examples=max_bad_examples,
        )
        per_dataset.append(examples)
        counts[attr.name] = counts.get(attr.name, 0) + len(examples)
        report.merge(dataset_report)
    mixed = mix_datasets(per_dataset, mix_strategy, probabilities=interleave_probs, seed=seed)
    return LoadedData(mixed, report, counts)
