"""The trained text classifier (text_classifier v2): MiniLM-L6 fine-tuned on MELD, with context.

Input: the utterance and, optionally, the previous utterance(s) of the same conversation, encoded
as a BERT sentence pair ``[CLS] utterance [SEP] context [SEP]`` (when too long, the context loses
its oldest words first). The embedding is the mean of the encoder's last hidden states over the
*utterance* tokens only: the context informs the utterance's representation through attention,
but the 384-d embedding stays "this utterance". Two linear heads (emotion 7, sentiment 3, in
emopulse.labels order) sit on that pooled vector; EMBEDDING is the L2-normalised pooled vector.

Training drops the context for a share of examples, so the model also works without context.
Used by ``serving.TextClassifierModel`` (models/text_classifier/2/model.py) and by training and
evaluation (pure torch + transformers). ``CONTEXT`` for the served model: previous utterances,
oldest first, joined by a space (``context_text``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from emopulse.labels import EMOTIONS, SENTIMENTS

MAX_TOKENS = 128
CONTEXT_SEPARATOR = " "
WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"


class TextClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(dropout)
        self.emotion = nn.Linear(hidden, len(EMOTIONS))
        self.sentiment = nn.Linear(hidden, len(SENTIMENTS))

    def pooled(self, input_ids, attention_mask, token_type_ids):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        # utterance tokens: segment A ([CLS] utterance [SEP]) and not padding
        mask = (attention_mask * (token_type_ids == 0)).unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(self, input_ids, attention_mask, token_type_ids):
        pooled = self.pooled(input_ids, attention_mask, token_type_ids)
        h = self.dropout(pooled)
        return pooled, self.emotion(h), self.sentiment(h)


def context_text(context: Sequence[str] | str | None) -> str:
    if context is None:
        return ""
    if isinstance(context, str):
        return context.strip()
    return CONTEXT_SEPARATOR.join(c.strip() for c in context if c and c.strip())


def tokenize(tokenizer, texts: Sequence[str], contexts: Sequence | None = None,
             max_tokens: int = MAX_TOKENS) -> dict[str, torch.Tensor]:
    """``[CLS] utterance [SEP]`` (+ ``context [SEP]`` as segment B when there is context).

    The utterance keeps its start (up to ``max_tokens - 2``); the context fills what is left and
    keeps its *end* (the most recent words). A batch may mix examples with and without context.
    """
    texts = [t if t and t.strip() else "" for t in texts]
    contexts = [context_text(c) for c in (contexts if contexts is not None else [""] * len(texts))]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    text_ids = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    ctx_ids = tokenizer([c or "" for c in contexts], add_special_tokens=False)["input_ids"] if texts else []
    rows = []
    for t, c in zip(text_ids, ctx_ids):
        t = t[:max_tokens - 2]
        ids, types = [cls, *t, sep], [0] * (len(t) + 2)
        room = max_tokens - len(ids) - 1
        if c and room > 0:
            c = c[-room:]
            ids += [*c, sep]
            types += [1] * (len(c) + 1)
        rows.append((ids, types))
    n = max((len(ids) for ids, _ in rows), default=2)
    input_ids = torch.zeros((len(rows), n), dtype=torch.long)
    token_type = torch.zeros((len(rows), n), dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, (ids, types) in enumerate(rows):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        token_type[i, :len(types)] = torch.tensor(types)
        mask[i, :len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_type}


def build(encoder_dir: str | Path, dropout: float = 0.1):
    """(tokenizer, TextClassifier) with the pretrained encoder from ``encoder_dir`` (heads random)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), local_files_only=True)
    encoder = AutoModel.from_pretrained(str(encoder_dir), local_files_only=True)
    return tokenizer, TextClassifier(encoder, dropout)


def save(model: TextClassifier, out_dir: str | Path, meta: dict, dtype=torch.float16) -> Path:
    """Weights (fp16 safetensors) + meta.json into ``out_dir``."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out_dir / WEIGHTS_FILE


def load(weights_dir: str | Path, encoder_dir: str | Path):
    """(tokenizer, TextClassifier in eval mode, float32, meta) from a saved version directory.

    The tokenizer and architecture come from the pretrained encoder package (``encoder_dir``);
    every weight comes from ``weights_dir``.
    """
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    weights_dir = Path(weights_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir), local_files_only=True)
    config = AutoConfig.from_pretrained(str(encoder_dir), local_files_only=True)
    model = TextClassifier(AutoModel.from_config(config))
    state = {k: v.float() for k, v in load_file(str(weights_dir / WEIGHTS_FILE)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"text classifier weights do not match: missing {missing}, unexpected {unexpected}")
    meta = json.loads((weights_dir / META_FILE).read_text())
    return tokenizer, model.eval(), meta


@torch.inference_mode()
def predict(tokenizer, model: TextClassifier, texts: Sequence[str], contexts: Sequence | None = None,
            batch_size: int = 64, max_tokens: int = MAX_TOKENS,
            device: str = "cpu") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embedding [N,384] L2-normalised, emotion probs [N,7], sentiment probs [N,3]) float32.

    ``model`` must already be on ``device``."""
    embs, emos, sens = [], [], []
    contexts = list(contexts) if contexts is not None else [""] * len(texts)
    for i in range(0, len(texts), batch_size):
        batch = tokenize(tokenizer, texts[i:i + batch_size], contexts[i:i + batch_size], max_tokens)
        pooled, emo, sen = model(**{k: v.to(device) for k, v in batch.items()})
        embs.append(nn.functional.normalize(pooled, p=2, dim=1).float().cpu().numpy())
        emos.append(torch.softmax(emo.float(), -1).cpu().numpy())
        sens.append(torch.softmax(sen.float(), -1).cpu().numpy())
    if not embs:
        hidden = model.encoder.config.hidden_size
        return (np.zeros((0, hidden), np.float32), np.zeros((0, len(EMOTIONS)), np.float32),
                np.zeros((0, len(SENTIMENTS)), np.float32))
    return (np.concatenate(embs).astype(np.float32), np.concatenate(emos).astype(np.float32),
            np.concatenate(sens).astype(np.float32))


CLASSIFIER = ("MiniLM-L6 fine-tuned on MELD text (emotion + sentiment heads, previous utterances as "
              "optional context)")
