"""The generation loop and its instrumentation: stage names per depth, costs on the leaves,
token events, the KV gauge, reproducible text, options and one-line errors, SIGTERM, and
the end-to-end `zlprof record --preset tiny`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zlprof.profiler.default
from zlprof import protocol
from zlprof.profiler import Profiler
from zlprof.workload.__main__ import main as workload_main
from zlprof.workload.costs import CostModel
from zlprof.workload.generate import GenerationConfig, Workload
from zlprof.workload.instrument import LAYER_OPS
from zlprof.workload.model import Model, random_weights
from zlprof.workload.options import add_workload_arguments, resolve, workload_argv
from zlprof.workload.presets import ModelConfig, WorkloadError
from zlprof.workload.sampling import SamplingConfig
from zlprof.workload.tokenizer import builtin_tokenizer

SEED_NAMES = {"tokenize", "prefill", "forward_pass", "kv_cache_update", "sampling", "decode"}
CFG = ModelConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn=48, vocab=600, context=96)


class CaptureSink:
    """A profiler sink that keeps the raw frames."""

    broken = False

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def frames(self) -> list[Any]:
        return protocol.FrameDecoder().feed(bytes(self.data))


def _paths(frames: list[Any]) -> dict[int, str]:
    parents: dict[int, tuple[int, str]] = {}
    for fr in frames:
        if fr.kind == "names":
            for pid, parent, name in fr.body["paths"]:
                parents[pid] = (parent, name)

    def full(pid: int) -> str:
        parent, name = parents[pid]
        return name if parent <= 0 else f"{full(parent)}/{name}"

    return {pid: full(pid) for pid in parents}


def _costs(frames: list[Any]) -> dict[str, list[int]]:
    paths = _paths(frames)
    out: dict[str, list[int]] = {}
    for fr in frames:
        if fr.kind == "costs":
            for pid, calls, flops, nbytes in fr.body["rows"]:
                c = out.setdefault(paths[pid], [0, 0, 0])
                c[0] += calls
                c[1] += flops
                c[2] += nbytes
    return out


def _measured(frames: list[Any]) -> set[str]:
    paths = _paths(frames)
    seen: set[str] = set()
    for fr in frames:
        if fr.kind == "meas":
            seen.update(paths[int(p)] for p in fr.body["path"])
    return seen


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(CFG, random_weights(CFG, 0))


def _run(model: Model, depth: str, batch: int = 2, max_tokens: int = 5, enabled: bool = True):  # type: ignore[no-untyped-def]
    sink = CaptureSink()
    prof = Profiler(enabled=enabled, memory="blocks", sink=sink)  # type: ignore[arg-type]
    gen = GenerationConfig(
        batch=batch,
        max_tokens=max_tokens,
        sampling=SamplingConfig(seed=3),
        stop_at_eos=False,
    )
    wl = Workload(model, builtin_tokenizer(CFG.vocab), gen, prof, depth)
    res = wl.run_request(0)
    prof.sample_memory()
    prof.flush()
    return res, sink.frames(), wl


# --------------------------------------------------------------------------- names and costs


def test_ops_depth_has_every_seed_name_and_the_drill_down(model: Model) -> None:
    _, frames, _ = _run(model, "ops")
    seen = _measured(frames)
    names = {p.rsplit("/", 1)[-1] for p in seen}
    assert SEED_NAMES <= names
    for top in ("prefill", "forward_pass"):
        for i in range(CFG.n_layers):
            for op in LAYER_OPS:
                assert f"{top}/layer{i}/{op}" in seen
        for op in ("embed", "final_norm", "lm_head"):
            assert f"{top}/{op}" in seen
    assert {"tokenize", "sampling", "decode"} <= seen


def test_depths_nest_and_costs_sit_on_the_leaves(model: Model) -> None:
    totals = {}
    for depth in ("coarse", "layers", "ops"):
        _, frames, _ = _run(model, depth)
        seen = _measured(frames)
        costs = _costs(frames)
        depth_of = {p: p.count("/") for p in seen}
        if depth == "coarse":
            assert seen == {"tokenize", "prefill", "forward_pass", "sampling", "decode"}
        elif depth == "layers":
            assert max(depth_of.values()) == 1
            assert "forward_pass/layer1" in seen and "forward_pass/lm_head" in seen
        else:
            assert max(depth_of.values()) == 2
        # costs only on measured blocks that have no measured children
        for p in costs:
            assert p in seen
            assert not any(q.startswith(p + "/") for q in seen), f"cost on non-leaf {p}"
        assert "sampling" in costs
        fwd = [0, 0]
        for p, (calls, flops, nbytes) in costs.items():
            assert calls > 0 and (flops > 0 or nbytes > 0)
            if p.startswith(("prefill", "forward_pass")):
                fwd[0] += flops
                fwd[1] += nbytes
        totals[depth] = tuple(fwd)
    # the same work, whichever depth reports it
    assert totals["coarse"] == totals["layers"] == totals["ops"]


def test_each_op_reports_one_cost_per_call(model: Model) -> None:
    _, frames, _ = _run(model, "ops", max_tokens=4)
    costs = _costs(frames)
    counts: dict[str, int] = {}
    paths = _paths(frames)
    for fr in frames:
        if fr.kind == "meas":
            for p in fr.body["path"]:
                counts[paths[int(p)]] = counts.get(paths[int(p)], 0) + 1
    for p, (calls, _, _) in costs.items():
        assert calls == counts[p], p
    assert costs["forward_pass/layer0/rmsnorm"][0] == 2 * 3  # twice a layer, 3 decode steps


def test_no_profile_records_nothing_but_runs_the_same(model: Model) -> None:
    res_on, _, _ = _run(model, "ops")
    res_off, frames, _ = _run(model, "ops", enabled=False)
    assert {fr.kind for fr in frames} <= {"hello", "mem"}
    assert res_on.tokens == res_off.tokens and res_on.texts == res_off.texts


# --------------------------------------------------------------------------- tokens, memory


def test_token_events_follow_the_protocol(model: Model) -> None:
    res, frames, _ = _run(model, "coarse", batch=3, max_tokens=6)
    rows = [r for fr in frames if fr.kind == "tokens" for r in fr.body["rows"]]
    by_req: dict[int, list[Any]] = {}
    for t, req, index, phase, piece in rows:
        by_req.setdefault(req, []).append((t, index, phase, piece))
    assert sorted(by_req) == res.request_ids == [0, 1, 2]
    for b, req in enumerate(res.request_ids):
        ev = by_req[req]
        assert [e[0] for e in ev] == sorted(e[0] for e in ev)
        assert ev[0][1:3] == (-1, "start")
        assert ev[1][1:3] == (0, "prefill")
        n = len(res.tokens[b])
        assert [e[1:3] for e in ev[2:-1]] == [(i, "decode") for i in range(1, n)]
        assert ev[-1][1:3] == (n, "end")
        assert "".join(e[3] for e in ev[1:-1]) == res.texts[b]


def test_kv_cache_gauge_reports_the_bytes_in_use(model: Model) -> None:
    res, frames, wl = _run(model, "coarse", batch=2, max_tokens=5)
    mem = [fr for fr in frames if fr.kind == "mem"]
    kv = [v for fr in mem for v in fr.body["gauges"].get("kv_cache_bytes", [])]
    P = max(res.prompt_tokens)
    positions = P + 5 - 1
    assert kv[-1] == wl.cache.nbytes_used == positions * 2 * CFG.n_layers * 2 * CFG.kv_dim * 4


def test_requests_repeat_with_new_ids_and_prompts(model: Model) -> None:
    gen = GenerationConfig(batch=2, max_tokens=3, requests=3, sampling=SamplingConfig(seed=1))
    wl = Workload(model, builtin_tokenizer(CFG.vocab), gen)
    results: list[Any] = []
    assert wl.run(results.append) == 3
    assert [r.request_ids for r in results] == [[0, 1], [2, 3], [4, 5]]
    assert results[0].prompts != results[1].prompts
    assert wl.tokens_generated == sum(r.generated for r in results) == 18


def test_rows_stop_at_eos(model: Model) -> None:
    tok = builtin_tokenizer(CFG.vocab)

    class EosAfterTwo(Model):
        calls = 0

        def forward(self, *a: Any, **k: Any) -> np.ndarray:
            logits = super().forward(*a, **k)
            EosAfterTwo.calls += 1
            if EosAfterTwo.calls >= 3:  # row 1 ends after its 2nd token; row 0 keeps going
                logits[1, tok.eos_id] = 1e9
            return logits

    gen = GenerationConfig(batch=2, max_tokens=5, sampling=SamplingConfig(temperature=0.0))
    wl = Workload(EosAfterTwo(CFG, model.w), tok, gen)
    res = wl.run_request(0)
    assert len(res.tokens[0]) == 5 and len(res.tokens[1]) == 2
    assert tok.eos_id not in res.tokens[1]


# --------------------------------------------------------------------------- costs by hand


def test_cost_formulas_against_hand_counts() -> None:
    # d=8, H=2, Hkv=1 (hs=4, kvd=4, Q=d+2kvd=16), ffn=12, V=16, one layer; decode: B=1, S=1, T=3
    cfg = ModelConfig(d_model=8, n_layers=1, n_heads=2, n_kv_heads=1, ffn=12, vocab=16, context=8)
    c = CostModel(cfg).forward(B=1, S=1, T=3)
    assert c.embed == (0, 4 * (8 + 8))  # gather a row, write x
    # x.x 2d, /d, +eps, sqrt, 1/x (4), scale d, gain d; x in, out, gain
    assert c.rmsnorm == (4 * 8 + 4, 4 * (8 + 8 + 8))
    assert c.qkv == (2 * 16 * 8, 4 * (16 * 8 + 8 + 16))  # 256 FLOPs, 608 bytes
    assert c.rope == (3 * 12, 4 * (2 * 12 + 4))  # 6 pairs x 6 FLOPs; q,k in/out + cos|sin
    assert c.kv_update == (0, 4 * 4 * 4)  # k,v (4 floats each) read + written
    # 2 heads x 3 keys = 6 scores: dot of 4 -> 8 FLOPs each + the 1/sqrt(hs) scale
    assert c.scores == (6 * 8 + 6, 4 * (8 + 3 * 4 + 6))
    assert c.softmax == (5 * 6, 4 * 2 * 6)
    # probs@V: 6 x 8 FLOPs; Wo mat-vec 2*8*8; residual add 8
    assert c.out == (48 + 128 + 8, 4 * (6 + 12 + 64 + 8 + 8))
    assert c.gate_up == (2 * 24 * 8 + 5 * 12, 4 * (24 * 8 + 8 + 12))
    assert c.down == (2 * 8 * 12 + 8, 4 * (8 * 12 + 12 + 8 + 8))
    assert c.final_norm == (36, 96)
    assert c.lm_head == (2 * 16 * 8, 4 * (16 * 8 + 8 + 16))
    assert c.layer == (1276, 2864)
    assert c.total == (0 + 1276 + 36 + 256, 64 + 2864 + 96 + 608)


def test_matvec_intensity_is_half_a_flop_per_byte() -> None:
    cfg = ModelConfig(
        d_model=4096, n_layers=1, n_heads=32, n_kv_heads=32, ffn=11008, vocab=32000, context=8
    )
    c = CostModel(cfg).forward(1, 1, 1)
    for flops, nbytes in (c.qkv, c.gate_up, c.down, c.lm_head):
        assert flops / nbytes == pytest.approx(0.5, rel=0.01)
    big = CostModel(cfg).forward(64, 1, 1)  # batch 64 reuses each weight 64 times
    assert big.qkv[0] / big.qkv[1] > 20


# --------------------------------------------------------------------------- command line


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() configures the process-wide profiler; give each call its own
    monkeypatch.setattr(zlprof.profiler.default, "_default", None)
    monkeypatch.delenv("ZLPROF_FD", raising=False)


def _main_out(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    zlprof.profiler.default._default = None
    code = workload_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


TINY = ["--preset", "tiny", "--max-tokens", "8", "--batch", "2"]


def test_same_seed_same_text(fresh_default: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, a, err = _main_out([*TINY, "--no-profile"], capsys)
    assert code == 0 and "tok/s" in err
    _, b, _ = _main_out([*TINY, "--no-profile"], capsys)
    _, c, err_c = _main_out([*TINY, "--profile-depth", "ops"], capsys)  # instrumented
    _, d, _ = _main_out([*TINY, "--no-profile", "--seed", "1"], capsys)
    assert a == b == c
    assert a != d
    lines = a.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Once upon a time")
    assert "forward_pass" in err_c  # the report goes to stderr


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--batch", "-1"], "--batch"),
        (["--batch", "x"], "integer"),
        (["--top-p", "0"], "--top-p"),
        (["--temperature", "-1"], "--temperature"),
        (["--n-heads", "7"], "does not divide"),
        (["--n-kv-heads", "3"], "does not divide"),
        (["--context", "4"], "shorter than the prompt"),
        (["--vocab", "999999"], "larger than the built-in tokenizer"),
        (
            ["--weights", "/nonexistent/model.bin", "--tokenizer", "/nonexistent/t.bin"],
            "no such file",
        ),
        (["--weights", "/nonexistent/model.bin"], "go together"),
        (["--profile-depth", "deep"], "--profile-depth"),
    ],
)
def test_bad_values_are_one_line_exit_2(
    argv: list[str], msg: str, fresh_default: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ei:
        raise SystemExit(workload_main(["--preset", "tiny", *argv]))
    out, err = capsys.readouterr()
    assert ei.value.code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert msg in err and "Traceback" not in err


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_workload_arguments(p)
    return p.parse_args(argv)


def test_workload_argv_round_trips() -> None:
    argv = ["--preset", "medium", "--batch", "3", "--prompt", "-dash first", "--top-p", "0.5",
            "--no-profile", "--n-layers", "2", "--temperature", "0"]  # fmt: skip
    ns = _parse(argv)
    again = _parse(workload_argv(ns))
    assert vars(again) == vars(ns)
    assert workload_argv(_parse([])) == []
    spec = resolve(ns)
    assert spec.model is not None and spec.model.n_layers == 2 and spec.model.d_model == 1024
    assert spec.batch == 3 and not spec.profile and spec.sampling.temperature == 0.0


def test_resolve_defaults_and_sweep_mode() -> None:
    spec = resolve(_parse([]))
    assert spec.preset == "small" and spec.depth == "ops" and spec.requests == 1
    p = argparse.ArgumentParser()
    add_workload_arguments(p, sweep=True)
    ns = p.parse_args(["--batch", "1,2", "--no-profile"])
    assert ns.batch == "1,2" and ns.no_profile is True
    with pytest.raises(WorkloadError, match="--preset cannot be combined"):
        resolve(_parse(["--preset", "tiny", "--weights", __file__, "--tokenizer", __file__]))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    return env


def test_sigterm_ends_the_current_request_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zlprof.workload",
            "--preset",
            "tiny",
            "--requests",
            "0",
            "--max-tokens",
            "200",
            "--no-profile",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # a request finished: the handlers are installed
        assert first
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err and b"tok/s" in err


def test_zlprof_record_tiny_end_to_end(tmp_path: Path) -> None:
    from zlprof.recording import load_session

    out = tmp_path / "tiny.zlp"
    cp = subprocess.run(
        [
            sys.executable,
            "-m",
            "zlprof.cli",
            "record",
            "--preset",
            "tiny",
            "--max-tokens",
            "16",
            "--out",
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    if cp.returncode != 0 and "zlprof.cli" in cp.stderr and "No module" in cp.stderr:
        pytest.skip("zlprof.cli is not runnable as a module")
    assert cp.returncode == 0, cp.stderr
    state = load_session(out)
    names = {p.name for p in state.paths.values()}
    assert SEED_NAMES <= names
    assert state.tokens_total == 16
    costed = {state.paths[pid].name for pid, c in state.costs.items() if c[1] > 0}
    assert {"attention.qkv", "mlp.gate_up", "lm_head", "sampling"} <= costed
    assert state.config.get("d_model") == 256 and state.config.get("dtype") == "float32"
    kv = state.memory.get("kv_cache_bytes")
    assert len(kv) and int(np.max(kv)) > 0
