"""ganlib.sweep: grids, passes, checks before training, the serial sweep and the same sweep on Dask; the map."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage

from ganlib import sweep as sweep_module
from ganlib.cli import main
from ganlib.config import MAX_SEEDS, Config
from ganlib.plots import plot_sweep_map
from ganlib.sweep import DASK_EXTRA, WORKER_BASE_BYTES, _check_worker_memory, plan_sweep, sweep, train_pass
from ganlib.train import Trainer, estimate_memory

# Small nets and evaluations: what is tested here does not depend on the network size.
TINY_FLAGS = ["--g-hidden", "8,8", "--d-hidden", "8,8", "--eval-samples", "200", "--batch-size", "16"]
GIB = 2**30


def one_error_line(err: str) -> str:
    assert err.startswith("ganlib: error:"), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err


@pytest.fixture
def no_training(monkeypatch):
    """Make any training or any Dask cluster fail the test: errors must come before either."""

    def refuse(*args, **kwargs):
        pytest.fail("training or a cluster started although the command should have stopped before")

    monkeypatch.setattr(sweep_module, "Trainer", refuse)
    import distributed

    monkeypatch.setattr(distributed, "LocalCluster", refuse)
    monkeypatch.setattr(distributed, "Client", refuse)


# ----- the grid, the passes and the serial sweep -----

def test_sweep_gives_one_cell_per_combination(tmp_path, capsys):
    js, png = tmp_path / "sweep.json", tmp_path / "map.png"
    argv = ["sweep", "--grid", "lr=1e-3,1e-2", "--grid", "d_steps=1,2", "--rounds", "20", "--seeds", "2",
            "--dtype", "float64", *TINY_FLAGS, "--json", str(js), "--plot", str(png)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    out = out.splitlines()
    assert out[0].split() == ["lr", "d_steps", "success", "median", "W1/std"]
    assert len(out) == 1 + 4 + 1 and "runs x rounds per second" in out[-1]
    # Two passes (d_steps 1 and 2), two learning rates each; stderr is not a terminal here.
    assert err.splitlines() == ["cells 2/4", "cells 4/4"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(js.read_text())
    assert set(data) == {"config", "grid", "cells", "seconds", "runs_x_rounds_per_second"}
    cells = data["cells"]
    assert [(c["lr"], c["d_steps"]) for c in cells] == [(1e-3, 1), (1e-2, 1), (1e-3, 2), (1e-2, 2)]
    base = Config.from_dict(data["config"])
    for cell in cells:
        assert sum(cell["labels"].values()) == 2 and 0 <= cell["success_rate"] <= 1
        # A cell is the runs a plain Trainer with that setting gives: in float64 batched and separate runs
        # agree to ~1e-13 over 2,000 rounds (docs/design), so 1e-9 over 20 rounds holds with room.
        runs = Trainer(base.replace(d_lr=cell["lr"], g_lr=cell["lr"], d_steps=cell["d_steps"])).step(20).results(4000)
        assert cell["median_w1"] == pytest.approx(float(np.median([r.w1 for r in runs])), rel=1e-9)
        assert cell["median_w1_sigma"] == pytest.approx(cell["median_w1"] / base.target_std, rel=1e-12)
        assert cell["success_rate"] == sum(r.success for r in runs) / 2


@pytest.mark.parametrize(("grid", "text"), [
    ("foo=1,2", "unknown field 'foo'"),
    ("g_hidden=5,6", "g_hidden cannot be swept"),
    ("normalize=1", "normalize cannot be swept"),
    ("seeds=1,3", "seeds cannot be swept"),
    ("d_lr=a,b", "values must be float"),
    ("d_steps=1.5", "values must be int"),
    ("d_lr=", "give NAME=V1,V2"),
])
def test_bad_grids_exit_2(grid, text, capsys):
    assert main(["sweep", "--grid", grid, "--rounds", "1", "--seeds", "1"]) == 2
    assert text in one_error_line(capsys.readouterr().err)


def test_sweep_over_a_string_field_prints_its_table(capsys):
    argv = ["sweep", "--grid", "features=value,sorted", "--rounds", "2", "--seeds", "1", *TINY_FLAGS]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[1:3]] == ["value", "sorted"]


def test_seeds_cannot_be_an_axis_of_the_library_call_either(tiny):
    with pytest.raises(ValueError, match="seed and seeds cannot be swept"):
        sweep(tiny(), {"seeds": [1, 3]})


def test_plan_batches_learning_rates_and_loops_over_the_rest(tiny):
    c = tiny(rounds=10)
    plan = plan_sweep(c, {"features": ["value", "sorted"], "lr": [1e-3, 2e-3, 5e-3], "d_steps": [1, 2]})
    assert [(p.loop, p.combos) for p in plan] == [
        ({"features": f, "d_steps": d}, ((1e-3,), (2e-3,), (5e-3,))) for f in ("value", "sorted") for d in (1, 2)]
    assert all(p.runs == 3 * c.seeds and p.config == c.replace(**p.loop) for p in plan)
    assert plan[0].rates((2e-3,)) == {"d_lr": 2e-3, "g_lr": 2e-3}
    # d_lr and g_lr axes: a cell's rates follow its own values.
    both = plan_sweep(c, {"d_lr": [1e-3], "g_lr": [4e-3]})[0]
    assert both.rates(both.combos[0]) == {"d_lr": 1e-3, "g_lr": 4e-3}
    # Cost: runs x rounds x (D + G steps), by hand for d_steps 2, g_steps 1.
    assert plan[1].cost == 9 * 10 * 3


def test_serial_progress_counts_cells_after_each_pass(tiny):
    seen = []
    out = sweep(tiny(rounds=5), {"lr": [1e-3, 2e-3], "d_steps": [1, 2, 3]}, progress=lambda *a: seen.append(a))
    assert seen == [(2, 6), (4, 6), (6, 6)] and len(out["cells"]) == 6


@pytest.mark.parametrize(("grid", "text"), [
    ("lr=100", "d_lr=100.0 is not allowed"),
    ("d_lr=1e6", "d_lr=1000000.0 is not allowed"),
    ("g_lr=1e-3,0", "g_lr=0.0 is not allowed"),
    ("d_steps=1,2,1000", "d_steps=1000 is not allowed"),
    ("batch_size=64,2", "batch_size=2 is not allowed"),
])
@pytest.mark.parametrize("where", [[], ["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]])
def test_every_sweep_cell_is_validated_before_training(grid, text, where, capsys, no_training):
    # The bad cell comes last on its axis: nothing may train or start a cluster before it is found.
    argv = ["sweep", "--grid", grid, "--grid", "features=sorted,meanstd", "--rounds", "1", "--seeds", "1", *where]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err) and out == ""


def test_sweep_cells_over_the_memory_budget_are_refused_before_training(capsys, no_training):
    argv = ["sweep", "--grid", "sets=1,1024", "--batch-size", "100000", "--rounds", "1", "--seeds", "1"]
    assert main(argv) == 2
    assert "GiB" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("flag", "name"), [("--json", "nope/s.json"), ("--plot", "nope/map.png"),
                                            ("--plot", "map.xyz")])
def test_sweep_output_paths_are_checked_before_training(flag, name, tmp_path, capsys, no_training):
    path = tmp_path / name
    assert main(["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--seeds", "1", flag, str(path)]) == 2
    err = one_error_line(capsys.readouterr().err)
    assert flag in err and str(path) in err
    if name.endswith(".xyz"):
        assert ".png" in err and ".pdf" in err


def test_a_sweep_larger_than_max_seeds_trains_in_several_passes():
    # 600 seeds x 7 learning rates = 4,200 runs, more than MAX_SEEDS = 4,096 in one Trainer.
    lrs = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2]
    c = Config(rounds=1, seeds=600, g_hidden=(4,), g_activations=("elu",), d_hidden=(4,), d_activations=("elu",),
               eval_samples=100, batch_size=8)
    assert 600 * len(lrs) > MAX_SEEDS
    assert [p.runs for p in plan_sweep(c, {"lr": lrs})] == [2400, 1800]
    out = sweep(c, {"lr": lrs})
    assert [cell["lr"] for cell in out["cells"]] == lrs
    assert all(sum(cell["labels"].values()) == 600 for cell in out["cells"])
    # The last cell (trained in the second pass) is what a plain Trainer with that rate gives: one round in
    # float32 moves a run's W1 by rounding only (~1e-7 relative), far below 1e-6.
    last = out["cells"][-1]
    runs = Trainer(c.replace(d_lr=lrs[-1], g_lr=lrs[-1])).step(1).results(4000)
    assert last["success_rate"] == sum(r.success for r in runs) / 600
    assert last["median_w1"] == pytest.approx(float(np.median([r.w1 for r in runs])), rel=1e-6)


def test_sweep_passes_are_split_at_the_memory_budget_too(monkeypatch):
    # With a budget that holds two cells' runs at a time, three learning rates need two passes.
    c = Config(rounds=2, seeds=3, g_hidden=(4,), g_activations=("elu",), d_hidden=(4,), d_activations=("elu",),
               eval_samples=100, batch_size=8, dtype="float64")
    budget = (estimate_memory(c.replace(seeds=6)).peak + estimate_memory(c.replace(seeds=9)).peak) // 2
    built = []

    class Recording(Trainer):
        def __init__(self, config, **kwargs):
            built.append(config.seeds)
            super().__init__(config, **kwargs)

    monkeypatch.setattr(sweep_module, "MEMORY_BUDGET", budget)
    monkeypatch.setattr(sweep_module, "Trainer", Recording)
    out = sweep(c, {"lr": [1e-3, 2e-3, 5e-3]})
    assert built == [6, 3]
    for cell in out["cells"]:
        runs = Trainer(c.replace(d_lr=cell["lr"], g_lr=cell["lr"])).step(2).results(4000)
        assert cell["median_w1"] == pytest.approx(float(np.median([r.w1 for r in runs])), rel=1e-9)


def test_a_dask_task_trains_on_one_thread(tiny):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        p = plan_sweep(tiny(rounds=2), {"lr": [1e-3]})[0]
        assert sweep_module._train_pass_one_thread(p) == train_pass(p)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# ----- the same sweep on Dask -----

# Two passes (d_steps 1 and 2) of two learning rates: two tasks for two workers. float32 on purpose:
# the numbers must agree bit for bit, not within a tolerance, because each task is the serial pass.
DASK_GRID = {"lr": [1e-3, 5e-3], "d_steps": [1, 2]}


def test_a_local_cluster_gives_the_serial_numbers_exactly(tiny, monkeypatch):
    c = tiny(rounds=60)
    serial_seen, dask_seen = [], []
    serial = sweep(c, DASK_GRID, progress=lambda *a: serial_seen.append(a))
    # The tasks must run in the workers' processes: here, training a pass now fails.
    monkeypatch.setattr(sweep_module, "train_pass", lambda p, *args: pytest.fail("a pass trained in the test process"))
    on_dask = sweep(c, DASK_GRID, workers=2, progress=lambda *a: dask_seen.append(a))
    assert on_dask["cells"] == serial["cells"]
    assert (on_dask["config"], on_dask["grid"]) == (serial["config"], serial["grid"])
    assert set(on_dask) == set(serial)
    # Equality means something only if the cells differ from each other.
    assert len({cell["median_w1"] for cell in serial["cells"]}) == 4
    assert serial_seen == [(2, 4), (4, 4)]
    assert sorted(dask_seen) == [(2, 4), (4, 4)]


def test_scheduler_flag_sends_the_sweep_to_a_running_cluster(tmp_path, capsys):
    from distributed import Client, LocalCluster

    grid = ["--grid", "lr=1e-3,5e-3", "--grid", "features=value,sorted"]
    argv = ["sweep", *grid, "--rounds", "40", "--seeds", "3", *TINY_FLAGS]
    assert main([*argv, "--json", str(tmp_path / "serial.json")]) == 0
    capsys.readouterr()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        assert main([*argv, "--scheduler", cluster.scheduler_address, "--json", str(tmp_path / "dask.json")]) == 0
        out, err = capsys.readouterr()
        with Client(cluster) as client:
            # The sweep's futures are released: nothing of it stays on the cluster.
            assert client.who_has() == {}
    serial, on_dask = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("serial", "dask"))
    assert on_dask["cells"] == serial["cells"] and len(serial["cells"]) == 4
    assert sorted(err.splitlines()) == ["cells 2/4", "cells 4/4"]
    assert out.splitlines()[1].split()[:2] == ["0.001", "value"]


def test_without_the_dask_extra_workers_give_one_line_naming_it(monkeypatch, capsys, no_training):
    # What Python does when the package is missing: importing a module mapped to None raises ImportError.
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    for where in (["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]):
        assert main(["sweep", "--grid", "lr=1e-3,2e-3", "--rounds", "1", "--seeds", "1", *where]) == 2
        err = one_error_line(capsys.readouterr().err)
        assert DASK_EXTRA in err and "not installed" in err


@pytest.mark.parametrize(("where", "text"), [
    (["--workers", "0"], "workers=0 is not allowed"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with argument"),
    (["--scheduler", "nonsense"], "--scheduler nonsense: missing port number"),
    (["--scheduler", "tcp://127.0.0.1:1"], "no Dask scheduler answers there"),
    (["--scheduler", "http://127.0.0.1:8787"], "starts with tcp:// or tls://, not http://"),
])
def test_bad_dask_flags_exit_2_with_one_line(where, text, capsys):
    argv = ["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--seeds", "1", *TINY_FLAGS, *where]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    out, err = capsys.readouterr()
    assert text in one_error_line(err) and out == ""


def test_worker_memory_is_checked_by_hand():
    # need = threads x largest pass + WORKER_BASE_BYTES (0.375 GiB); a worker may use 0.8 of its limit (Dask's
    # pause threshold), so 1 GiB passes need 1.375 GiB, and 1.72 GiB of limit per thread.
    largest = 1 * GIB
    assert WORKER_BASE_BYTES == 0.375 * GIB
    _check_worker_memory(largest, [("a", 1, 2 * GIB)], 0.8)  # 1.6 GiB usable
    _check_worker_memory(largest, [("a", 2, 3 * GIB)], 0.8)  # 2.375 GiB needed, 2.4 usable
    _check_worker_memory(largest, [("a", 4, 0)], 0.8)  # no limit
    with pytest.raises(ValueError, match=r"worker a may use 0.8 of its 1.50 GiB, less than the 1.38 GiB"):
        _check_worker_memory(largest, [("a", 1, int(1.5 * GIB))], 0.8)
    with pytest.raises(ValueError, match=r"worker b may use 0.8 of its 2.50 GiB, less than the 2.38 GiB that 2 pass"):
        _check_worker_memory(largest, [("a", 1, 4 * GIB), ("b", 2, int(2.5 * GIB))], 0.8)


def test_too_many_local_workers_for_this_memory_are_refused_before_starting(tiny, monkeypatch, no_training):
    import distributed

    # 64 workers sharing 8 GiB get 128 MiB each: not even an idle worker fits.
    monkeypatch.setattr(distributed.system, "MEMORY_LIMIT", 8 * GIB)
    with pytest.raises(ValueError, match="use fewer workers"):
        sweep(tiny(rounds=1), {"lr": [1e-3]}, workers=64)


# ----- the map -----

def _result(cells: list[dict], grid: dict) -> dict:
    return {"config": {"seeds": 4, "rounds": 100}, "grid": grid, "cells": cells}


def _texts(ax) -> dict[tuple[int, int], str]:
    return {tuple(int(round(v)) for v in t.get_position()): t.get_text() for t in ax.texts}


def test_map_colours_cells_by_success_and_names_the_dominant_failure():
    grid = {"lr": [1e-3, 1e-2], "d_steps": [1, 2, 3], "features": ["value", "sorted"]}
    labels = {
        (1e-3, 1): {"good": 4},
        (1e-2, 1): {"good": 1, "collapsed": 1, "drifted": 1, "wrong shape": 1},  # a tie: collapsed comes first
        (1e-3, 2): {"wrong spread": 3, "diverged": 1},
        (1e-2, 2): {"good": 2, "wrong shape": 2},
        (1e-3, 3): {"good": 3, "drifted": 1},
    }  # (1e-2, 3) is missing
    cells = [{"lr": lr, "d_steps": d, "features": f, "labels": lab, "success_rate": lab.get("good", 0) / 4}
             for f in grid["features"] for (lr, d), lab in labels.items()]
    fig = plot_sweep_map(_result(cells, grid))
    panels = [ax for ax in fig.axes if ax.get_images() and ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["D sees = value", "D sees = sorted"]
    for ax in panels:
        image = ax.get_images()[0]
        assert isinstance(image, AxesImage)
        rates = image.get_array()
        # Rows are d_steps 1, 2, 3; columns lr 1e-3, 1e-2.
        np.testing.assert_array_equal(rates.filled(-1), [[1.0, 0.25], [0.0, 0.5], [0.75, -1]])
        assert rates.mask.tolist() == [[False, False], [False, False], [False, True]]
        assert _texts(ax) == {(0, 0): "4/4", (1, 0): "1/4\ncollapsed 1", (0, 1): "0/4\nwrong spread 3",
                              (1, 1): "2/4\nwrong shape 2", (0, 2): "3/4\ndrifted 1", (1, 2): "-"}
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("learning rate (both nets)", "D steps per round")
    assert "4 seeds" in fig.texts[0].get_text() and "100 rounds" in fig.texts[0].get_text()


def test_map_of_one_axis_is_one_row():
    grid = {"features": ["value", "sorted", "meanstd"]}
    cells = [{"features": f, "labels": {"good": g, "collapsed": 4 - g} if g < 4 else {"good": 4},
              "success_rate": g / 4} for f, g in zip(grid["features"], (0, 2, 4))]
    fig = plot_sweep_map(_result(cells, grid))
    (ax,) = [ax for ax in fig.axes if ax.get_images()]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), [[0.0, 0.5, 1.0]])
    assert _texts(ax) == {(0, 0): "0/4\ncollapsed 4", (1, 0): "2/4\ncollapsed 2", (2, 0): "4/4"}


def test_map_refuses_four_axes():
    grid = {"lr": [1e-3], "d_steps": [1], "features": ["value"], "target": ["normal"]}
    with pytest.raises(ValueError, match="1 to 3 grid axes; this sweep has 4"):
        plot_sweep_map(_result([], grid))


def test_a_grid_beyond_max_cells_is_one_line_before_any_cell_is_built(tiny, monkeypatch):
    built = []
    monkeypatch.setattr(sweep_module, "SweepPass", lambda *a: built.append(a))
    # 500 x 500 cells: planning 1.25e8 cells once took a minute and then ran out of memory.
    with pytest.raises(ValueError, match=r"^this grid has 250,000 cells, more than the 20,000 .*several sweeps$"):
        plan_sweep(tiny(), {"d_steps": list(range(1, 501)), "batch_size": list(range(1, 501))})
    assert built == []


def test_a_port_that_accepts_but_never_speaks_dask_is_one_line_within_the_bound(monkeypatch, capsys, no_training):
    import socket
    import threading
    import time

    # What an HTTP server or a proxy does: it accepts and waits for the client to speak first. distributed's
    # Client would wait for the scheduler's handshake for ever (seen: still waiting at 420 s).
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", 1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    t0 = time.monotonic()
    argv = ["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--seeds", "1", *TINY_FLAGS, "--scheduler", address]
    assert main(argv) == 2
    assert time.monotonic() - t0 < 10
    assert "sent no Dask handshake within 1 s" in one_error_line(capsys.readouterr().err)
    server.close()


def test_a_cluster_left_without_workers_ends_in_one_line(tiny, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(sweep_module, "NO_WORKER_TIMEOUT", 1)
    c = tiny(rounds=400)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0",
                      silence_logs=logging.CRITICAL) as cluster:
        # The only worker leaves as soon as the first of the two passes is in: the second has nobody to run it.
        with pytest.raises(OSError, match=r"no worker for 1 s, after 2 of 4 cells had finished; .*--resume"):
            sweep(c, DASK_GRID, scheduler=cluster.scheduler_address, progress=lambda *a: cluster.scale(0))


def test_a_worker_that_cannot_import_ganlib_is_one_line(tiny, monkeypatch):
    import threading

    from distributed import LocalCluster

    real = sweep_module._worker_versions

    def versions():
        if threading.current_thread() is threading.main_thread():
            return real()
        # What distributed raises when it cannot rebuild the worker's ModuleNotFoundError here: a plain Exception.
        raise Exception("No module named 'ganlib'")

    monkeypatch.setattr(sweep_module, "_worker_versions", versions)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0",
                      silence_logs=logging.CRITICAL) as cluster:
        with pytest.raises(ImportError, match=r"^a Dask worker cannot import ganlib \(No module named 'ganlib'\)"):
            sweep(tiny(rounds=1), {"lr": [1e-3]}, scheduler=cluster.scheduler_address)


def test_a_worker_killed_for_memory_is_one_line(tiny, monkeypatch, capsys):
    import dask
    from distributed import LocalCluster

    # A pass of 2,000 runs (their evaluation noise alone is 0.16 GB) on a worker allowed 0.45 GB, which Dask's
    # nanny ends at 0.95 of that: the check before submitting would refuse it, so it is switched off here.
    monkeypatch.setattr(sweep_module, "_check_worker_memory", lambda *a: None)
    c = tiny(rounds=1, seeds=1000, eval_samples=20_000)
    assert [p.peak_memory > 0.45e9 for p in plan_sweep(c, {"lr": [1e-3, 2e-3]})] == [True]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
            memory_limit=int(0.45e9), silence_logs=logging.CRITICAL) as cluster:
        with pytest.raises(MemoryError, match=r"a Dask worker died while training a pass of 2000 runs .*fewer workers"):
            sweep(c, {"lr": [1e-3, 2e-3]}, scheduler=cluster.scheduler_address)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc thresholds")
def test_a_worker_started_by_dask_gets_the_large_mmap_threshold_back():
    # Under Dask's MALLOC_TRIM_THRESHOLD_=65536 every array above 128 KiB is mapped anew: a pass of 8 runs and
    # 200 rounds took 32,000-43,000 minor page faults, and 12,000-15,000 once the mmap threshold was 32 MiB
    # again (7,800-8,500 without the variable): a ratio of 0.29-0.46 alone, but one run inside the full
    # parallel suite came above 0.6. Two passes per count and a bound of 0.75 still tell a restored
    # threshold from none (ratio about 1).
    code = """
import resource, torch
from ganlib.config import Config
from ganlib.sweep import plan_sweep, train_pass, _restore_mmap_threshold
torch.set_num_threads(1)
p = plan_sweep(Config(rounds=200, seeds=4), {"lr": [1e-3, 2e-3]})[0]
def faults():
    train_pass(p)
    a = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    train_pass(p)
    train_pass(p)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - a
before = faults()
_restore_mmap_threshold()
print(before, faults())
"""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert after < 0.75 * before, (before, after)


# ----- issue 31: interrupts keep the finished cells, --resume finishes the sweep -----

# Two passes: d_steps 1 (seconds), then d_steps 30 (several seconds more), so the test can interrupt the second.
RESUME_ARGV = ["sweep", "--grid", "d_steps=1,30", "--rounds", "300", "--seeds", "2", "--features", "value",
               "--dtype", "float64", *TINY_FLAGS]


def _start(argv, **kwargs):
    """`python -m ganlib ARGV` that says "ready" on stderr once ganlib is imported (its signal handling in place)."""
    # SIGINT's default handler set explicitly: a test run started in the background (`.ci/run &`) passes
    # SIGINT down as ignored, and Python then leaves it ignored, so Ctrl-C would never arrive.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from ganlib.cli import main; print('ready', file=sys.stderr, flush=True); "
            "sys.exit(main(sys.argv[1:]))")
    return subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def test_an_interrupted_sweep_keeps_its_finished_cells_and_resume_completes_it(tmp_path, capsys):
    import signal
    import time

    js = tmp_path / "s.json"
    proc = _start([*RESUME_ARGV, "--json", str(js)])
    deadline = time.monotonic() + 300
    while not js.exists():  # written when the first pass finishes
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = err.splitlines()
    said = f"ganlib: interrupted by Ctrl-C: kept the 1 finished of 2 cells in {js}; --resume finishes the sweep"
    # The cells are saved before their progress line is printed, so Ctrl-C (sent once the file exists) may land
    # between the two: seen in CI on a loaded machine. Either way the message names the kept cell.
    assert lines[0] == "ready" and lines[1:] in (["cells 1/2", said], [said]), lines
    assert out == ""
    partial = json.loads(js.read_text())
    assert [c["d_steps"] for c in partial["cells"]] == [1] and partial["unfinished"] == 1

    # --resume trains the second pass only, and the cells are those of a sweep never interrupted.
    assert main([*RESUME_ARGV, "--json", str(js), "--resume"]) == 0
    assert capsys.readouterr().err.splitlines() == ["cells 2/2"]
    resumed = json.loads(js.read_text())
    assert set(resumed) == {"config", "grid", "cells", "seconds", "runs_x_rounds_per_second"}
    whole = sweep(Config.from_dict(resumed["config"]), {"d_steps": [1, 30]})
    assert resumed["cells"] == json.loads(json.dumps(whole["cells"]))
    assert resumed["cells"][0] == partial["cells"][0]


def test_resume_of_a_finished_sweep_trains_nothing(tmp_path, capsys, no_training):
    js = tmp_path / "s.json"
    cells = [{"lr": 1e-3, "success_rate": 0.5, "median_w1": 0.1, "median_w1_sigma": 0.08, "labels": {"good": 1}}]
    base = Config(rounds=1, seeds=1)
    js.write_text(json.dumps({"config": base.to_dict(), "grid": {"lr": [1e-3]}, "cells": cells}))
    assert main(["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--seeds", "1", "--json", str(js), "--resume"]) == 0
    assert json.loads(js.read_text())["cells"] == cells


@pytest.mark.parametrize(("saved", "text"), [
    ({"grid": {"lr": [2e-3]}}, "another grid"),
    ({"config": {**Config(rounds=2, seeds=1).to_dict()}}, "another config (differs in rounds)"),
    ({"cells": "x"}, "not a sweep's JSON"),
    (None, "cannot read"),
])
def test_resume_refuses_a_json_of_another_sweep(saved, text, tmp_path, capsys, no_training):
    js = tmp_path / "s.json"
    good = {"config": Config(rounds=1, seeds=1).to_dict(), "grid": {"lr": [1e-3]}, "cells": []}
    js.write_text("{not json" if saved is None else json.dumps({**good, **saved}))
    assert main(["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--seeds", "1", "--json", str(js), "--resume"]) == 2
    assert text in one_error_line(capsys.readouterr().err)


def test_resume_needs_json(capsys, no_training):
    assert main(["sweep", "--grid", "lr=1e-3", "--rounds", "1", "--resume"]) == 2
    assert "--resume needs --json" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(("command", "kept"), [(["train", "--rounds", "1000000", "--seeds", "1"], "nothing was kept"),
                                               (["sweep", "--grid", "lr=1e-3", "--rounds", "1000000", "--seeds", "1"],
                                                "nothing was kept")])
def test_sigterm_exits_143_with_one_line(command, kept):
    import signal
    import time

    proc = _start([*command, *TINY_FLAGS])
    assert proc.stderr.readline() == "ready\n"
    time.sleep(1.0)  # into training
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.startswith("ganlib: interrupted by SIGTERM: " + kept) and err.count("\n") == 1, err


def test_ctrl_c_in_digits_is_one_line(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ganlib.images.train_digits", interrupted)
    monkeypatch.setattr("ganlib.images.default_judge", lambda: None)
    assert main(["digits", "--rounds", "5"]) == 130
    assert capsys.readouterr().err == ("ganlib: interrupted by Ctrl-C: nothing was kept (digits writes --json and "
                                       "--samples when it finishes)\n")


@pytest.mark.parametrize(("items", "text"), [
    (["lr=1e-3", "lr=2e-3"], "lr is given twice"),
    (["d_steps=1", "d-steps=2"], "d_steps is given twice"),
    (["lr=1e-3,2e-3,0.001"], "0.001 twice"),
    (["features=sorted,value,sorted"], "'sorted' twice"),
])
def test_a_repeated_axis_or_value_is_refused(items, text):
    # The second --grid lr replaced the first, and a repeated value gave two cells of one setting: silently.
    from ganlib.sweep import parse_grid

    with pytest.raises(ValueError, match=text) as exc:
        parse_grid(items)
    assert "\n" not in str(exc.value)


# ----- issue 31, QA: what a sweep can refuse before its first cell trains -----

def test_a_plot_of_four_axes_is_refused_before_training(tmp_path, capsys, no_training):
    # plot_sweep_map draws 1 to 3 axes: the refusal came after all 16 cells had trained.
    argv = ["sweep", "--grid", "lr=1e-3,2e-3", "--grid", "d_steps=1,2", "--grid", "batch_size=32,64", "--grid",
            "g_steps=1,2", "--rounds", "2", "--seeds", "1", "--plot", str(tmp_path / "map.png")]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "--plot draws a map of 1 to 3 grid axes; this sweep has 4: lr, d_steps, batch_size, g_steps" in \
        one_error_line(err) and out == ""
    assert not (tmp_path / "map.png").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is present")
@pytest.mark.parametrize("where", [[], ["--workers", "2"]])
def test_a_device_this_machine_lacks_is_refused_before_any_cell_trains(where, capsys, no_training):
    # The CPU cell trained first, then the CUDA one failed.
    assert main(["sweep", "--grid", "device=cpu,cuda", "--rounds", "2", "--seeds", "1", *where]) == 2
    out, err = capsys.readouterr()
    assert "device='cuda' is not available" in one_error_line(err) and out == ""
    with pytest.raises(ValueError, match="device='cuda' is not available"):
        sweep(Config(rounds=2, seeds=1), {"device": ["cpu", "cuda"]})


@pytest.mark.parametrize(("argv", "text"), [
    (["--grid", "d_lr=1e-3,2e-3", "--grid", "g_lr=1e-3,2e-3", "--grid", "lr=1e-3,2e-3"],
     "the grid axis lr sets both learning rates: sweep lr or d_lr and g_lr, not both"),
    (["--grid", "lr=1e-3,2e-3", "--grid", "g_lr=1e-3"], "sweep lr or g_lr, not both"),
    (["--grid", "lr=1e-3,2e-3", "--d-lr", "1e-3"],
     "--grid lr sets both learning rates in every cell: give --d-lr or --grid lr, not both"),
    (["--grid", "lr=1e-3,2e-3", "--g-lr", "1e-3"], "give --g-lr or --grid lr, not both"),
    (["--grid", "lr=1e-3,2e-3", "--lr", "1e-3"], "give --lr or --grid lr, not both"),
    (["--grid", "d_steps=1,3", "--d-steps", "2"], "--grid d_steps sets d_steps in every cell: give --d-steps or"),
])
def test_grid_axes_that_would_do_nothing_are_refused(argv, text, capsys, no_training):
    # lr beside d_lr and g_lr trained pairs of identical cells; lr over a base --d-lr replaced it silently.
    assert main(["sweep", *argv, "--rounds", "2", "--seeds", "1"]) == 2
    assert text in one_error_line(capsys.readouterr().err)


def test_the_library_sweep_refuses_lr_beside_d_lr_too(tiny):
    with pytest.raises(ValueError, match="sets both learning rates") as exc:
        plan_sweep(tiny(), {"lr": [1e-3], "d_lr": [2e-3]})
    assert "\n" not in str(exc.value)


def test_ctrl_c_on_a_local_cluster_is_one_line_without_a_worker_traceback(tmp_path):
    # Ctrl-C in a terminal goes to the whole process group: each Dask worker died of it with a 30-line traceback.
    import signal
    import time

    js = tmp_path / "s.json"
    proc = _start([*RESUME_ARGV, "--workers", "2", "--json", str(js)], start_new_session=True)
    deadline = time.monotonic() + 300
    while not js.exists():  # the short pass is done, the long one is training on the other worker
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.splitlines()[-1].startswith("ganlib: interrupted by Ctrl-C: kept the 1 finished of 2 cells"), err
