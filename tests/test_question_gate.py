"""The question gate (index.models.onnx_encoders.QuestionGate): passages embedded in-process yield to questions."""

from __future__ import annotations

import threading

import numpy as np

from index import Retriever, build_index
from index.models import onnx_encoders
from tests.hashencoder import HashEncoder
from index.models.onnx_encoders import QuestionGate
from tests.helpers import seed_folder


class FakeSession:
    """Stands for an ONNX Runtime session: `run` blocks until released or aborted (like terminate does)."""

    def __init__(self, block: bool = False):
        self.calls, self.started = [], threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()

    def run(self, outputs, feeds, options=None):
        self.calls.append(bool(options.terminate))
        self.started.set()
        while not self.release.wait(0.001):
            if options.terminate:
                raise RuntimeError("Exiting due to terminate flag being set to true.")
        if options.terminate:
            raise RuntimeError("Exiting due to terminate flag being set to true.")
        return [np.ones((1, 4), np.float32)]


def _in_thread(fn):
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    worker.start()
    return worker, out


def test_no_batch_starts_while_a_question_is_in_flight():
    gate, session = QuestionGate(max_wait=30), FakeSession()
    with gate.asking():
        assert gate.in_flight == 1 and gate.wait_idle(0.01) is False
        worker, out = _in_thread(lambda: gate.run(session, {}))
        worker.join(0.2)
        assert worker.is_alive() and session.calls == []  # held back, not run
    worker.join(10)
    assert not worker.is_alive() and session.calls == [False] and out["value"][0].shape == (1, 4)
    assert gate.in_flight == 0 and gate.wait_idle(0) is True and gate.aborted == 0


def test_a_question_aborts_the_running_batch_which_then_runs_again():
    gate, session = QuestionGate(max_wait=30), FakeSession(block=True)
    worker, out = _in_thread(lambda: gate.run(session, {}))
    assert session.started.wait(10)
    with gate.asking():  # arrives mid-batch
        worker.join(0.2)
        assert worker.is_alive() and gate.aborted == 1 and len(session.calls) == 1
        session.release.set()
    worker.join(10)
    assert not worker.is_alive() and "value" in out
    assert len(session.calls) == 2 and gate.aborted == 1  # the batch ran again, to its end


def test_embedding_never_starves():
    """A question that never ends: after max_wait a batch starts anyway, and after max_aborts one runs through."""
    gate, session = QuestionGate(max_wait=0.01, max_aborts=2), FakeSession()
    with gate.asking():
        assert gate.run(session, {})[0].shape == (1, 4)
    assert session.calls == [True, True, False] and gate.aborted == 2


def test_questions_register_while_they_are_answered(tmp_path):
    seen = []

    class Recording(HashEncoder):
        def encode_queries(self, texts):
            seen.append(onnx_encoders.QUESTIONS.in_flight)
            return super().encode_queries(texts)

    enc = Recording()
    build_index([seed_folder(tmp_path)], tmp_path / "idx", enc, progress=False)
    r = Retriever.load(tmp_path / "idx", enc)
    try:
        r.search("社区防控要突出什么")
    finally:
        r.close()
    assert seen == [1] and onnx_encoders.QUESTIONS.in_flight == 0


def test_max_batch_tokens_bounds_the_padded_batch():
    lengths = [5, 1, 9, 9, 3, 7, 2, 8, 6, 4, 9, 50]
    batches = onnx_encoders.length_sorted_batches(lengths, 4, max_tokens=20)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert [b.tolist() for b in batches][0] == [11]  # longer than the budget: alone
    for b in batches[1:]:
        assert len(b) <= 4 and len(b) * max(lengths[i] for i in b) <= 20
    assert [len(b) for b in onnx_encoders.length_sorted_batches(lengths, 4)] == [4, 4, 4]
