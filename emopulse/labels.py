"""The label sets every model, event and result uses, in this order."""

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
SENTIMENTS = ("positive", "neutral", "negative")
MODALITIES = ("text", "audio", "vision")

SAMPLE_RATE = 16_000  # Hz, mono: what Whisper and every audio feature expect
