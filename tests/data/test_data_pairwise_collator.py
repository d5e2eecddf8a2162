"""Preference collators: chosen rows then rejected rows; KTO batch plus its mismatched KL batch."""

from __future__ import annotations

import torch

from tunesmith.data.pref_collator import FeedbackCollator, PairwiseCollator
from tunesmith.templates.encode import IGNORE_INDEX

IGN = IGNORE_INDEX
PAD = 0


def test_pairwise_collator_stacks_chosen_then_rejected() -> None:
    features = [
        {
            "chosen_input_ids": [1, 2, 3],
            "chosen_labels": [IGN, 2, 3],
            "rejected_input_ids": [1, 2],
            "rejected_labels": [IGN, 5],
        },
        {
            "chosen_input_ids": [7, 8],
            "chosen_labels": [IGN, 8],
            "rejected_input_ids": [7, 9, 9, 9],
            "rejected_labels": [IGN, 9, 9, 9],
        },
    ]
    batch = PairwiseCollator(PAD)(features)
    assert batch["input_ids"].tolist() == [[1, 2, 3, PAD], [7, 8, PAD, PAD], [1, 2, PAD, PAD], [7, 9, 9, 9]]
    assert batch["labels"].tolist() == [
        [IGN, 2, 3, IGN],
        [IGN, 8, IGN, IGN],
        [IGN, 5, IGN, IGN],
        [IGN, 9, 9, 9],
    ]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]]


def test_pairwise_collator_pads_to_multiple() -> None:
    features = [
        {
            "chosen_input_ids": [1, 2, 3],
            "chosen_labels": [IGN, 2, 3],
            "rejected_input_ids": [1],
            "rejected_labels": [1],
        }
    ]
    assert PairwiseCollator(PAD, pad_to_multiple_of=8)(features)["input_ids"].shape == (2, 8)


def test_feedback_collator_builds_examples_labels_and_kl_batch() -> None:
    features = [
        {"input_ids": [1, 2, 3, 4], "labels": [IGN, IGN, 3, 4], "prompt_len": 2, "kto_label": True},
        {"input_ids": [5, 6, 7], "labels": [IGN, IGN, 7], "prompt_len": 2, "kto_label": False},
    ]
    batch = FeedbackCollator(PAD)(features)
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4], [5, 6, 7, PAD]]
    assert batch["labels"].tolist() == [[IGN, IGN, 3, 4], [IGN, IGN, 7, IGN]]
    assert batch["kto_labels"].dtype == torch.bool and batch["kto_labels"].tolist() == [True, False]
    # prompt 0 + completion 1; prompt 1 + completion 0
    assert batch["kl_input_ids"].tolist() == [[1, 2, 7, PAD], [5, 6, 3, 4]]
    assert batch["kl_labels"].tolist() == [[IGN, IGN, 7, IGN], [IGN, IGN, 3, 4]]
    assert batch["kl_attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
