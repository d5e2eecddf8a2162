"""tunesmith: adapt any Hugging Face language or vision-language model and fine-tune it end to end."""

__version__ = "0.1.0"
