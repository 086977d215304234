"""``systolic sweep``: axes and plans, the model's figures per point, the store, interruption and
resumption, local and Dask executors, real builds, the Pareto fronts and the report.

The model-only sweeps run in seconds; the default suite also builds one 2x2 iCEBreaker point
(and stops a 4x6 one that does not fit) through a Dask ``LocalCluster`` of two workers on the
loopback interface. The issue's four-build sweep, interrupted and resumed and then repeated
through Dask, is ``slow``.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from systolic.boards.platforms import board as get_board
from systolic.boards.top import default_engine_config
from systolic.host.errors import UsageError
from systolic.host.sweep.report import pareto_front
from systolic.host.sweep.space import expand, load_plan, parse_list, point_id, resolve
from systolic.rtl.config import ArrayConfig
from systolic.sim.engine_perf import gemm_perf

SWEEP = [sys.executable, "-m", "systolic.host.cli", "sweep"]
ICE_POINT = "icebreaker-engine-{r}x{c}-w8-output-stationary-p0-30mhz-s1"
#: A GEMM whose model takes seconds on a small iCEBreaker engine (over 100,000 jobs on 2x2): a
#: point that is still running when a test interrupts the sweep or kills its worker.
SLOW_GEMM = "1024,1024,1024"


def records_of(out):
    return {p.stem: json.loads(p.read_text()) for p in sorted((Path(out) / "points").glob("*.json"))}


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# Axes and plans ---------------------------------------------------------------------------

@pytest.mark.parametrize("axis, text, values", [
    ("rows", "4,8,16", [4, 8, 16]),
    ("rows", " 4 , 4,2", [4, 2]),
    ("clock_mhz", "100,150.5", [100.0, 150.5]),
    ("dataflow", "output-stationary,weight-stationary", ["output-stationary", "weight-stationary"]),
    ("design", "engine,array", ["engine", "array"]),
    ("placer", "heap, static", ["heap", "static"]),
])
def test_axis_lists(axis, text, values):
    assert parse_list(axis, text) == values


@pytest.mark.parametrize("argv, words", [
    (["--board", "icebreaker", "--rows", "4,x"], "--rows: 'x' is not a whole number"),
    (["--board", "nosuch"], "--board: "),
    (["--board", "icebreaker", "--clock-mhz", "0"], "--clock-mhz: '0' is not a frequency in MHz > 0"),
    (["--board", "icebreaker", "--design", "chip"], "--design: 'chip' is not one of engine, array"),
    (["--board", "icebreaker", "--placer", "anneal"],
     "--placer: 'anneal' is not one of heap, static, sa"),
    (["--board", "icebreaker", "--gemm", "4,4"], "--gemm: expected M,K,N"),
    (["--board", "icebreaker", "--jobs", "0"], "--jobs 0 is invalid"),
    (["--board", "icebreaker", "--worker-dir", "w"], "--worker-dir applies only with --scheduler"),
    (["--board", "icebreaker", "--scheduler", "localhost"], "--scheduler 'localhost' is invalid"),
    (["--rows", "2"], "--board: give at least one board"),
    (["--board", "icebreaker", "--workload", "nosuch.csv"], "--workload: nosuch.csv: no such file"),
    (["--board", "icebreaker", "--workload", "resnet18", "--gemm", "4,4,4"], "give one"),
    (["--board", "icebreaker", "--batch", "2"], "--batch 2 is invalid"),
    (["--board", "icebreaker", "--workload", "resnet18", "--batch", "0"], "--batch 0 is invalid"),
    (["--board", "icebreaker", "--workload", "resnet18", "--batch", "70000"],
     "--batch 70000 is invalid"),
])
def test_bad_input_exits_2_with_one_line(run_cli, tmp_path, argv, words):
    status, out, err = run_cli("sweep", *argv, "--out", tmp_path / "s")
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert not (tmp_path / "s").exists()


def test_plan_groups_defaults_and_overrides(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('seed = [1, 2]\ngemm = [8, 16, 24]\n'
                    '[[group]]\nboard = "icebreaker"\nrows = [2, 4]\n'
                    '[[group]]\nboard = "ulx3s-85f"\nclock-mhz = "125"\n')
    groups, gemm = load_plan(plan)
    assert gemm == (8, 16, 24)
    points = [resolve(p) for p in expand(groups)]
    ulx3s = get_board("ulx3s-85f").array
    assert [(p["board"], p["rows"], p["seed"]) for p in points] == [
        ("icebreaker", 2, 1), ("icebreaker", 2, 2), ("icebreaker", 4, 1), ("icebreaker", 4, 2),
        ("ulx3s-85f", ulx3s.rows, 1), ("ulx3s-85f", ulx3s.rows, 2)]
    # Unset axes are the board's defaults: what `systolic build --board NAME` builds.
    ulx = points[-1]
    assert (ulx["cols"], ulx["pipeline"], ulx["clock_mhz"], ulx["width"]) == (
        ulx3s.cols, ulx3s.pipeline, 125.0, 8)
    assert points[0]["clock_mhz"] == 30.0 and points[0]["cols"] == 4
    # The command line's axis replaces the plan's everywhere.
    assert {p["seed"] for p in map(resolve, expand(groups, {"seed": [7]}))} == {7}
    assert len({point_id(p) for p in points}) == len(points)


def test_the_placer_axis_keeps_the_ids_of_nextpnrs_own_placer():
    heap, static = map(resolve, expand([{"board": ["icebreaker"], "placer": ["heap", "static"]}]))
    default = resolve(expand([{"board": ["icebreaker"]}])[0])
    assert default["placer"] == heap["placer"] == "heap"
    # Ids of points on nextpnr's default placer are those of the sweeps before the axis.
    assert point_id(default) == point_id(heap) == ICE_POINT.format(r=4, c=4)
    assert point_id(static) == ICE_POINT.format(r=4, c=4) + "-static"


def test_a_sweep_builds_with_the_placer_of_its_point(run_cli, tmp_path):
    out = tmp_path / "s"
    status, _, err = run_cli("sweep", "--board", "icebreaker", "--rows", "2", "--cols", "2",
                             "--placer", "static", "--build", "--timeout", "900",
                             "--out", out, "--json")
    assert status == 0, err
    record = records_of(out)[ICE_POINT.format(r=2, c=2) + "-static"]
    assert record["status"] == "ok", record["reason"]
    assert record["point"]["placer"] == record["build"]["placer"] == "static"
    log = (Path(record["build"]["build_dir"]) / "top.build.log").read_text()
    assert re.search(r"nextpnr-ice40 .*--placer static", log)


def test_plan_with_an_unknown_key(run_cli, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('board = "icebreaker"\nrowz = [2]\n')
    status, _, err = run_cli("sweep", plan, "--out", tmp_path / "s")
    assert status == 2 and "unknown key 'rowz'" in err and "known: board" in err
    # A GEMM is the whole sweep's, not a group's.
    plan.write_text('board = "icebreaker"\n[[group]]\nrows = 2\ngemm = [8, 8, 8]\n')
    with pytest.raises(UsageError, match="group 1: unknown key 'gemm'"):
        load_plan(plan)
    with pytest.raises(UsageError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("rows = [")
        load_plan(tmp_path / "bad.toml")


# The model's figures, the store and the report -----------------------------------------------

def test_pareto_front_is_the_undominated_set():
    rng = np.random.default_rng(5)
    items = [(int(x), int(y)) for x, y in rng.integers(0, 12, size=(60, 2))] + [(3, None)]
    front = pareto_front(items, lambda p: p[0], lambda p: p[1])
    scored = [p for p in items if p[1] is not None]

    def dominated(p):
        return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in scored)
    # Every undominated point is on the front once (ties: the first of equal points).
    assert set(front) == {p for p in scored if not dominated(p)}
    assert len(front) == len(set(front)) and [p[0] for p in front] == sorted(p[0] for p in front)


MODEL_ARGS = ["--board", "icebreaker,ulx3s-85f", "--rows", "2,4", "--cols", "4",
              "--dataflow", "output-stationary,weight-stationary", "--gemm", "24,40,36"]


@pytest.fixture(scope="module")
def model_sweep(tmp_path_factory):
    """A model-only sweep on local worker processes."""
    out = tmp_path_factory.mktemp("model") / "s"
    proc = subprocess.run([*SWEEP, *MODEL_ARGS, "--jobs", "2", "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=600)
    return proc, out


def test_model_sweep_figures(model_sweep):
    proc, out = model_sweep
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    records = records_of(out)
    assert summary["points"] == len(records) == 8
    assert summary["counts"] == {"ok": 8}
    for record in records.values():
        point = record["point"]
        assert record["id"] == point_id(point)
        # The point is what `systolic build` would build: the board's engine around the array.
        board = get_board(point["board"])
        engine = default_engine_config(board, ArrayConfig(rows=point["rows"], cols=point["cols"],
                                                          pipeline=point["pipeline"],
                                                          dataflow=point["dataflow"]))
        clock = board.clock_plan(point["clock_mhz"] * 1e6).f_out
        perf = gemm_perf(engine, 24, 40, 36)
        model = record["model"]
        assert model["macs"] == point["rows"] * point["cols"]
        assert model["peak_gops"] == pytest.approx(2 * model["macs"] * clock / 1e9)
        assert model["sustained_gops"] == pytest.approx(2 * 24 * 40 * 36 * clock
                                                        / perf.total_cycles / 1e9)
        assert model["sustained_gops"] < model["peak_gops"]
        assert model["gemms"] == [{**perf.to_dict(), "count": 1}]
        buffers = model["buffers"]
        assert (buffers["k_depth"], buffers["m_blocks"], buffers["n_blocks"]) == (
            engine.k_depth, engine.m_blocks, engine.n_blocks)
        assert buffers["max_job"] == [engine.max_m, engine.max_k, engine.max_n]
        assert record["build"] is None


def test_model_sweep_report(model_sweep):
    proc, out = model_sweep
    summary = json.loads(proc.stdout)
    records = records_of(out)
    # Only the iCE40 UP5K has a catalog price: the 85F is left out of the price front, said so.
    assert summary["pictures"]["luts"] is None and Path(summary["pictures"]["price"]).is_file()
    assert any("LFE5U-85F" in note and "price" in note for note in summary["notes"])
    priced = [r for r in records.values() if r["status"] == "ok" and r["device"] == "iCE40UP5K"]
    best = max(priced, key=lambda r: r["model"]["sustained_gops"])
    assert summary["fronts"]["price"][0] == best["id"]
    page = (out / "sweep.html").read_text()
    assert page.count("data:image/png;base64,") == 1
    assert not re.search(r'(src|href)="(?!data:)', page), "the page must not load anything"
    for record in records.values():
        assert f'title="{record["id"]}"' in page
    assert "weight-stationary" in page and "LFE5U-85F" in page
    assert sorted(json.loads((out / "sweep.json").read_text())["points"]) == sorted(records)


def test_workload_sweep_is_the_workload_report(run_cli, tmp_path):
    """`--workload`: a point's sustained figure is the network's, as `systolic workload` gives
    it for the same design and clock (all layers' operations over all their cycles)."""
    out = tmp_path / "s"
    status, stdout, err = run_cli("sweep", "--board", "icebreaker", "--rows", "2,4", "--cols", "4",
                                  "--workload", "resnet18", "--batch", "2", "--jobs", "1",
                                  "--out", out, "--json")
    assert status == 0, err
    records = records_of(out)
    assert len(records) == 2
    for record in records.values():
        point, model = record["point"], record["model"]
        assert record["settings"]["workload"] == "resnet18"
        assert sum(g["count"] for g in model["gemms"]) == sum(g[3] for g in
                                                             record["settings"]["gemms"])
        status, text, err = run_cli("workload", "resnet18", "--board", "icebreaker",
                                    "--rows", str(point["rows"]), "--cols", str(point["cols"]),
                                    "--batch", "2", "--clock-mhz", str(point["clock_mhz"]),
                                    "--json")
        assert status == 0, err
        totals = json.loads(text)["totals"]
        clock_scale = model["clock_mhz"] / point["clock_mhz"]    # the PLL's clock, not the asked
        assert model["sustained_gops"] == pytest.approx(totals["sustained_gops"] * clock_scale)
        assert model["sustained_efficiency"] == pytest.approx(totals["sustained_efficiency"])
    assert "the workload resnet18" in (out / "sweep.html").read_text()
    # Another workload (or batch) is another question: --resume runs the points again.
    status, stdout, _ = run_cli("sweep", "--board", "icebreaker", "--rows", "2,4", "--cols", "4",
                                "--workload", "resnet18", "--jobs", "1", "--out", out, "--resume",
                                "--json")
    assert status == 0 and json.loads(stdout)["ran"] == 2


def test_a_store_is_not_overwritten_without_resume(model_sweep, run_cli):
    _, out = model_sweep
    before = records_of(out)
    status, _, err = run_cli("sweep", *MODEL_ARGS, "--out", out)
    assert status == 2 and "--resume" in err
    assert records_of(out) == before


def test_resume_skips_finished_points(model_sweep, tmp_path, run_cli):
    _, source = model_sweep
    out = tmp_path / "s"
    (out / "points").mkdir(parents=True)
    kept = sorted(records_of(source))[:3]
    for name in kept:
        (out / "points" / f"{name}.json").write_text((source / "points" / f"{name}.json").read_text())
    status, stdout, err = run_cli("sweep", *MODEL_ARGS, "--out", out, "--resume", "--json",
                                  "--jobs", "2")
    assert status == 0, err
    summary = json.loads(stdout)
    # The points not kept ran (every point of MODEL_ARGS is valid: the engine has both dataflows).
    to_run = [k for k in records_of(source) if k not in kept]
    assert (summary["resumed"], summary["ran"]) == (3, len(to_run))
    after = records_of(out)
    assert len(after) == 8 and all(after[k] == records_of(source)[k] for k in kept)


def _default_sigint():
    # A test run started in the background (`make test &`) inherits SIGINT ignored, and Python
    # then leaves it ignored: the sweep gets Ctrl-C as a terminal would give it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_then_resume(argv, out, sig, total, timeout):
    """Run the sweep ``argv``, stop it with ``sig`` once its first point is stored, check what
    it kept, resume it; return ``(records kept, records at the end)``."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    wait_for(lambda: records_of(out) or proc.poll() is not None, timeout, "the first point")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "--resume" in err.strip().splitlines()[-1]
    first = records_of(out)
    assert 1 <= len(first) < total
    resumed = subprocess.run([*argv, "--resume", "--json"], capture_output=True, text=True,
                             timeout=timeout * total)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    # Only the missing points ran; the kept ones are as they were.
    assert (summary["resumed"], summary["ran"]) == (len(first), total - len(first))
    after = records_of(out)
    assert len(after) == total and all(after[k] == v for k, v in first.items())
    return first, after


def test_interrupted_sweep_keeps_finished_points_and_resumes(tmp_path):
    out = tmp_path / "s"
    # A GEMM of many jobs on the UP5K's small buffers (131,072 on 2x2, 32,768 on 4x4), so the
    # model takes about a second a point on one worker: time to interrupt after the first.
    argv = [*SWEEP, "--board", "icebreaker", "--rows", "2,4", "--cols", "2,4", "--jobs", "1",
            "--gemm", SLOW_GEMM, "--out", str(out)]
    interrupt_then_resume(argv, out, signal.SIGINT, 4, 300)


def test_a_stop_while_a_worker_starts_leaves_no_worker(tmp_path, monkeypatch):
    """Ctrl-C landing just after a worker process has started (before the sweep has it among
    its running workers) still stops that worker: nothing is left running behind the sweep."""
    import multiprocessing
    from systolic.host.sweep.executors import run_local
    forkserver_process = multiprocessing.get_context("forkserver").Process
    started, real_start = [], forkserver_process.start

    def start_then_stop(process):
        real_start(process)
        started.append(process)
        os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(forkserver_process, "start", start_then_stop)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        point = resolve(expand([{"board": ["icebreaker"], "rows": [2], "cols": [2]}])[0])
        settings = {"gemms": [[int(x) for x in SLOW_GEMM.split(",")]], "workload": None,
                    "build": False, "timeout": None, "bitstream": False,
                    "build_root": str(tmp_path)}
        with pytest.raises(KeyboardInterrupt):
            run_local([(point, settings)], 1, lambda record: pytest.fail("a point finished"))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(started) == 1 and not started[0].is_alive()
    assert started[0].exitcode is not None


def test_a_stop_through_another_thread_waits_until_the_worker_is_recorded():
    """A process-directed Ctrl-C may be taken by any thread that does not block it (a
    library's), and Python then raises it in the main thread at once: while a worker is
    started and recorded it is held all the same, and raised after."""
    import threading
    from systolic.host.sweep.executors import _stops_held
    go = threading.Event()
    other = threading.Thread(target=lambda: go.wait() and os.kill(os.getpid(), signal.SIGINT))
    other.start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with _stops_held():
                go.set()
                other.join()
                time.sleep(0.2)
                reached = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached


def test_a_killed_worker_fails_its_point_only(tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "s"
    # 2x2 first: seconds on the model, long enough to be killed while it runs.
    proc = subprocess.Popen([*SWEEP, "--board", "icebreaker", "--rows", "2,4", "--cols", "2",
                             "--gemm", SLOW_GEMM, "--jobs", "1", "--out", str(out), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def workers():
        # The sweep's children: the fork server, whose children are the workers.
        return [w for child in psutil.Process(proc.pid).children()
                for w in child.children() if child.is_running()]
    try:
        wait_for(lambda: workers() or proc.poll() is not None, 120, "a worker")
        workers()[0].kill()
    except psutil.NoSuchProcess:
        pytest.fail("the worker finished before it could be killed")
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    records = records_of(out)
    failed = records[ICE_POINT.format(r=2, c=2)]
    assert failed["status"] == "failed" and "died (signal 9)" in failed["reason"]
    assert records[ICE_POINT.format(r=4, c=2)]["status"] == "ok"
    assert json.loads(stdout)["counts"] == {"failed": 1, "ok": 1}


# Dask --------------------------------------------------------------------------------------

def local_cluster(workers=2):
    """A Dask cluster of single-threaded worker processes on the loopback interface."""
    distributed = pytest.importorskip("distributed")
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None)


@pytest.fixture(scope="module")
def cluster():
    """The scheduler address of a two-worker :func:`local_cluster`."""
    with local_cluster() as local:
        yield local.scheduler_address


def _figures(record):
    """What a record says about its point, without where and when it ran."""
    keep = {k: v for k, v in record.items() if k not in ("host", "seconds", "finished", "log")}
    if keep.get("build"):
        build = keep["build"]
        keep["build"] = {k: build[k] for k in ("fits", "lut", "ff", "dsp", "bram", "fmax_mhz",
                                               "target_mhz", "timing_met", "peak_gops",
                                               "sustained_gops")}
    return keep


def test_dask_model_sweep_matches_local(model_sweep, cluster, tmp_path, run_cli):
    _, local = model_sweep
    status, _, err = run_cli("sweep", *MODEL_ARGS, "--scheduler", cluster, "--out", tmp_path / "s")
    assert status == 0, err
    assert "on the Dask cluster at tcp://127.0.0.1:" in err
    remote = records_of(tmp_path / "s")
    assert {k: _figures(v) for k, v in remote.items()} == {
        k: _figures(v) for k, v in records_of(local).items()}


def test_unreachable_scheduler(run_cli, tmp_path):
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        status, _, err = run_cli("sweep", "--board", "icebreaker", "--rows", "2", "--cols", "2",
                                 "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "s",
                                 "--quiet")
    assert status == 2 and "--scheduler tcp://127.0.0.1:9: cannot connect" in err


def read_tim(path):
    """The LUT line and the last Fmax of the main clock in a nextpnr log."""
    text = Path(path).read_text()
    lut = re.search(r"ICESTORM_LC:\s+(\d+)/\s*(\d+)", text)
    fmax = re.findall(r"Max frequency for clock\s+'[^']*clk[^']*': ([\d.]+) MHz", text)
    return (int(lut.group(1)), int(lut.group(2))), float(fmax[-1]) if fmax else None


def test_dask_real_build(cluster, tmp_path, run_cli):
    """One 2x2 iCEBreaker point built on a worker, its bitstream brought back."""
    out, work = tmp_path / "s", tmp_path / "workers"
    status, stdout, err = run_cli("sweep", "--board", "icebreaker", "--rows", "2", "--cols", "2",
                                  "--build", "--scheduler", cluster, "--worker-dir", work,
                                  "--bitstreams", "--timeout", "900", "--out", out, "--json")
    assert status == 0, err
    built = records_of(out)[ICE_POINT.format(r=2, c=2)]
    assert built["status"] == "ok", built["reason"]
    build = built["build"]
    assert Path(build["build_dir"]) == work / built["id"]
    (lut, available), fmax = read_tim(Path(build["build_dir"]) / "top.tim")
    assert (build["lut"]["used"], build["lut"]["available"]) == (lut, available)
    assert build["fmax_mhz"] == pytest.approx(fmax, abs=0.01)
    assert build["timing_met"] == (fmax >= build["target_mhz"])
    clock = min(fmax, build["target_mhz"])
    assert build["peak_gops"] == pytest.approx(2 * 4 * clock / 1e3, abs=1e-3)
    assert build["sustained_gops"] == pytest.approx(
        built["model"]["sustained_gops"] * clock / built["model"]["clock_mhz"])
    fetched = Path(build["fetched_bitstream"])
    assert fetched.parent == out / "builds" / built["id"]
    assert fetched.read_bytes() == Path(build["bitstream"]).read_bytes()
    assert "bitstream_base64" not in (out / "points" / f"{built['id']}.json").read_text()
    summary = json.loads(stdout)
    assert summary["fronts"]["luts"] == [built["id"]]
    assert (out / "pareto-luts.png").stat().st_size > 0 and (out / "sweep.html").is_file()


@pytest.mark.slow
def test_a_design_that_does_not_fit_names_the_resource(run_cli, tmp_path):
    """A 4x6 iCEBreaker engine: eight PEs in logic cells overflow the UP5K's LUTs."""
    out = tmp_path / "s"
    status, _, err = run_cli("sweep", "--board", "icebreaker", "--rows", "4", "--cols", "6",
                             "--build", "--jobs", "1", "--timeout", "900", "--out", out)
    assert status == 0, err
    record = records_of(out)[ICE_POINT.format(r=4, c=6)]
    assert record["status"] == "no-fit"
    overflow = record["build"]["overflow"]
    assert overflow["resource"] == "lut" and overflow["used"] > overflow["available"] == 5280
    assert f"{overflow['used']} used, 5280 available" in record["reason"]
    assert Path(record["log"]).is_file()
    assert "no-fit" in (out / "sweep.html").read_text()


# The issue's sweep: four real builds (slow) --------------------------------------------------

ISSUE_ARGS = ["--rows", "2,4", "--cols", "2,4", "--board", "icebreaker", "--build"]
# Two builds at once (two local workers, two Dask workers), as the issue has it;
# SYSTOLIC_TEST_BUILD_JOBS=1 builds one at a time, on a machine shared with other builds.
BUILD_JOBS = os.environ.get("SYSTOLIC_TEST_BUILD_JOBS", "2")


@pytest.mark.slow
def test_issue_sweep_interrupted_resumed_and_on_dask(tmp_path, run_cli):
    out = tmp_path / "S"
    argv = [*SWEEP, *ISSUE_ARGS, "--jobs", BUILD_JOBS, "--timeout", "1200", "--out", str(out)]
    # A killed sweep (SIGTERM) stops like Ctrl-C: finished points kept, builds stopped.
    _, records = interrupt_then_resume(argv, out, signal.SIGTERM, 4, 1800)
    assert all(r["status"] == "ok" and r["build"]["fits"] for r in records.values())
    for name in ("pareto-luts.png", "pareto-price.png", "sweep.html", "sweep.json"):
        assert (out / name).is_file(), name

    with local_cluster(int(BUILD_JOBS)) as local:
        status, _, err = run_cli("sweep", *ISSUE_ARGS, "--scheduler", local.scheduler_address,
                                 "--timeout", "1200", "--worker-dir", tmp_path / "w",
                                 "--out", tmp_path / "D")
    assert status == 0, err
    remote = records_of(tmp_path / "D")
    assert {k: _figures(v) for k, v in remote.items()} == {
        k: _figures(v) for k, v in records.items()}
