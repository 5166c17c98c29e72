# The bot with its model and the index of seeds/ baked in. Token at run time:
#   docker build -t newsbot .
#   docker run --rm -e TELEGRAM_BOT_TOKEN=123:abc newsbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    NEWSBOT_CACHE=/app/var/cache HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

RUN useradd --create-home --uid 10001 newsbot
WORKDIR /app

# CPU-only torch first, from PyTorch's CPU index: the default wheel pulls CUDA (several GB).
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY index ./index
COPY bot ./bot
RUN pip install .

COPY config.toml ./
COPY seeds ./seeds
# Convert the packaged model and build the index of seeds/ at image build time, so start-up is fast.
RUN python -m index build && chown -R newsbot:newsbot /app/var

USER newsbot
CMD ["python", "-m", "bot"]
