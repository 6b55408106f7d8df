"""vla: a Vision-Language-Action policy library (tokenizers, model, data, training, inference).

``import vla`` registers the model with the transformers Auto classes (model type ``vla``):
``AutoConfig.from_pretrained`` / ``AutoModel.from_pretrained`` load a checkpoint folder. The
registration is deferred until transformers is used, so importing vla stays light
(``vla.registration``).
"""

__version__ = "0.1.0"

from vla import registration as _registration  # noqa: E402  (light: imports no torch)

_registration.install()
