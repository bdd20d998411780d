"""Learning from data: readers, feature cache, trained heads, evaluation, export into models/.

- ``data``: readers (MELD as distributed, nkululeko's meld.csv, CSV/JSONL manifests) -> ``Example``
  lists with dialogue context; missing/undecodable clips are counted in a ``ReadReport``.
- ``textmodel`` / ``train_text``: the MiniLM-L6 text classifier fine-tuned on MELD (served as
  text_classifier v2 through ``serving.TextClassifierModel``).
- ``features``: per-modality features with the services' own preprocessing, cached on disk.
- ``fusion_head`` / ``train_fusion``: the trainable fusion head (``serving.FusionHeadModel``).
- ``metrics`` / ``evaluate``: scikit-learn metrics, majority baseline, confusion-matrix plots,
  JSON + Markdown reports.
- ``export`` / ``cards``: new model versions in models/ with model cards (old versions stay).
- ``cli``: ``add_commands(subparsers)`` adds ``train``, ``evaluate``, ``export`` to ``emopulse``.
"""
