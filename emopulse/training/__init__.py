"""Learning from data: readers, feature cache, trained heads, evaluation, export into models/.

Modules: ``data`` (readers for MELD layouts and manifests), ``textmodel`` (the fine-tuned MiniLM
text classifier served as text_classifier v2), ``train_text`` (its training run), ``features``
(cached per-modality features with the services' own preprocessing), ``fusion_head`` (trainable
fusion head served as fusion v2), ``evaluate`` (metrics, confusion matrices, reports), ``export``
(writes new model versions + model cards), ``cli`` (``train`` / ``evaluate`` / ``export``).
"""
