"""Load test for the app: N simultaneous gradio_client requests, latency p50/p95/max and error count.

.venv/bin/python benchmarks/load_app.py --model checkpoints/cadenza-base   # starts app.py itself
.venv/bin/python benchmarks/load_app.py --url http://127.0.0.1:7860/       # attaches to a running app
.venv/bin/python benchmarks/load_app.py --hostile heavy  # then again after one hostile upload
.venv/bin/python benchmarks/load_app.py --hostile slow

With --hostile, the N requests are sent twice: alone, then just after one hostile upload (a prompt to
continue), and the table has a row for each round, so it shows what that upload costs everyone else.
heavy: a MIDI file at the loader's limits (16 tracks, 49,920 notes, 19,968 quarter notes), which is read
and continued. slow: a 4.5 MB ABC file of 3.6 million notes with a clef (so music21 reads it), which would
take music21 minutes and gigabytes: the reading worker's limits refuse it. Both files are made here.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(model: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--model", model, "--port", str(port)],
        cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"app exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(1)
    proc.kill()
    sys.exit(f"app did not start within 600 s; see {log}")


def heavy_midi(path: Path) -> Path:
    """A prompt at the limits of cadenza.data.loading: 16 tracks of 3,120 quarter notes each."""
    import symusic

    score = symusic.Score(480)
    for voice in range(16):
        track = symusic.Track(program=voice)
        for step in range(3120):
            track.notes.append(
                symusic.Note(step * 480 * 6 + voice * 30, 480, 40 + (step * 7 + voice) % 48, 80)
            )
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def slow_abc(path: Path, notes: int = 3_600_000) -> Path:
    """A tune too long for music21 to read within the limits; the clef sends it to music21."""
    body = " ".join(["CDEF GABc"] * (notes // 8))
    lines = "\n".join(body[i : i + 60] for i in range(0, len(body), 60))
    path.write_text(f"X:1\nT:slow\nM:4/4\nL:1/16\nK:C clef=bass\n{lines}\n")
    return path


HOSTILE = {"heavy": lambda: heavy_midi(Path("/tmp/cadenza-heavy-prompt.mid")),
           "slow": lambda: slow_abc(Path("/tmp/cadenza-slow-prompt.abc"))}  # fmt: skip


def one_request(
    url: str, style: str | None, bars: int, seed: int, prompt: Path | None = None
) -> tuple[float, str | None]:
    start = time.perf_counter()
    try:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 600})
        style = (
            style
            or client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/compose"][
                "parameters"
            ][0]["example_input"]
        )
        upload = handle_file(str(prompt)) if prompt else None
        client.predict(style, bars, 0, "as generated", "as generated", 1.0, 0.95, seed, False, 1, upload,
                       api_name="/compose")  # fmt: skip
        return time.perf_counter() - start, None
    except Exception as err:  # noqa: BLE001 - counted and shown, the benchmark goes on
        return time.perf_counter() - start, " ".join(str(err).split())[:120]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="attach to a running app instead of starting one")
    parser.add_argument("--model", default=os.environ.get("CADENZA_MODEL", "checkpoints/cadenza-base"))
    parser.add_argument("--style", help="style to request (default: the app's first)")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--bars", type=int, default=2)
    parser.add_argument("--hostile", choices=sorted(HOSTILE), help="a second round after this upload")
    args = parser.parse_args()

    proc = None
    url = args.url
    if url is None:
        proc, url = start_app(args.model, Path("/tmp/cadenza-load-app.log"))
    rounds = [None, args.hostile] if args.hostile else [None]
    try:
        table = [(hostile, *one_round(url, args, hostile)) for hostile in rounds]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"app {url}  model {args.model if proc else '(attached)'}  {args.requests} simultaneous requests, "
          f"{args.bars} bars each")  # fmt: skip
    print("| round | requests | p50 s | p95 s | max s | errors | wall s | hostile upload |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for hostile, latencies, errors, wall, upload in table:
        outcome = (
            ""
            if upload is None
            else f"{upload[0]:.1f} s, " + (f"refused: {upload[1]}" if upload[1] else "continued")
        )
        print(f"| {hostile or 'alone'} | {len(latencies)} | {np.percentile(latencies, 50):.1f} "
              f"| {np.percentile(latencies, 95):.1f} | {latencies.max():.1f} | {len(errors)} | {wall:.1f} "
              f"| {outcome} |")  # fmt: skip
        for err in errors:
            print("error:", err)


def one_round(url: str, args: argparse.Namespace, hostile: str | None):
    """(latencies, errors, wall s, (latency, error) of the hostile upload or None) of one round."""
    start = time.perf_counter()
    with ThreadPoolExecutor(args.requests + 1) as pool:
        upload = None
        if hostile:
            upload = pool.submit(one_request, url, args.style, args.bars, 999, HOSTILE[hostile]())
            time.sleep(1)  # it reaches the app first
        results = list(
            pool.map(lambda i: one_request(url, args.style, args.bars, 1000 + i), range(args.requests))
        )
        upload_result = upload.result() if upload else None
    latencies = np.array([latency for latency, _ in results])
    return latencies, [err for _, err in results if err], time.perf_counter() - start, upload_result


if __name__ == "__main__":
    main()
