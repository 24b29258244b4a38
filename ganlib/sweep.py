"""Sweeps: a grid of settings, the same `config.seeds` seeds in every cell, in batched passes.

A sweep is planned before anything trains: every cell becomes a Config of its own (so a bad value
anywhere in the grid is a one-line ValueError up front), and the cells are grouped into passes.
A pass is one batched `Trainer`: the cells that differ only in learning rates (`lr`, `d_lr`,
`g_lr`: one rate per run) train together, as many as MAX_SEEDS runs and the memory budget allow;
every other axis (d_steps, features, target, ...) gives passes of its own.

The passes run one after another in this process (the default), or as tasks on Dask
(`dask.distributed`, the optional extra `pip install -e ".[dask]"`): `workers=N` starts a local
cluster of N single-threaded worker processes, `scheduler=ADDRESS` uses a running cluster. A task
is a whole pass, the same batch of runs the serial sweep trains, so the numbers are the same
number for number: a run's rounding depends on how many runs share its batched matrix products,
and splitting a pass differently would change the last bits (then, over thousands of rounds,
more). A pass holds every seed of its cells, so each task lasts seconds to hours, far above
Dask's per-task overhead (about a millisecond).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import dataclasses
import importlib
import itertools
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from ganlib.config import MAX_SEEDS, Config
from ganlib.metrics import summarize_runs
from ganlib.train import MEMORY_BUDGET, Trainer, check_memory, estimate_memory, make_config_target, resolve_device

# Fields a sweep can vary inside one batched pass (a per-run learning rate); others give passes of their own.
BATCHED_SWEEP_FIELDS = ("d_lr", "g_lr", "lr")
# The most cells one sweep trains: at the default's few seconds a cell, about a day of one core.
MAX_CELLS = 20_000
# Values per run that a sweep measures at the end (the serial sweep has always used 4,000).
N_MEASURED = 4000
DASK_EXTRA = 'pip install -e ".[dask]"'
# Seconds to wait for a scheduler to answer and for its first worker to join.
CONNECT_TIMEOUT = 20
# Seconds a running sweep waits on a cluster with no worker before it gives up, and how often it looks.
NO_WORKER_TIMEOUT = 60
# The transports distributed speaks; anything else (http://, a dashboard's address) is refused in one line.
DASK_SCHEMES = ("tcp", "tls", "inproc", "ws", "wss")
WATCH_POLL = 0.05
# Resident memory of a Dask worker process beside its passes: distributed, torch and ganlib imported.
# Measured 244 MiB idle and up to 318 MiB after a pass (dask 2026.8, torch 2.13, Linux x86-64); a fifth more.
WORKER_BASE_BYTES = 384 * 2**20

# glibc's mallopt(3) parameter M_MMAP_THRESHOLD, and the most its dynamic threshold grows to on 64-bit systems.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 2**20

Progress = Callable[[int, int], None]


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`["lr=1e-4,1e-3", "d_steps=1,2"]` as {"lr": [1e-4, 1e-3], "d_steps": [1, 2]}, each value of the field's type.

    `lr` sets d_lr and g_lr together. Tuples, booleans, seed and seeds cannot be swept (every cell
    trains the same seeds); a bad item is a one-line ValueError.
    """
    fields = {f.name: f for f in dataclasses.fields(Config)}
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, _, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in fields and name != "lr":
            raise ValueError(f"--grid {item!r}: unknown field {name!r}")
        kind = float if name == "lr" else type(fields[name].default)
        if name in grid:
            # A second --grid for one field replaced the first: a sweep of other values than asked for.
            raise ValueError(f"--grid {item!r}: {name} is given twice; give all its values in one --grid")
        if kind in (tuple, bool) or name in ("seeds", "seed"):
            # Every cell trains the same config.seeds seeds, so seeds are not an axis.
            raise ValueError(f"--grid {item!r}: {name} cannot be swept")
        try:
            grid[name] = [kind(v) for v in values.split(",") if v.strip()]
        except ValueError as exc:
            raise ValueError(f"--grid {item!r}: values must be {kind.__name__}") from exc
        if not grid[name]:
            raise ValueError(f"--grid {item!r}: give NAME=V1,V2,...")
        # Compared as values (1e-3 is 0.001): a repeat would train two cells of one setting.
        repeated = next((v for i, v in enumerate(grid[name]) if v in grid[name][:i]), None)
        if repeated is not None:
            raise ValueError(f"--grid {item!r}: the value {repeated!r} twice; give each value once")
    return grid


@dataclass(frozen=True)
class SweepPass:
    """One batched Trainer of a sweep: the cells that share every field but their learning rates.

    `loop` holds the values of the looped fields, `config` is the sweep's config with them applied
    (its `seeds` runs per cell), `batched` names the learning-rate axes and `combos` lists this
    pass's combinations of their values, one cell each.
    """

    loop: dict[str, Any]
    config: Config
    batched: tuple[str, ...]
    combos: tuple[tuple[Any, ...], ...]

    @property
    def cells(self) -> int:
        """Cells this pass trains."""
        return len(self.combos)

    @property
    def runs(self) -> int:
        """Runs in the batched Trainer: the cells times config.seeds."""
        return self.cells * self.config.seeds

    @property
    def peak_memory(self) -> int:
        """The Trainer's peak memory in bytes, by `estimate_memory`."""
        return estimate_memory(self.config.replace(seeds=self.runs)).peak

    @property
    def cost(self) -> int:
        """Network updates it makes (runs x rounds x D and G steps): what its time is roughly proportional to."""
        c = self.config
        return self.runs * c.rounds * (c.d_steps + c.g_steps)

    def rates(self, combo: tuple[Any, ...]) -> dict[str, float]:
        """d_lr and g_lr of one cell: lr sets both, d_lr / g_lr one each (`plan_sweep` refuses lr with either)."""
        cell = dict(zip(self.batched, combo))
        base = self.config
        return {"d_lr": cell.get("d_lr", cell.get("lr", base.d_lr)),
                "g_lr": cell.get("g_lr", cell.get("lr", base.g_lr))}


def _largest_pass(base: Config, n_combos: int) -> int:
    """How many learning-rate combinations (base.seeds runs each) one batched pass can train.

    At most MAX_SEEDS runs and at most MEMORY_BUDGET by `estimate_memory`, which grows with the
    number of runs; a single combination over the budget raises the one-line ValueError.
    """
    check_memory(base, MEMORY_BUDGET)
    lo, hi = 1, max(1, min(n_combos, MAX_SEEDS // base.seeds))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_memory(base.replace(seeds=mid * base.seeds)).peak <= MEMORY_BUDGET:
            lo = mid
        else:
            hi = mid - 1
    return lo


def plan_sweep(config: Config, grid: dict[str, list[Any]]) -> list[SweepPass]:
    """The passes of a sweep, every cell validated and every pass sized before anything trains.

    For each combination of the looped fields (in the grid's order), its learning-rate
    combinations split into passes of balanced size that fit MAX_SEEDS runs and the memory budget.
    Concatenating the passes' cells gives the grid's cells in the order of `itertools.product`
    over the looped fields, then the batched ones.
    """
    if {"seed", "seeds"} & set(grid):
        raise ValueError("seed and seeds cannot be swept: every cell trains the same config.seeds seeds")
    if "lr" in grid and {"d_lr", "g_lr"} & set(grid):
        # d_lr and g_lr would override lr's values: cells that differ only in lr would train one setting twice.
        other = " and ".join(k for k in ("d_lr", "g_lr") if k in grid)
        raise ValueError(f"the grid axis lr sets both learning rates: sweep lr or {other}, not both")
    cells = math.prod(len(v) for v in grid.values())
    if cells > MAX_CELLS:
        # Checked before any cell is built: planning 1.25e8 cells took a minute and then ran out of memory.
        raise ValueError(f"this grid has {cells:,} cells, more than the {MAX_CELLS:,} one sweep may train "
                         f"(ganlib.sweep.MAX_CELLS); split it into several sweeps")
    batched = tuple(k for k in grid if k in BATCHED_SWEEP_FIELDS)
    looped = {k: v for k, v in grid.items() if k not in BATCHED_SWEEP_FIELDS}
    combos = list(itertools.product(*(grid[k] for k in batched)))
    plan = []
    for loop_values in itertools.product(*looped.values()):
        loop = dict(zip(looped, loop_values))
        base = config.replace(**loop)
        whole = SweepPass(loop, base, batched, tuple(combos))
        for combo in combos:
            # Each cell as a Config of its own: its learning rates get Config's range check.
            base.replace(**whole.rates(combo))
        per_pass = _largest_pass(base, len(combos))
        size = math.ceil(len(combos) / math.ceil(len(combos) / per_pass))
        plan += [SweepPass(loop, base, batched, tuple(combos[i:i + size])) for i in range(0, len(combos), size)]
    return plan


def check_devices(plan: Sequence[SweepPass]) -> None:
    """A one-line ValueError when a pass's device is not on this machine (`device='cuda'` without a GPU).

    Config checks a device's name only; whether it is there was found when its pass trained,
    after the passes before it (a sweep over device=cpu,cuda trained the CPU cells first).
    """
    for device in dict.fromkeys(p.config.device for p in plan):
        resolve_device(device)


def _cell_key(cell: dict[str, Any], grid: dict[str, list[Any]]) -> tuple[Any, ...]:
    """A cell's values on the grid's axes, in the grid's order: what identifies it in a sweep."""
    return tuple(cell[k] for k in grid)


def _json_number(v: float) -> float | None:
    """JSON has no NaN: None (null) instead."""
    return v if math.isfinite(v) else None


def train_pass(p: SweepPass, threads: int | None = None) -> list[dict[str, Any]]:
    """Train one pass (its cells' runs in one batched Trainer) and summarise each cell.

    Each cell: its grid values, success rate, median W1 (target units and target std) and the
    count of every label that occurred. What a Dask task runs, and the serial sweep too. `threads`:
    the Trainer's CPU threads (default GAN_COURSE_THREADS, else 1).
    """
    k = p.config.seeds
    rates = [p.rates(combo) for combo in p.combos]
    d_lr = torch.tensor([r["d_lr"] for r in rates for _ in range(k)], dtype=torch.float64)
    g_lr = torch.tensor([r["g_lr"] for r in rates for _ in range(k)], dtype=torch.float64)
    trainer = Trainer(p.config.replace(seeds=p.runs), d_lr=d_lr, g_lr=g_lr,
                      run_seeds=[p.config.seed + j for _ in p.combos for j in range(k)], threads=threads)
    trainer.step(p.config.rounds)
    runs = trainer.results(N_MEASURED)
    target = make_config_target(p.config)
    cells = []
    for i, combo in enumerate(p.combos):
        summary = summarize_runs(runs[i * k:(i + 1) * k], target)
        cells.append({
            **p.loop, **dict(zip(p.batched, combo)),
            "success_rate": summary["success"] / k,
            "median_w1": _json_number(summary["w1"]),
            "median_w1_sigma": _json_number(summary["w1_sigma"]),
            "labels": {lab: n for lab, n in summary["labels"].items() if n},
        })
    return cells


def _restore_mmap_threshold() -> None:
    """Give a Dask worker back the large mmap threshold that Dask's MALLOC_TRIM_THRESHOLD_ takes away.

    A Dask nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, to hand freed memory back
    sooner. Setting any malloc threshold also fixes glibc's mmap threshold at its 128 KiB start
    (mallopt(3)), so every array above that is mapped and unmapped anew: a pass took 2.4 times
    the CPU time of the serial sweep's, mostly in page faults (measured). The most glibc's own
    threshold grows to, 32 MiB, gives the serial speed back and keeps the prompt trimming.
    """
    if sys.platform != "linux" or "MALLOC_TRIM_THRESHOLD_" not in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # a C library without mallopt
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)


def _train_pass_one_thread(p: SweepPass) -> list[dict[str, Any]]:
    """A Dask task: `train_pass` on one thread (a worker is one process per core), at the serial speed."""
    torch.set_num_threads(1)
    _restore_mmap_threshold()
    return train_pass(p, threads=1)


def _worker_versions() -> dict[str, str]:
    """What a worker trains with: the same versions give the same numbers as this process."""
    import ganlib

    return {"torch": torch.__version__, "ganlib": ganlib.__version__}


def _import_dask() -> tuple[ModuleType, ModuleType]:
    """dask and distributed, or a one-line ImportError naming the extra that installs them."""
    try:
        # On demand only: Dask is an optional extra, not one of ganlib's runtime dependencies.
        return importlib.import_module("dask"), importlib.import_module("distributed")
    except ImportError:
        raise ImportError(f"a sweep on Dask (--workers, --scheduler) needs the dask extra, which is not "
                          f"installed: {DASK_EXTRA}") from None


def _check_worker_memory(largest: int, workers: Sequence[tuple[str, int, int]], usable: float) -> None:
    """A one-line ValueError when a worker cannot hold its threads' passes of up to `largest` bytes.

    `workers` lists (name, threads, memory limit in bytes, 0 for none); a worker may use `usable`
    times its limit. Dask pauses a worker above 0.8 of its limit (it starts no task until its
    memory falls, so a worker whose idle memory is above that would wait forever) and ends one
    above 0.95: the pause fraction is what a sweep can count on.
    """
    for name, threads, limit in workers:
        need = threads * largest + WORKER_BASE_BYTES
        if limit and need > usable * limit:
            raise ValueError(
                f"Dask worker {name} may use {usable:g} of its {limit / 2**30:.2f} GiB, less than the "
                f"{need / 2**30:.2f} GiB that {threads} pass(es) of {largest / 2**30:.2f} GiB at once need: use fewer "
                f"workers (or threads per worker) or fewer seeds")


def _check_reachable(dist: ModuleType, address: str) -> None:
    """A one-line error unless a Dask scheduler listens at a tcp:// or tls:// address (or it is no Dask address).

    Checked with a plain socket first: a Client that fails to connect waits out its timeout, then
    again when it is collected, and one that reaches a silent port waits for ever.
    """
    try:
        scheme, location = dist.comm.parse_address(address)
        if scheme not in DASK_SCHEMES:
            raise ValueError(f"a scheduler address starts with tcp:// or tls://, not {scheme}://")
        if scheme not in ("tcp", "tls"):
            return  # in this process (inproc://) or over websockets: nothing a plain socket can check
        host, port = dist.comm.parse_host_port(location)
    except ValueError as exc:
        raise ValueError(f"--scheduler {address}: {exc}") from None
    try:
        conn = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise OSError(f"--scheduler {address}: no Dask scheduler answers there ({exc.strerror or exc}); start one "
                      f"with `dask scheduler` and workers with `dask worker {address} --nthreads 1`") from None
    with conn:
        if scheme != "tcp":
            return  # under TLS the client speaks first, so there is nothing to wait for here
        # A Dask scheduler sends its handshake as soon as it accepts; distributed's Client waits for it
        # without a bound, so a port that accepts and stays silent (an HTTP server, a proxy) would hang it.
        try:
            heard = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            heard = b""
        if not heard:
            raise OSError(f"--scheduler {address}: something accepts connections there but sent no Dask handshake "
                          f"within {CONNECT_TIMEOUT} s; is it a Dask scheduler (`dask scheduler`)?")


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while a local cluster starts its worker processes, which inherit that (and keep it).

    Ctrl-C in a terminal reaches every process of the group: each worker died of it with a 30-line
    "Process Dask Worker process (from Nanny)" traceback before the sweep's one line. This process
    still gets it once the cluster is up, and closing the cluster ends the workers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a signal's handler
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _dask_client(dist: ModuleType, dask: ModuleType, workers: int | None, scheduler: str | None,
                 largest: int) -> Iterator[Any]:
    """A Client of a new local cluster of `workers` single-threaded processes, or of the one at `scheduler`.

    Workers whose memory limit cannot hold a pass of `largest` bytes are refused before any task
    is submitted: for a local cluster before it starts (each of N workers gets 1/N of this
    machine's memory, as Dask's default does).
    """
    memory = dask.config.get("distributed.worker.memory")
    # The first of Dask's thresholds that is switched on (False switches one off).
    usable = next((f for f in (memory.get("pause"), memory.get("terminate")) if f), 1.0)
    if scheduler is None:
        limit = dist.system.MEMORY_LIMIT // workers
        _check_worker_memory(largest, [(f"{i}", 1, limit) for i in range(workers)], usable)
        # Bound to the loopback interface: nothing of it is reachable from another machine. Its workers
        # start without Dask's MALLOC_TRIM_THRESHOLD_ (see _restore_mmap_threshold): the C allocator then
        # behaves as in this process.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            with _ctrl_c_ignored():
                cluster = dist.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address="127.0.0.1:0", memory_limit=limit,
                                            silence_logs=logging.CRITICAL)
            with cluster, dist.Client(cluster) as client:
                yield client
        return
    _check_reachable(dist, scheduler)
    # A scheduler that goes away mid-sweep makes distributed's client log a long traceback before the sweep's
    # own one-line message (which says what was kept): keep its logger to critical messages while we hold it.
    client_log = logging.getLogger("distributed.client")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        with dist.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False) as client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except TimeoutError:
                raise OSError(f"--scheduler {scheduler}: no worker joined within {CONNECT_TIMEOUT} s; start one "
                              f"with `dask worker {scheduler} --nthreads 1`") from None
            info = client.scheduler_info(n_workers=-1)["workers"]
            _check_worker_memory(largest, [(a, w["nthreads"], w.get("memory_limit") or 0) for a, w in info.items()],
                                 usable)
            yield client
    finally:
        client_log.setLevel(level)


def _run_on_dask(plan: list[SweepPass], workers: int | None, scheduler: str | None,
                 progress: Progress | None, out: list[list[dict[str, Any]] | None],
                 finished: Callable[[], None]) -> float:
    """Each pass whose `out[i]` is None as one Dask task, its cells put in `out[i]` as it completes.

    `finished()` is called after each; returns the seconds the tasks took.
    """
    dask, dist = _import_dask()
    largest = max(p.peak_memory for p in plan)
    with _dask_client(dist, dask, workers, scheduler, largest) as client:
        ours = _worker_versions()
        try:
            theirs_all = client.run(_worker_versions)
        except Exception as exc:
            # distributed re-raises a worker's ImportError as a plain Exception when it cannot rebuild it.
            if not isinstance(exc, ImportError) and "No module named" not in str(exc):
                raise
            raise ImportError(f"a Dask worker cannot import ganlib ({exc}): install it, and torch {torch.__version__}, "
                              f"where the workers run") from None
        for address, theirs in theirs_all.items():
            if theirs != ours:
                raise ValueError(f"Dask worker {address} has {theirs}, this process {ours}: the numbers would "
                                 f"differ from the serial sweep's; install the same versions there")
        t0 = time.perf_counter()
        # The costliest passes first, so the last task to finish is a short one.
        todo = [i for i, cells in enumerate(out) if cells is None]
        futures = [client.submit(_train_pass_one_thread, plan[i], priority=plan[i].cost, pure=False) for i in todo]
        index = {f.key: i for f, i in zip(futures, todo)}
        done = sum(p.cells for p, cells in zip(plan, out) if cells is not None)
        total = sum(p.cells for p in plan)
        try:
            results = dist.as_completed(futures, loop=client.loop)
            watch = _WorkerWatch(client)
            while not results.is_empty():
                if not results.has_ready():
                    watch.check(done, total)
                    time.sleep(WATCH_POLL)
                    continue
                future = next(results)
                i = index[future.key]
                try:
                    out[i] = future.result()
                except dist.KilledWorker:
                    p = plan[i]
                    raise MemoryError(
                        f"a Dask worker died while training a pass of {p.runs} runs ({p.peak_memory / 2**30:.2f} GiB "
                        f"by ganlib's estimate), most often from running out of memory: use fewer workers or seeds"
                    ) from None
                except (concurrent.futures.CancelledError, dist.comm.CommClosedError):
                    raise OSError(f"the Dask scheduler went away after {done} of {total} cells had finished; "
                                  f"start it again and rerun (with --resume to keep the finished cells)") from None
                done += plan[i].cells
                finished()
                if progress is not None:
                    progress(done, total)
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(futures)
            raise
        return time.perf_counter() - t0


class _WorkerWatch:
    """Ends a Dask sweep in one line when its cluster has had no worker for NO_WORKER_TIMEOUT seconds.

    Without it, a sweep whose last worker died waits for ever for results nobody computes.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.last_seen = time.monotonic()
        self.next_check = 0.0

    def check(self, done: int, total: int) -> None:
        """Ask the scheduler for its workers (at most once a second); raise once none has been seen for too long."""
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + 1.0
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
        except OSError:
            raise OSError(f"the Dask scheduler went away after {done} of {total} cells had finished; "
                          f"start it again and rerun (with --resume to keep the finished cells)") from None
        if workers:
            self.last_seen = now
        elif now - self.last_seen > NO_WORKER_TIMEOUT:
            raise OSError(f"the Dask cluster has had no worker for {NO_WORKER_TIMEOUT} s, after {done} of {total} "
                          f"cells had finished; start workers (`dask worker ADDRESS --nthreads 1`) and rerun "
                          f"(with --resume to keep the finished cells)")


def sweep(
    config: Config,
    grid: dict[str, list[Any]],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    done: Sequence[dict[str, Any]] = (),
    on_cells: Callable[[list[dict[str, Any]], int], None] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Train every grid cell on the same `config.seeds` seeds; learning rates share batched passes.

    Every cell's Config, and the memory of every pass, is checked before anything trains (see
    `plan_sweep`). By default the passes train here, one after another; with `workers` they are
    Dask tasks on a new local cluster of that many single-threaded processes, with `scheduler`
    tasks on the Dask cluster at that address (`tcp://host:8786`); the numbers are the same either
    way. `progress(cells_done, cells)` is called as passes finish. Returns the config, the grid,
    the cells (grid values, success rate, median W1 in target units and target std, label
    counts), the training seconds (on Dask: from the first task submitted to the last result, not
    counting the cluster's start) and the throughput in runs x rounds per second.

    `done` holds cells an earlier, interrupted sweep of the same config and grid finished: a pass
    whose cells are all there is not trained again, its cells are taken from `done` (a pass is
    trained whole or not at all, since splitting it would change its numbers' last bits).
    `on_cells(cells, unfinished)` is called after each pass with every finished cell so far, in
    grid order, and the count still to train, so that a caller can save them as they come.
    Seconds and throughput count the passes trained in this call only. `threads`: the CPU threads of
    each pass trained here (default GAN_COURSE_THREADS, else 1); a Dask worker trains on one.
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give workers (a local cluster) or scheduler (a running one), not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers={workers!r} is not allowed: a number of worker processes >= 1")
    plan = plan_sweep(config, grid)
    if scheduler is None:
        # Here or on a local cluster, on this machine's devices; a running cluster's workers may have others.
        check_devices(plan)
    total = sum(p.cells for p in plan)
    earlier = {_cell_key(c, grid): c for c in done}
    # A pass's cells from `done` when every one of them is there, else None: to train.
    per_pass: list[list[dict[str, Any]] | None] = []
    for p in plan:
        keys = [_cell_key({**p.loop, **dict(zip(p.batched, combo))}, grid) for combo in p.combos]
        per_pass.append([earlier[k] for k in keys] if all(k in earlier for k in keys) else None)
    skipped = [cells is not None for cells in per_pass]

    def finished() -> None:
        if on_cells is not None:
            cells = [c for pass_cells in per_pass if pass_cells is not None for c in pass_cells]
            on_cells(cells, total - len(cells))

    if workers is None and scheduler is None:
        t0 = time.perf_counter()
        n_done = sum(p.cells for p, cells in zip(plan, per_pass) if cells is not None)
        for i, p in enumerate(plan):
            if per_pass[i] is not None:
                continue
            per_pass[i] = train_pass(p, threads)
            n_done += p.cells
            finished()
            if progress is not None:
                progress(n_done, total)
        seconds = time.perf_counter() - t0
    else:
        seconds = _run_on_dask(plan, workers, scheduler, progress, per_pass, finished)
    run_rounds = sum(p.runs * p.config.rounds for p, skip in zip(plan, skipped) if not skip)
    return {"config": config.to_dict(), "grid": grid, "cells": [c for cells in per_pass for c in cells or ()],
            "seconds": round(seconds, 3),
            # Nothing trained (every pass was done before): no throughput to report.
            "runs_x_rounds_per_second": round(run_rounds / seconds, 1) if run_rounds else 0.0}


__all__ = ["sweep", "plan_sweep", "train_pass", "parse_grid", "check_devices", "SweepPass", "BATCHED_SWEEP_FIELDS",
           "DASK_EXTRA"]
