"""Config groups: the fine-tuning method, preference/RL objectives, and the training loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SchedulerName = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
]


@dataclass(frozen=True)
class FinetuneConfig:
    """What is trained: the stage, and which parameters (LoRA, freeze, full)."""

    stage: Literal["pt", "sft", "rm", "ppo", "dpo", "kto", "grpo"] = "sft"
    """Training stage: pre-training, supervised fine-tuning, reward modelling, PPO, DPO, KTO or GRPO."""
    finetuning_type: Literal["lora", "freeze", "full"] = "lora"
    """Which parameters are trained: LoRA adapters, the last/first layers (freeze), or all of them."""
    freeze_trainable_layers: int = 2
    """Freeze tuning: number of trainable layers; positive counts from the last layer, negative from the first."""
    freeze_trainable_modules: tuple[str, ...] = ("all",)
    """Freeze tuning: module names trained inside the trainable layers (all: every module)."""
    freeze_extra_modules: tuple[str, ...] = ()
    """Freeze tuning: modules outside the hidden layers that are trained too (e.g. embed_tokens)."""
    lora_rank: int = 8
    """LoRA: rank of the low-rank update matrices."""
    lora_alpha: int | None = None
    """LoRA: scaling numerator (None: twice lora_rank)."""
    lora_dropout: float = 0.0
    """LoRA: dropout applied to the adapter input."""
    lora_target: tuple[str, ...] = ("all",)
    """LoRA: names of the linear modules that get adapters (all: every linear layer but the output head)."""
    additional_target: tuple[str, ...] = ()
    """LoRA: modules trained fully and saved with the adapter (e.g. embed_tokens, lm_head)."""
    use_dora: bool = False
    """LoRA: use weight-decomposed low-rank adaptation (DoRA)."""
    use_rslora: bool = False
    """LoRA: use rank-stabilised scaling (alpha / sqrt(rank))."""
    pissa_init: bool = False
    """LoRA: initialise the adapter from the principal singular vectors of the weights (PiSSA)."""
    pissa_iter: int = 16
    """LoRA: iterations of fast SVD for PiSSA (-1: exact SVD)."""
    pissa_convert: bool = False
    """LoRA: convert a PiSSA adapter to an ordinary LoRA adapter when saving."""
    loraplus_lr_ratio: float | None = None
    """LoRA+: learning-rate ratio of the B matrices to the A matrices (None: off)."""
    loraplus_lr_embedding: float = 1e-6
    """LoRA+: learning rate of embedding adapters."""
    create_new_adapter: bool = False
    """Create a new adapter on top of the loaded one instead of training it further."""


@dataclass(frozen=True)
class RLHFConfig:
    """Preference optimisation and reinforcement learning (rm, dpo, kto, ppo, grpo stages)."""

    pref_beta: float = 0.1
    """Beta of the preference loss (strength of the pull towards the reference model)."""
    pref_ftx: float = 0.0
    """Weight of an added supervised (SFT) loss on the chosen responses."""
    pref_loss: Literal["sigmoid", "hinge", "ipo", "robust", "kto_pair", "orpo", "simpo", "cpo"] = "sigmoid"
    """Preference loss for the dpo stage: sigmoid (DPO), hinge, ipo, robust (robust DPO, with
    dpo_label_smoothing), orpo, simpo, cpo (no reference model for orpo, simpo, cpo)."""
    dpo_label_smoothing: float = 0.0
    """Robust DPO: assumed fraction of flipped preference labels, in [0, 0.5]."""
    kto_chosen_weight: float = 1.0
    """KTO: weight of the desirable examples' loss."""
    kto_rejected_weight: float = 1.0
    """KTO: weight of the undesirable examples' loss."""
    simpo_gamma: float = 0.5
    """SimPO: target reward margin."""
    cpo_alpha: float = 1.0
    """CPO: weight of the negative log-likelihood term on the chosen responses."""
    ref_model: str | None = None
    """Reference model for DPO/KTO/PPO (None: the initial policy)."""
    precompute_ref_log_probs: bool = False
    """DPO: compute the reference log-probs of every pair once before training (and free an explicit
    reference model), instead of one reference forward pass per step."""
    ref_model_adapters: tuple[str, ...] = ()
    """Adapters loaded on the reference model."""
    reward_model: str | None = None
    """Reward model for PPO: a stage rm output_dir (or Hub id), or the URL of a /v1/score server."""
    reward_model_type: Literal["lora", "full", "api"] = "lora"
    """How PPO uses reward_model: lora, a LoRA reward adapter loaded onto the policy's own base (one
    copy of the weights; needs finetuning_type lora); full, a separate model; api, a /v1/score URL."""
    ppo_epochs: int = 4
    """PPO: optimisation epochs per batch of rollouts."""
    ppo_target: float = 6.0
    """PPO: target KL for the adaptive KL controller."""
    ppo_whiten_rewards: bool = False
    """PPO: whiten rewards before computing advantages."""
    grpo_num_generations: int = 8
    """GRPO: completions sampled per prompt."""
    grpo_reward_funcs: tuple[str, ...] = ()
    """GRPO/PPO: reward functions (builtins such as exact_match, contains, regex_match:RE, format,
    length; or `module.path:function` / `file.py:function`), comma-separated."""
    grpo_reward_weights: tuple[float, ...] = ()
    """GRPO/PPO: weight of each reward function in the summed reward (empty: all 1)."""
    grpo_beta: float = 0.04
    """GRPO: weight of the per-token KL penalty to the reference model (0: no reference model)."""
    grpo_epsilon: float = 0.2
    """GRPO: lower clipping range of the probability ratio (1 - epsilon)."""
    grpo_epsilon_high: float | None = None
    """GRPO: upper clipping range (1 + epsilon_high; None: grpo_epsilon, DAPO uses 0.28)."""
    grpo_iterations: int = 1
    """GRPO: optimisation passes over each batch of sampled completions (mu of the paper)."""
    grpo_loss_type: Literal["grpo", "bnpo", "dr_grpo"] = "grpo"
    """GRPO: how per-token losses are averaged: per sequence then batch (grpo), over all tokens
    (bnpo), or over batch x max_completion_length (dr_grpo)."""
    grpo_scale_rewards: bool = True
    """GRPO: divide group-centred rewards by the group's standard deviation (False: Dr. GRPO)."""
    max_completion_length: int = 128
    """GRPO/PPO: most tokens sampled per completion."""
    rl_temperature: float = 1.0
    """GRPO/PPO: sampling temperature of the rollouts."""
    use_vllm: bool = False
    """GRPO/PPO: generate rollouts with vLLM (needs tunesmith[vllm] and a CUDA GPU)."""
    ppo_kl_coef: float = 0.2
    """PPO: initial coefficient of the KL penalty to the reference model in the reward."""
    ppo_adaptive_kl: bool = True
    """PPO: adapt the KL coefficient towards ppo_target (Ziegler et al. 2019)."""
    ppo_cliprange: float = 0.2
    """PPO: clipping range of the policy probability ratio."""
    ppo_cliprange_value: float = 0.2
    """PPO: clipping range of the value function around the rollout values."""
    ppo_vf_coef: float = 0.1
    """PPO: weight of the value loss."""
    ppo_gamma: float = 1.0
    """PPO: discount factor of GAE."""
    ppo_lam: float = 0.95
    """PPO: lambda of GAE (bias/variance trade-off of the advantages)."""


@dataclass(frozen=True)
class TrainConfig:
    """The training loop. Defaults follow transformers' TrainingArguments; any other
    TrainingArguments field is accepted too and passed through."""

    do_train: bool = False
    """Run training."""
    do_eval: bool = False
    """Run evaluation on the evaluation set."""
    do_predict: bool = False
    """Run prediction on the evaluation set and save the outputs."""
    output_dir: str | None = None
    """Folder for checkpoints, logs, predictions and the final model."""
    overwrite_output_dir: bool = False
    """Allow writing into an output_dir that already holds a run."""
    per_device_train_batch_size: int = 8
    """Training batch size per device."""
    per_device_eval_batch_size: int = 8
    """Evaluation batch size per device."""
    gradient_accumulation_steps: int = 1
    """Batches whose gradients are accumulated before each optimiser step."""
    learning_rate: float = 5e-5
    """Peak learning rate."""
    num_train_epochs: float = 3.0
    """Number of passes over the training data (ignored when max_steps > 0)."""
    max_steps: int = -1
    """Total optimiser steps; overrides num_train_epochs when positive."""
    lr_scheduler_type: SchedulerName = "linear"
    """Learning-rate schedule after warmup."""
    warmup_ratio: float = 0.0
    """Fraction of the total steps spent warming up the learning rate (used when warmup_steps is 0)."""
    warmup_steps: int = 0
    """Steps spent warming up the learning rate (takes precedence over warmup_ratio)."""
    weight_decay: float = 0.0
    """Decoupled weight decay of AdamW."""
    bf16: bool = False
    """Train in bfloat16 mixed precision."""
    fp16: bool = False
    """Train in float16 mixed precision."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass to save memory."""
    logging_steps: int | float = 500
    """Log every this many steps (a float < 1: fraction of the total steps)."""
    save_steps: int | float = 500
    """Save a checkpoint every this many steps (a float < 1: fraction of the total steps)."""
    save_total_limit: int | None = None
    """Keep at most this many checkpoints (older ones are deleted)."""
    save_only_model: bool = False
    """Save only the model in checkpoints, not optimiser/scheduler state (cannot resume from them)."""
    plot_loss: bool = False
    """Save plots of the training and evaluation loss in output_dir."""
    report_to: tuple[str, ...] = ("none",)
    """Experiment trackers to report to (none, all, tensorboard, wandb, mlflow, ...), comma-separated."""
    seed: int = 42
    """Random seed for initialisation, shuffling and dropout."""
    resume_from_checkpoint: bool | str | None = None
    """Checkpoint folder to resume training from (true: the last checkpoint-N in output_dir)."""
    ddp_timeout: int = 1800
    """Timeout in seconds of distributed collective operations."""
    eval_strategy: Literal["no", "steps", "epoch"] = "no"
    """When to evaluate during training."""
    eval_steps: int | float | None = None
    """Evaluate every this many steps when eval_strategy is steps (None: logging_steps)."""
    predict_with_generate: bool = False
    """At evaluation/prediction, generate text (and compute generation metrics) instead of only the loss."""
