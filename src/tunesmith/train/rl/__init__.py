"""Reinforcement learning stages: GRPO and PPO on transformers generation.

Pure pieces (no model): :mod:`~tunesmith.train.rl.advantages` (group-normalised advantages, GAE),
:mod:`~tunesmith.train.rl.losses` (GRPO surrogate with k3 KL, PPO policy and value losses),
:mod:`~tunesmith.train.rl.rewards` (reward function registry). Loops: :mod:`~tunesmith.train.rl.grpo`,
:mod:`~tunesmith.train.rl.ppo`; the stage workflow is :func:`tunesmith.train.rl_workflow.run_rl`.
Importing this package imports nothing heavy.
"""

from tunesmith.train.rl.rewards import BUILTIN_REWARDS, RewardError, load_reward_func, load_reward_funcs

__all__ = ["BUILTIN_REWARDS", "RewardError", "load_reward_func", "load_reward_funcs"]
