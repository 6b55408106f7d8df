"""vla: a Vision-Language-Action policy library (tokenizers, model, data, training, inference)."""

__version__ = "0.1.0"
