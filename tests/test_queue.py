"""The generation queue: FIFO, one worker, failures isolated, cancellation of waiting jobs."""
from __future__ import annotations

import threading

import pytest

from sdwebui.services.queue import GenerationQueue
from sdwebui.services.job_state import State


@pytest.fixture
def queue():
    q = GenerationQueue(State())
    q.start()
    yield q
    q.stop()


def test_fifo_order_and_single_worker(queue):
    gate = threading.Event()
    order, threads = [], set()

    def job(i):
        def run():
            if i == 0:
                gate.wait(10)
            order.append(i)
            threads.add(threading.current_thread().name)
            return i * i
        return run

    jobs = [queue.submit(job(i), name=f"j{i}") for i in range(10)]
    assert queue.pending_ids()[-1] == jobs[-1].task_id
    gate.set()
    assert [j.future.result(10) for j in jobs] == [i * i for i in range(10)]
    assert order == list(range(10))
    assert threads == {"generation-queue"}


def test_failure_does_not_stop_the_worker(queue):
    def boom():
        raise RuntimeError("bad job")
    bad = queue.submit(boom)
    good = queue.submit(lambda: "ok")
    with pytest.raises(RuntimeError, match="bad job"):
        bad.future.result(10)
    assert good.future.result(10) == "ok"


def test_state_reflects_running_job_and_is_reset(queue):
    seen = {}
    gate, started = threading.Event(), threading.Event()

    def run():
        seen["job"], seen["task"] = queue.state.job, queue.state.task_id
        started.set()
        gate.wait(10)

    job = queue.submit(run, name="txt2img", task_id="task(txt2img-ABC)")
    assert started.wait(10)
    assert queue.current_task == "task(txt2img-ABC)"
    gate.set()
    job.future.result(10)
    assert seen == {"job": "txt2img", "task": "task(txt2img-ABC)"}
    assert queue.state.job == "" and queue.state.job_count == 0


def test_cancel_waiting_job(queue):
    gate = threading.Event()
    ran = []
    first = queue.submit(lambda: gate.wait(10))
    second = queue.submit(lambda: ran.append(1))
    assert queue.cancel(second.task_id)
    gate.set()
    first.future.result(10)
    assert second.future.cancelled() and ran == []
    assert queue.submit(lambda: 5).future.result(10) == 5


def test_run_inline_from_worker_does_not_deadlock(queue):
    assert queue.run(lambda: queue.run(lambda: 3)) == 3


class BackgroundWork:
    """Idle work for the queue: a list of units, handed out one at a time, recording what ran."""

    def __init__(self, units):
        self.units = list(units)
        self.done = threading.Event()

    def __call__(self):
        if not self.units:
            self.done.set()
            return None
        return self.units.pop(0)


def test_idle_work_runs_after_the_jobs_one_unit_at_a_time_and_never_before_a_waiting_job():
    order = []
    state = State()
    seen_state = []

    def unit(name):
        def run():
            seen_state.append(state.job)
            order.append(name)
        return run

    work = BackgroundWork([unit("idle 1"), unit("idle 2")])
    q = GenerationQueue(state, idle_work=work, idle_delay=0)
    jobs = [q.submit(lambda i=i: order.append(f"job {i}"), name=f"j{i}") for i in range(3)]   # waiting at start
    q.start()
    try:
        [j.future.result(10) for j in jobs]
        assert work.done.wait(30), "the idle work ran out"
        assert order == ["job 0", "job 1", "job 2", "idle 1", "idle 2"]
        assert seen_state == ["background", "background"]     # /progress shows the worker busy meanwhile
        assert state.job == ""
        # a job submitted after idle work is done still runs, and idle work is asked for again after it
        work.units.append(unit("idle 3"))
        work.done.clear()
        assert q.submit(lambda: "ok").future.result(10) == "ok"
        assert work.done.wait(30) and order[-1] == "idle 3"
    finally:
        q.stop()


def test_failing_idle_work_does_not_stop_the_worker():
    def broken():
        raise RuntimeError("simulated")

    work = BackgroundWork([broken])
    q = GenerationQueue(State(), idle_work=work, idle_delay=0)
    q.start()
    try:
        q.poke()
        assert q.submit(lambda: 1).future.result(10) == 1
        assert q.submit(lambda: 2).future.result(10) == 2
        assert work.done.wait(30)
    finally:
        q.stop()
