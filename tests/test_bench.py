"""zlprof bench: enforced limits, warm-ups kept out, known answers, JSON, --compare, errors."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zlprof import bench
from zlprof.bench import (
    BenchError,
    BenchmarkConfig,
    BenchmarkRunner,
    compare_results,
    parse_size,
)
from zlprof.recording import load_session

MiB = 1 << 20

# A synthetic generator with known behaviour, driven by environment variables:
#   SYN_SLEEP (s per run), SYN_TOKENS (tokens per request), SYN_ROWS (requests per run),
#   SYN_WARM_SLEEP, SYN_WARM_TOKENS (s per call, tokens per call for the first SYN_WARM_CALLS
#   calls of each child),
#   SYN_HANG_AT / SYN_GROW_AT (call index of each child that sleeps / grows memory),
#   SYN_HOLD_MIB (MiB allocated and touched during every run, freed at its end).
GENERATOR = textwrap.dedent(
    """
    import os, time
    import numpy as np
    import zlprof

    class Res:
        def __init__(self, ids, n, texts):
            self.request_ids, self.generated, self.texts = ids, n, texts

    class Gen:
        def __init__(self, argv):
            e = os.environ
            self.sleep = float(e.get("SYN_SLEEP", "0.02"))
            self.tokens = int(e.get("SYN_TOKENS", "4"))
            self.warm_tokens = int(e.get("SYN_WARM_TOKENS", e.get("SYN_TOKENS", "4")))
            self.rows = int(e.get("SYN_ROWS", "1"))
            self.warm_sleep = float(e.get("SYN_WARM_SLEEP", "0"))
            self.warm_calls = int(e.get("SYN_WARM_CALLS", "0"))
            self.hang_at = int(e.get("SYN_HANG_AT", "-1"))
            self.grow_at = int(e.get("SYN_GROW_AT", "-1"))
            self.hold = int(e.get("SYN_HOLD_MIB", "0"))
            self.calls = 0
            zlprof.gauge("weights_bytes", 10 << 20)
            zlprof.gauge("kv_cache_bytes", 0)

        def run_request(self, k):
            call = self.calls
            self.calls += 1
            ids = [k * self.rows + b for b in range(self.rows)]
            for r in ids:
                zlprof.token(r, -1, "start")
            if call == self.hang_at:
                time.sleep(60)
            if call == self.grow_at:
                blocks = []
                for _ in range(200):          # up to 800 MiB, 4 MiB every 5 ms
                    blocks.append(np.ones(1 << 20, np.float32))
                    time.sleep(0.005)
                time.sleep(60)
            held = np.ones(self.hold * (1 << 18), np.float32) if self.hold else None
            zlprof.gauge("kv_cache_bytes", 2 << 20)
            warm = call < self.warm_calls
            pause = self.warm_sleep if warm else self.sleep
            n = self.warm_tokens if warm else self.tokens
            step = pause / n
            for i in range(n):
                time.sleep(step)
                for r in ids:
                    zlprof.token(r, i, "prefill" if i == 0 else "decode", "abc")
            for r in ids:
                zlprof.token(r, n, "end")
            del held
            return Res(ids, n * self.rows, ["abc" * n] * self.rows)

    def make(argv):
        return Gen(argv)
    """
)


@pytest.fixture
def gen_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "syngen.py").write_text(GENERATOR)
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return env


def run_synthetic(
    env: dict[str, str], config: BenchmarkConfig, record: Path | None = None, **syn: str
) -> bench.BenchmarkResult:
    env = {**env, **{f"SYN_{k.upper()}": str(v) for k, v in syn.items()}}
    with BenchmarkRunner(config, record=record, env=env) as runner:
        return runner.benchmark_generation(generator="syngen:make", name="syn")


def zlprof_bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    return subprocess.run(
        [sys.executable, "-m", "zlprof", "bench", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


# --------------------------------------------------------------------------- limits


def test_run_past_the_time_limit_is_stopped_counted_and_the_child_restarted(
    gen_env: dict[str, str], tmp_path: Path
) -> None:
    # each child hangs on its 4th call: 2 warm-ups + runs 0..1, then (restarted) runs 2..3
    cfg = BenchmarkConfig(warmup_runs=2, measurement_runs=5, max_time_per_run_ms=300)
    rec = tmp_path / "t.zlp"
    res = run_synthetic(gen_env, cfg, record=rec, sleep=0.01, hang_at=3)
    assert [i for i, _ in res.failures] == [1, 3]
    assert all("300 ms time limit" in why for _, why in res.failures)
    assert res.restarts == 2
    assert res.success_rate == pytest.approx(3 / 5)
    assert res.stats.count == 3  # failed runs never enter the statistics
    # (the only wall-clock facts asserted are those the limit itself implies: a run that
    # passed finished inside it, a stopped one ran at least that long)
    assert res.stats.max_ms < 300
    failed = [r for r in res.runs if not r.ok]
    assert all(r.duration_ms >= 300 for r in failed)  # stopped at the limit, not before
    # total duration: measured runs only, failed ones until they were stopped
    assert res.total_duration_ms == pytest.approx(sum(r.duration_ms for r in res.runs))
    # one recording for the whole bench; its report sees the measured runs
    state = load_session(rec)
    assert state.stats_for_name("bench_run").count == 3
    assert state.end_status == 0


def test_command_run_past_the_time_limit_is_stopped(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(30)\n")
    cfg = BenchmarkConfig(warmup_runs=0, measurement_runs=2, max_time_per_run_ms=250)
    with BenchmarkRunner(cfg) as runner:
        res = runner.benchmark_generation(command=[sys.executable, str(script)])
    assert res.success_rate == 0.0
    assert [i for i, _ in res.failures] == [0, 1]
    assert all("250 ms time limit" in why for _, why in res.failures)
    assert all(not r.ok and r.duration_ms >= 250 for r in res.runs)


def test_run_past_the_memory_limit_is_stopped_and_counted(
    gen_env: dict[str, str]
) -> None:
    # the 3rd call of each child grows by 4 MiB every 5 ms: measured run 1 of the first
    # child; the restarted child runs 2 as its 2nd call, under the limit
    cfg = BenchmarkConfig(
        warmup_runs=1, measurement_runs=3, max_time_per_run_ms=20_000, memory_limit=parse_size("150M")
    )
    res = run_synthetic(gen_env, cfg, sleep=0.01, grow_at=2)
    assert [i for i, _ in res.failures] == [1]
    why = res.failures[0][1]
    assert "memory limit" in why and "150.0 MiB" in why
    failed = res.runs[1]
    assert failed.peak_rss > 150 * MiB
    assert not failed.ok and res.restarts == 1  # stopped (and replaced), not slept out
    assert res.stats.count == 2
    assert res.memory.peak_usage < 150 * MiB  # failed runs do not enter the metrics


def test_memory_spike_between_polls_fails_the_run(gen_env: dict[str, str]) -> None:
    # the parent polls only once (at start-up); the child's own samples (every 50 ms)
    # still show each run's 48 MiB above the 60 MiB limit
    cfg = BenchmarkConfig(warmup_runs=0, measurement_runs=2, memory_limit=60 * MiB,
                          poll_interval_ms=60_000)
    res = run_synthetic(gen_env, cfg, sleep=0.15, hold_mib=48)
    assert res.success_rate == 0.0
    assert all("between two polls" in why for _, why in res.failures)
    assert res.restarts == 0  # nothing to stop: the runs had finished


# --------------------------------------------------------------------------- known answers


def test_warmups_never_enter_statistics_or_throughput(gen_env: dict[str, str]) -> None:
    # warm-up calls emit 7 tokens, measured ones 4: counts, not clocks, tell them apart
    cfg = BenchmarkConfig(warmup_runs=2, measurement_runs=4, max_time_per_run_ms=20_000)
    res = run_synthetic(gen_env, cfg, sleep=0.02, warm_tokens=7, warm_calls=2, tokens=4)
    assert res.stats.count == 4
    assert [r.tokens for r in res.runs] == [4, 4, 4, 4]
    assert res.ttft.count == 4  # one request per measured run, none from warm-ups
    # totals and throughput are over the measured runs only
    assert res.total_duration_ms == pytest.approx(sum(r.duration_ms for r in res.runs))
    secs = sum(r.duration_ns for r in res.runs) / 1e9
    assert res.throughput.tokens_per_second == pytest.approx(4 * 4 / secs)


def test_throughput_and_memory_metrics_have_known_answers(gen_env: dict[str, str]) -> None:
    # each run: 2 requests x 5 tokens of "abc" over 100 ms; 48 MiB allocated and touched
    cfg = BenchmarkConfig(warmup_runs=1, measurement_runs=3, max_time_per_run_ms=5000)
    res = run_synthetic(gen_env, cfg, sleep=0.1, tokens=5, rows=2, hold_mib=48)
    assert res.success_rate == 1.0
    secs = sum(r.duration_ns for r in res.runs) / 1e9
    assert secs >= 3 * 0.1  # each run sleeps at least 100 ms (sleep never returns early)
    t = res.throughput
    assert t.tokens_per_second == pytest.approx(3 * 10 / secs)
    assert t.requests_per_second == pytest.approx(3 * 2 / secs)
    assert t.characters_per_second == pytest.approx(3 * 2 * 15 / secs)
    assert t.batches_per_second == pytest.approx(3 / secs)
    assert t.tokens_per_second <= 10 / 0.1  # (the bound the sleeps imply; no lower bound)
    for r in res.runs:
        assert (r.tokens, r.characters, r.requests, r.batches) == (10, 30, 2, 1)
    m = res.memory
    # 48 MiB per run over 2 requests: ~24 MiB a request beyond the resident baseline
    assert 18 * MiB <= m.per_request_allocation <= 30 * MiB
    assert m.peak_usage >= min(r.start_rss for r in res.runs) + 40 * MiB
    assert 0 < m.average_usage <= m.peak_usage
    # useful bytes: the gauges weights_bytes (10 MiB) + kv_cache_bytes (2 MiB)
    assert m.efficiency == pytest.approx(12 * MiB / m.peak_usage)
    # latencies: 5 tokens 20 ms apart; TTFT is one step, TPOT and ITL one step
    assert res.ttft.count == 6 and res.itl.count == 6 * 4 and res.tpot.count == 6
    # (lower bounds only: a sleep never returns early, but a loaded machine stretches it)
    assert res.itl.median >= 18
    assert res.ttft.median >= 18
    for name in ("mean", "median", "p95", "p99"):
        assert getattr(res.tpot, name) >= 18


# --------------------------------------------------------------------------- JSON


CMD_SCRIPT = textwrap.dedent(
    """
    import sys, time, zlprof
    pause = float(sys.argv[1])
    for r in range(2):
        zlprof.token(r, -1, "start")
        for i in range(3):
            time.sleep(pause / 6)
            zlprof.token(r, i, "prefill" if i == 0 else "decode", "xy")
        zlprof.token(r, 3, "end")
    """
)

RESULT_KEYS = {
    "name", "params", "workload", "config", "stats", "throughput", "memory", "success_rate",
    "total_duration_ms", "runs_ok", "runs_failed", "restarts", "ttft_ms", "tpot_ms",
    "itl_ms", "failures", "warmup_failures", "runs",
}
LAT_KEYS = {"count", "mean", "median", "p95", "p99", "min", "max", "std"}


@pytest.fixture(scope="module")
def cmd_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A slow and a fast COMMAND bench (5 runs each), through the real CLI."""
    d = tmp_path_factory.mktemp("cmd")
    script = d / "prog.py"
    script.write_text(CMD_SCRIPT)
    slow, fast = d / "slow.json", d / "fast.json"
    for out, pause in ((slow, "1.2"), (fast, "0.06")):
        res = zlprof_bench("--warmup", "1", "--runs", "5", "--format", "json", "--out",
                           str(out), "--no-progress", "--", sys.executable, str(script), pause)
        assert res.returncode == 0, res.stderr
    return d, slow, fast


def test_json_schema(cmd_results: tuple[Path, Path, Path]) -> None:
    d, slow, _ = cmd_results
    doc = json.loads(slow.read_text())
    assert doc["schema"] == "zlprof.bench/1"
    assert set(doc) >= {"schema", "zlprof", "created", "host", "command", "config",
                        "recording", "statistics", "results"}
    assert doc["config"] == {"warmup_runs": 1, "measurement_runs": 5,
                             "max_time_per_run_ms": 10000.0, "memory_limit": None}
    (r,) = doc["results"]
    assert set(r) == RESULT_KEYS
    assert set(r["throughput"]) == {"requests_per_second", "tokens_per_second",
                                    "characters_per_second", "batches_per_second"}
    assert set(r["memory"]) == {"peak_usage", "average_usage", "per_request_allocation",
                                "efficiency"}
    for k in ("ttft_ms", "tpot_ms", "itl_ms"):
        assert set(r[k]) == LAT_KEYS
    assert r["success_rate"] == 1.0 and r["runs_ok"] == 5
    assert {"count", "median_ms", "p95_ms", "p99_ms", "avg_ms"} <= set(r["stats"])
    assert len(r["runs"]) == 5
    run0 = r["runs"][0]
    # COMMAND mode: tokens, characters and requests come from the program's token events
    assert (run0["tokens"], run0["characters"], run0["requests"], run0["batches"]) == (6, 12, 2, 1)
    assert r["ttft_ms"]["count"] == 10 and r["itl_ms"]["count"] == 20
    assert r["memory"]["peak_usage"] > 0 and r["memory"]["efficiency"] is None
    # the recording sits next to --out and opens as a session
    rec = Path(doc["recording"])
    assert rec == slow.with_suffix(".zlp") and rec.exists()
    state = load_session(rec)
    assert state.tokens_total == 6 * 6  # warm-up + 5 runs, request ids kept apart
    assert not state.requests  # every request of every execution ended


def test_compare_marks_a_known_difference(cmd_results: tuple[Path, Path, Path]) -> None:
    d, slow, fast = cmd_results
    script = d / "prog.py"
    out = d / "cmp.json"
    res = zlprof_bench("--warmup", "0", "--runs", "5", "--format", "json", "--out", str(out),
                       "--compare", str(slow), "--no-progress", "--",
                       sys.executable, str(script), "0.06")
    assert res.returncode == 0, res.stderr
    cmp_ = json.loads(out.read_text())["results"][0]["comparison"]
    assert cmp_["test"] == "mann-whitney-u"
    m = cmp_["metrics"]
    assert m["duration_ms"]["verdict"] == "faster"
    assert m["duration_ms"]["p_value"] < 0.05
    assert m["duration_ms"]["change"] < 0  # (its size depends on process start-up under load)
    assert m["tokens_per_second"]["verdict"] == "faster"
    assert m["itl_ms"]["verdict"] == "faster"
    assert "faster" in res.stdout  # the text table printed alongside --out


def test_compare_fail_on_exit_status(cmd_results: tuple[Path, Path, Path]) -> None:
    """--fail-on with --compare: exit 3 and one FAIL line per violation when the new runs
    are slower than the baseline's by more than the threshold; 0 otherwise."""
    d, slow, fast = cmd_results
    script = d / "prog.py"
    res = zlprof_bench("--warmup", "0", "--runs", "5", "--compare", str(fast), "--fail-on",
                       "duration_ms:p50>+20%", "--no-progress", "--",
                       sys.executable, str(script), "1.2")
    assert res.returncode == 3, res.stderr
    fails = [line for line in res.stderr.splitlines() if "FAIL" in line]
    assert len(fails) == 1 and "duration_ms median +" in fails[0]
    res = zlprof_bench("--warmup", "0", "--runs", "5", "--compare", str(slow), "--fail-on",
                       "p50>+5%", "--no-progress", "--", sys.executable, str(script), "0.06")
    assert res.returncode == 0, res.stderr
    assert "FAIL" not in res.stderr


def test_compare_results_verdicts() -> None:
    def result(durations: list[float]) -> dict:
        return {"name": "x", "runs": [
            {"ok": True, "duration_ms": d, "tokens_per_second": 100 / d, "peak_rss": 1000}
            for d in durations
        ]}

    rng = np.random.default_rng(1)
    base = list(20 + rng.random(8))
    slower = [d * 1.5 for d in base]
    m = compare_results(result(slower), result(base), "old.json")["metrics"]
    assert m["duration_ms"]["verdict"] == "slower"
    assert m["tokens_per_second"]["verdict"] == "slower"
    assert m["duration_ms"]["change"] == pytest.approx(0.5)
    assert m["peak_rss"]["verdict"] == "not significant"
    same = compare_results(result(list(base)), result(base), "old.json")["metrics"]
    assert same["duration_ms"]["verdict"] == "not significant"
    few = compare_results(result(slower[:3]), result(base[:3]), "old.json")["metrics"]
    assert few["duration_ms"]["verdict"] == "too few runs"


# --------------------------------------------------------------------------- end to end


def test_builtin_workload_sweep_end_to_end() -> None:
    res = zlprof_bench("--preset", "tiny", "--max-tokens", "8", "--warmup", "1", "--runs",
                       "3", "--batch", "1,2", "--format", "json", "--no-progress")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [r["params"] for r in doc["results"]] == [
        {"preset": "tiny", "batch": 1, "max_tokens": 8},
        {"preset": "tiny", "batch": 2, "max_tokens": 8},
    ]
    for r, batch in zip(doc["results"], (1, 2), strict=True):
        assert r["success_rate"] == 1.0 and r["stats"]["count"] == 3
        assert r["workload"]["batch"] == batch and r["workload"]["d_model"] == 256
        for run in r["runs"]:
            assert run["requests"] == batch and run["batches"] == 1
            assert 1 <= run["tokens"] <= 8 * batch
        assert r["throughput"]["tokens_per_second"] > 0
        assert r["throughput"]["requests_per_second"] == pytest.approx(
            2 * r["throughput"]["batches_per_second"] if batch == 2
            else r["throughput"]["batches_per_second"])
        assert r["ttft_ms"]["count"] == 3 * batch
        assert 0 < r["memory"]["efficiency"] < 1  # weights + KV cache over peak RSS
    rec = Path(doc["recording"])
    assert rec.exists() and "zlprof: recorded" in res.stderr
    state = load_session(rec)
    assert state.stats_for_name("bench_run").count == 6
    assert state.stats_for_name("bench_run/prefill").count == 6


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    "args, words",
    [
        (["--memory-limit", "12Q"], "--memory-limit"),
        (["--memory-limit", "0"], "--memory-limit"),
        (["--runs", "-1"], "--runs"),
        (["--warmup", "-2"], "--warmup"),
        (["--timeout-ms", "0"], "--timeout-ms"),
        (["--batch", "1,,2"], "--batch"),
        (["--batch", "0"], "--batch"),
        (["--preset", "tiny,huge"], "huge"),
        (["--requests", "0"], "--requests"),
        (["--compare", "/nonexistent/old.json"], "no such file"),
    ],
)
def test_bad_options_give_one_line(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("zlprof: error: ")
    assert words in err


def test_compare_file_that_is_not_a_bench_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("not json", json.dumps({"schema": "zlprof.report/1", "ops": {}}), "[]"):
        p = tmp_path / "old.json"
        p.write_text(text)
        assert bench.main(["--compare", str(p)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a zlprof bench JSON file" in err
    rec = tmp_path / "old.zlp"  # a binary file, as a recording given by mistake
    rec.write_bytes(b"\x89ZLPROF\n\x02\x00\x01\x00\xff\xfe")
    assert bench.main(["--compare", str(rec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a zlprof bench JSON file" in err
    assert "zlprof diff" in err


def test_bad_options_through_the_cli() -> None:
    res = zlprof_bench("--memory-limit", "12Q")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("zlprof: error: ")
    assert "Traceback" not in res.stderr


def test_parse_size() -> None:
    assert parse_size("512M") == 512 * MiB
    assert parse_size("2G") == 2 << 30
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    assert parse_size("64kb") == 64 << 10
    assert parse_size("1048576") == MiB
    for bad in ("12Q", "", "M", "-1G", "1.2.3M", "iB"):
        with pytest.raises(BenchError):
            parse_size(bad)


def test_setup_failure_is_one_line(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(warmup_runs=0, measurement_runs=1)
    with BenchmarkRunner(cfg) as runner, pytest.raises(BenchError, match="cannot import"):
        runner.benchmark_generation(generator="no_such_module_zz:make")
    assert math.isfinite(cfg.max_time_per_run_ms)
