"""PreferenceTrainer smoke tests on a tiny random LoRA model (CPU, a few seconds each)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tunesmith.data.pairwise import EncodedPair, encode_pairwise, pairwise_columns
from tunesmith.data.pref_collator import PairwiseCollator
from tunesmith.templates import Conversation, jinja_template_from_tokenizer
from tunesmith.train.preference import PreferenceConfig, PreferenceTrainer

COLORS = ["blue", "green", "red", "white", "black", "yellow", "purple", "orange"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from tunesmith.testing import build_tiny_model

    return build_tiny_model("llama", tmp_path_factory.mktemp("tiny") / "llama", seed=0)


def pairs_dataset(path: Path, n: int):
    from datasets import Dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    template = jinja_template_from_tokenizer(tok)
    encoded = []
    for i in range(n):
        q = {"role": "user", "content": f"Question {i}: name a color."}
        chosen = Conversation.from_openai(
            [q, {"role": "assistant", "content": f"The color is {COLORS[i % 8]}."}]
        )
        rejected = Conversation.from_openai(
            [q, {"role": "assistant", "content": "I do not know, sorry about that."}]
        )
        pair = encode_pairwise(chosen, rejected, template, tok, cutoff_len=128)
        assert isinstance(pair, EncodedPair)
        encoded.append(pair)
    return tok, Dataset.from_dict(pairwise_columns(encoded))


def lora_model(path: Path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", lora_dropout=0.0)
    )


def make_trainer(
    path: Path, out: Path, dataset, tok, preference: PreferenceConfig, **args
) -> PreferenceTrainer:
    from transformers import TrainingArguments

    defaults = {
        "output_dir": str(out),
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-3,
        "max_steps": 20,
        "report_to": [],
        "remove_unused_columns": False,
        "save_strategy": "no",
        "logging_steps": 5,
        "use_cpu": True,
        "seed": 0,
        "lr_scheduler_type": "constant",
    }
    defaults.update(args)
    return PreferenceTrainer(
        model=lora_model(path),
        args=TrainingArguments(**defaults),
        train_dataset=dataset,
        data_collator=PairwiseCollator(tok),
        processing_class=tok,
        preference=preference,
    )


def batch_stats(trainer: PreferenceTrainer, dataset) -> tuple[float, float]:
    """Mean reward margin and mean chosen log-ratio (β·(log π - log π_ref)) on the whole dataset."""
    model = trainer.model
    model.eval()
    batch = PairwiseCollator(trainer.processing_class)(list(dataset))
    with torch.no_grad():
        out, _ = trainer.pair_losses(model, batch)
    return out.margins.mean().item(), out.chosen_rewards.mean().item()


def test_dpo_increases_margin_and_chosen_logratio(tiny: Path, tmp_path: Path) -> None:
    tok, dataset = pairs_dataset(tiny, 8)
    trainer = make_trainer(tiny, tmp_path, dataset, tok, PreferenceConfig(loss="sigmoid", beta=0.1))
    margin0, chosen0 = batch_stats(trainer, dataset)
    # LoRA starts as the identity: policy == reference (adapter disabled), so both are exactly 0
    assert margin0 == pytest.approx(0.0, abs=1e-6) and chosen0 == pytest.approx(0.0, abs=1e-6)
    result = trainer.train()
    margin1, chosen1 = batch_stats(trainer, dataset)
    assert margin1 > margin0 + 0.5
    assert chosen1 > chosen0
    logged = [h for h in trainer.state.log_history if "rewards/margins" in h]
    assert logged and logged[-1]["rewards/margins"] > logged[0]["rewards/margins"]
    assert result.training_loss < 0.69  # below -log σ(0)


def test_reference_is_the_base_model_without_a_copy(tiny: Path, tmp_path: Path) -> None:
    """After training, the reference log-probs (adapter disabled) equal a fresh base model's."""
    from transformers import AutoModelForCausalLM

    tok, dataset = pairs_dataset(tiny, 4)
    trainer = make_trainer(tiny, tmp_path, dataset, tok, PreferenceConfig(), max_steps=3)
    trainer.train()
    batch = PairwiseCollator(tok)(list(dataset))
    ref = trainer.reference_logps(trainer.model, batch)
    base = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    with torch.no_grad():
        expected = trainer._sequence_logps(base, batch)
    torch.testing.assert_close(ref.sum, expected.sum)
    policy = trainer._sequence_logps(trainer.model.eval(), batch)
    assert not torch.allclose(policy.sum, expected.sum)  # the adapter did train and was re-enabled


@pytest.mark.parametrize("loss", ["sigmoid", "orpo"])
def test_update_is_independent_of_gradient_accumulation(tiny: Path, tmp_path: Path, loss: str) -> None:
    """3 pairs in one step: one micro-batch of 3 == micro-batches of 2 and 1 (a plain per-micro-batch
    mean would weigh the lone pair twice)."""
    tok, dataset = pairs_dataset(tiny, 3)
    pref = PreferenceConfig(loss=loss, ftx=0.5)
    params = []
    for bs, ga in ((3, 1), (2, 2)):
        trainer = make_trainer(
            tiny,
            tmp_path / f"{bs}",
            dataset,
            tok,
            pref,
            per_device_train_batch_size=bs,
            gradient_accumulation_steps=ga,
            max_steps=1,
            optim="sgd",
            learning_rate=1.0,
        )
        before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
        trainer.train()
        params.append({n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad})
        assert any(not torch.equal(before[n], params[-1][n]) for n in before)
    for name in params[0]:
        torch.testing.assert_close(params[0][name], params[1][name], atol=1e-6, rtol=1e-5)


def test_full_finetuning_without_reference_is_refused(tiny: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, TrainingArguments

    tok, dataset = pairs_dataset(tiny, 2)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    with pytest.raises(ValueError, match="needs a reference model"):
        PreferenceTrainer(
            model=model,
            args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True),
            train_dataset=dataset,
            data_collator=PairwiseCollator(tok),
            preference=PreferenceConfig(loss="sigmoid"),
        )
    # reference-free losses need none
    PreferenceTrainer(
        model=model,
        args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True),
        train_dataset=dataset,
        data_collator=PairwiseCollator(tok),
        preference=PreferenceConfig(loss="simpo"),
    )
