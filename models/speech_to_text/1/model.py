"""Triton Python model: Whisper speech-to-text with word timestamps (faster-whisper, CPU int8).

AUDIO float32 [-1] (16 kHz mono speech region), optional LANGUAGE ("" = detect), optional
SHORT_CONTEXT (true: encode only the audio given plus 2 s, not Whisper's whole 30 s window; live
utterances use it: about 3.5x faster on a 3 s utterance) -> SEGMENTS: one JSON document {"language", "language_probability", "segments": [{"start", "end",
"text", "words": [{"word", "start", "end", "probability"}]}]}.
"""

import os
import sys
from pathlib import Path

# tritonserver's Python stub runs an isolated interpreter that ignores PYTHONPATH: add its entries
# and the repo root (models/<name>/1/model.py -> three levels up) to sys.path ourselves.
for _p in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), str(Path(__file__).resolve().parents[3])]:
    if _p and _p not in sys.path:
        sys.path.append(_p)

import json

import numpy as np
import triton_python_backend_utils as pb_utils

from emopulse.labels import SAMPLE_RATE
from emopulse.processing.device import instance_device
from emopulse.weights import sha256_file, whisper_model_dir

MIN_SAMPLES = SAMPLE_RATE // 10  # under 100 ms: nothing to transcribe
CONTEXT_MARGIN_S = 2.0  # audio context beyond the speech: less than this cost words in our tests
FRAMES_PER_S = 100      # Whisper's mel frames
TOKENS_PER_S = 12       # well above fast speech (about 4 words, 6 tokens a second)


def _short_context(request) -> bool:
    tensor = pb_utils.get_input_tensor_by_name(request, "SHORT_CONTEXT")
    return tensor is not None and bool(tensor.as_numpy().reshape(-1)[:1].any())


def _language(request):
    tensor = pb_utils.get_input_tensor_by_name(request, "LANGUAGE")
    if tensor is None:
        return None
    values = tensor.as_numpy().reshape(-1)
    if values.size == 0:
        return None
    value = values[0]
    value = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return value.strip() or None


class TritonPythonModel:
    def initialize(self, args):
        from faster_whisper import WhisperModel

        class ContextWhisper(WhisperModel):
            """Whisper whose encoder may see less than its 30 s window (whisper.cpp's "audio context"):
            the encoder's cost grows with its input, and a short utterance padded to 30 s pays for 30 s."""
            context_frames = None

            def encode(self, features):
                return super().encode(features[..., : self.context_frames] if self.context_frames else features)

        self.logger = pb_utils.Logger
        name = os.environ.get("EMOPULSE_WHISPER_MODEL", "base")
        model_dir = whisper_model_dir(name)
        threads = int(os.environ.get("EMOPULSE_WHISPER_THREADS") or 2)
        # Greedy decoding (beam 1) by default: on 2 CPU cores beam 5 costs ~2x for little gain on
        # short utterances.
        self.beam_size = int(os.environ.get("EMOPULSE_WHISPER_BEAM") or 1)
        device = instance_device(args)
        # int8 on CPU; float16 on a GPU instance (KIND_GPU in config.pbtxt, as the Triton image sets).
        kind, _, index = device.partition(":")
        self.model = ContextWhisper(str(model_dir), device=kind, device_index=int(index or 0),
                                  compute_type="int8" if kind == "cpu" else "float16", cpu_threads=threads)
        self.multilingual = self.model.model.is_multilingual
        sha = sha256_file(model_dir / "model.bin")
        self.logger.log_info(
            f"speech_to_text: loaded Whisper {name!r} from {model_dir} (model.bin sha256 {sha}), "
            f"on {device}, {threads} threads, beam {self.beam_size}"
        )

    def _transcribe(self, audio, language, short_context=False):
        if audio.size < MIN_SAMPLES or not np.isfinite(audio).all() or not np.abs(audio).max() > 0:
            return {"language": language or "", "language_probability": 0.0, "segments": []}
        if not self.multilingual:
            language = "en"
        seconds = audio.size / SAMPLE_RATE
        live = {}
        if short_context:
            # in whole seconds, so requests of similar length share the encoder's shapes
            self.model.context_frames = min(3000, int(np.ceil(seconds + CONTEXT_MARGIN_S)) * FRAMES_PER_S)
            # A live caller waits: no retries at higher temperatures, and no more tokens than anyone
            # speaks in that time (a noise that sets Whisper repeating itself costs ~0.1 s, not 15 s).
            live = {"temperature": 0.0, "max_new_tokens": int(TOKENS_PER_S * seconds) + 16}
        else:
            self.model.context_frames = None
        segments, info = self.model.transcribe(
            audio,
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            **live,
        )
        out = []
        for seg in segments:  # (a generator: the model runs as it is read)
            out.append({
                "start": round(float(seg.start), 3),
                "end": round(float(seg.end), 3),
                "text": seg.text.strip(),
                "words": [
                    {"word": w.word, "start": round(float(w.start), 3),
                     "end": round(float(w.end), 3), "probability": round(float(w.probability), 4)}
                    for w in (seg.words or [])
                ],
            })
        return {"language": info.language, "language_probability": float(info.language_probability),
                "segments": out}

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()
                audio = np.ascontiguousarray(audio.reshape(-1), dtype=np.float32)
                doc = self._transcribe(audio, _language(request), _short_context(request))
                data = np.array([json.dumps(doc, ensure_ascii=False).encode("utf-8")], dtype=np.object_)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("SEGMENTS", data)]))
            except Exception as exc:  # one bad request must not take the model down
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"speech_to_text: {type(exc).__name__}: {exc}")))
        return responses

    def finalize(self):
        self.model = None
