"""Training on transformers' Trainer: workflows per stage, token accounting, plots, run summaries."""
