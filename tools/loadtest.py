"""Bounded load test of the app: many sessions decoding while trainings queue, hostile inputs, clean-up.

    .venv/bin/python loadtest.py [--quick] [--port N] [--keep-log] [--timeout 330] [--private-tmp]
                                 [--stock-client] [--no-probe]

Loopback only; 1.5 to 3.5 minutes (--quick: about 2), never more than --timeout (330 s), after which the
server's whole process group is killed. Starts `python app.py` itself (a free port on 127.0.0.1, its
output in a log file in a folder of its own under the temp dir), then:

1. Idle baseline, after ~3 s settled: PSS (from /proc/<pid>/smaps_rollup; USS and RSS beside it) summed
   over the server's whole process tree (server, training zygote, any workers), and the files under
   tempfile.gettempdir() (Gradio's cache included; this script's own folders and pytest's are left out).
2. Decode latency with nothing training: 20 paced clients x 10 decodes, 0.75 s apart, jittered starts.
3. Load: 8 training sessions (300 steps each, 2 run at once, the rest queue) while 20 paced clients
   decode 200 times; the process tree's memory is sampled every 0.1 s for the whole run.
4. Hostile inputs, one after another: each must be refused with a clean sentence (no traceback, no
   server path, not Gradio's generic error or the app's catch-all) or an HTTP 413/411, must not leave files
   in the temp dir, and the server must still decode afterwards. Cases marked [extra] go beyond the brief.
5. Clean-up: every client closed, then up to 60 s for memory and temp files to come back within 100 MB.

Beside the gradio_client timings, a raw-HTTP probe decodes twice a second (the server's own latency,
without gradio_client's 50 ms polling), and the CPU used by the server, the training workers, this script
and every other program on the machine is reported per phase: on a shared 2-core machine the latency
figures depend on what else runs. Other programs also write to the shared temp dir: `--private-tmp`
gives the server a temp dir of its own (TMPDIR) and measures only that.

Prints a report (Markdown tables, pasteable into the README). Exit code 0 if the goals hold, 1 otherwise
(the failed goals listed), 2 on the hard timeout. `--quick` is a smoke run (fewer clients and trainings;
every hostile case still runs). The server log is kept with --keep-log or when a goal fails.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# before anything imports gradio or gradio_client: no analytics, no hub calls
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

HERE = Path(__file__).resolve().parent.parent  # the project
sys.path.insert(0, str(HERE / "tests"))
from helpers import free_port, wait_for_http  # noqa: E402

import httpx  # noqa: E402
from gradio_client import Client, __version__ as CLIENT_VERSION, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

MB = 1e6
OWN_PREFIX = "seq2seq-loadtest-"   # this script's folders under the temp dir (never counted)
GOAL_DECODE_P95_MS = 250
GOAL_PEAK_PSS_MB = 2500
GOAL_BACK_MB = 100
CLEANUP_SECONDS = 60
SAMPLE_EVERY = 0.1
STATUS = 2                           # /train streams (loss plot, accuracy plot, status, checkpoint, metrics)
LOG_NOISE = ("Running on local URL", "To create a public link")


@dataclass
class Plan:
    decode_clients: int = 20
    decodes_each: int = 10
    pause: float = 0.75
    trainings: int = 8
    train_steps: int = 300


QUICK = Plan(decode_clients=5, decodes_each=4, trainings=3, train_steps=100)


# ------------------------------------------------------------------------------------------ measuring


def process_tree(root: int) -> list[int]:
    """root and all its descendants (children found through each process's ppid in /proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_memory(root: int) -> tuple[float, float, int, float]:
    """(PSS bytes, RSS bytes, processes, USS bytes) summed over root's process tree.

    PSS divides each shared page among every process mapping it, on the whole machine: when other programs
    that map the same libraries (another torch process) start or end, this tree's PSS moves although
    nothing in it changed. USS (private pages only) does not; it is reported beside PSS for that reason."""
    pss = rss = uss = 0.0
    n = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                text = f.read()
        except OSError:
            continue  # ended meanwhile
        n += 1
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1]) * 1024
            elif line.startswith("Rss:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith(("Private_Clean:", "Private_Dirty:")):
                uss += int(line.split()[1]) * 1024
    return pss, rss, n, uss


def roles_uss(root: int) -> dict[str, float]:
    """USS (private bytes) of the server process, of the zygote, and of all training workers together."""
    out = {"server": 0.0, "zygote": 0.0, "workers": 0.0}
    for pid in process_tree(root):
        read = tree_memory_one(pid)
        if read is not None:
            role = "server" if pid == root else "zygote" if _is_zygote(pid) else "workers"
            out[role] += read
    return out


def tree_memory_one(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    return sum(int(line.split()[1]) * 1024 for line in text.splitlines()
               if line.startswith(("Private_Clean:", "Private_Dirty:")))


def _is_zygote(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"playground.worker" in f.read()
    except OSError:
        return False


def group_pids(pgid: int) -> list[int]:
    """Processes whose process group is pgid (the server was started in a session of its own)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class TempScan:
    """Files under the temp dir, without this script's folders and pytest's."""

    def __init__(self, root: str) -> None:
        self.root = root

    def files(self) -> dict[str, int]:
        out: dict[str, int] = {}
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if folder == self.root and (entry.name.startswith(OWN_PREFIX) or entry.name.startswith("pytest-of-")):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        out[entry.path] = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        return out

    def usage(self) -> tuple[int, int]:
        files = self.files()
        return len(files), sum(files.values())


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process, seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_seconds() -> float:
    """CPU-seconds the whole machine has spent busy since boot (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return None


def _smaps(pid: int) -> tuple[int, int] | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    pss = rss = 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) * 1024
        elif line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
    return pss, rss


PAGE = os.sysconf("SC_PAGE_SIZE")


class Sampler(threading.Thread):
    """The server tree's memory every SAMPLE_EVERY seconds: [(time, pss, rss, processes)]; and the CPU time
    its processes used (server, zygote, training workers), added up from each sample's differences.

    Reading smaps_rollup costs the kernel ~8 ms for a 400 MB process, so a process's PSS is read again only
    when its RSS (cheap, from statm) moved by more than 1 MB, when the set of processes changed (a fork or an
    exit moves the others' PSS), or after 1 s; in between it is the last PSS plus the RSS change since."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True, name="memory-sampler")
        self.root = root
        self.samples: list[tuple[float, float, float, int]] = []
        self.cpu: list[tuple[float, dict[str, float]]] = []  # (time, cumulative CPU seconds by role)
        self.halt = threading.Event()
        self.own_cpu = 0.0  # CPU seconds this sampling thread itself used
        self._read: dict[int, tuple[int, int, float]] = {}  # pid -> (pss, rss, when) of its last smaps read
        self._pids: set[int] = set()

    def measure(self) -> tuple[float, float, int]:
        now = time.monotonic()
        pids = process_tree(self.root)
        changed = set(pids) != self._pids
        self._pids = set(pids)
        pss_total = rss_total = 0.0
        n = 0
        for pid in pids:
            rss = _rss_bytes(pid)
            if rss is None:
                continue
            last = self._read.get(pid)
            if changed or last is None or abs(rss - last[1]) > 1 << 20 or now - last[2] > 1.0:
                read = _smaps(pid)
                if read is None:
                    continue
                self._read[pid] = (read[0], read[1], now)
                pss, rss = read
            else:
                pss = last[0] + rss - last[1]
            pss_total += pss
            rss_total += rss
            n += 1
        for gone in set(self._read) - self._pids:
            del self._read[gone]
        return pss_total, rss_total, n

    def run(self) -> None:
        last: dict[int, float] = {}
        total = {"server": 0.0, "zygote": 0.0, "workers": 0.0, "machine": 0.0}
        machine = machine_busy_seconds()
        zygote = None
        while not self.halt.is_set():
            t = time.monotonic()
            c = time.thread_time()
            pss, rss, n = self.measure()
            self.samples.append((t, pss, rss, n))
            busy = machine_busy_seconds()
            total["machine"] += busy - machine
            machine = busy
            for pid in self._pids:
                used = cpu_seconds(pid)
                if used is None:
                    continue
                if zygote is None and pid != self.root and _is_zygote(pid):
                    zygote = pid
                role = "server" if pid == self.root else "zygote" if pid == zygote else "workers"
                # the first sample is the baseline; a process seen later (a forked worker) started at 0
                total[role] += used - last.get(pid, 0.0 if self.cpu else used)
                last[pid] = used
            self.cpu.append((t, dict(total)))
            self.own_cpu += time.thread_time() - c
            self.halt.wait(max(0.0, SAMPLE_EVERY - (time.monotonic() - t)))

    def cpu_between(self, start: float, end: float) -> dict[str, float]:
        window = [c for c in self.cpu if start <= c[0] <= end]
        if len(window) < 2:
            return {}
        return {k: window[-1][1][k] - window[0][1][k] for k in window[0][1]}

    def peak(self, start: float, end: float) -> tuple[float, float, int]:
        window = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return (max(s[1] for s in window), max(s[2] for s in window), max(s[3] for s in window))


# ------------------------------------------------------------------------------------------ the test


@dataclass
class Call:
    seconds: float
    training: bool      # some training was streaming when the call started or ended
    correct: bool
    first: bool = False  # this client's (this session's) first call


@dataclass
class TrainResult:
    index: int
    status: str = ""
    waited: float = 0.0           # submit to first update (the queue)
    seconds: float = 0.0          # submit to end
    updates: int = 0
    ok: bool = False


@dataclass
class Hostile:
    name: str
    outcome: str = ""            # refused / accepted / HTTP 413 ...
    message: str = ""
    clean: bool = False
    note: str = ""
    log: str = ""                # what the server logged meanwhile (for a case that is not clean)


@dataclass
class State:
    url: str
    own: Path                        # this script's folder (log, hostile files, client downloads)
    server: subprocess.Popen
    log_path: Path
    scan: TempScan
    sampler: Sampler
    plan: Plan
    clients: list = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    running: int = 0                 # trainings streaming right now
    lock: threading.Lock = field(default_factory=threading.Lock)
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    leaked: list[str] = field(default_factory=list)  # files hostile requests left in the temp dir
    harness: dict[str, tuple[float, float]] = field(default_factory=dict)  # phase -> (script CPU, sampler CPU)
    baseline_files: dict[str, int] = field(default_factory=dict)
    probe: RawProbe | None = None
    ssl_verify: bool = False

    def client(self) -> Client:
        # ssl_verify=False: the URL is plain http on loopback, so nothing is verified either way, but with the
        # default gradio_client builds an SSL context (the whole CA bundle) for every request it makes: ~50 ms
        # of CPU per decode in this process, which then competes with the server for the 2 cores
        c = Client(self.url, analytics_enabled=False, verbose=False, download_files=str(self.own / "downloads"),
                   ssl_verify=self.ssl_verify)
        with self.lock:
            self.clients.append(c)
        return c

    def error(self, where: str, e: BaseException | str) -> None:
        text = e if isinstance(e, str) else f"{type(e).__name__}: {e}"
        with self.lock:
            self.errors.append(f"{where}: {' '.join(str(text).split())[:240]}")

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 1500) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [line for line in text.splitlines() if line.strip() and not any(n in line for n in LOG_NOISE)]
        text = "\n".join(lines)
        return text if len(text) <= limit else "…" + text[-limit:]


def make_clients(state: State, n: int) -> list[Client]:
    out: list[Client | None] = [None] * n

    def one(i: int) -> None:
        try:
            out[i] = state.client()
        except Exception as e:  # noqa: BLE001
            state.error("creating a client", e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return [c for c in out if c is not None]


def random_source(rng: random.Random) -> str:
    return " ".join(str(rng.randrange(10)) for _ in range(rng.randint(3, 10)))


def decode_loop(state: State, client: Client, n: int, seed: int, calls: list[Call], go: threading.Event | None,
                jitter: float) -> None:
    rng = random.Random(seed)
    if go is not None:
        go.wait(60)
    time.sleep(rng.uniform(0, jitter))
    for i in range(n):
        source = random_source(rng)
        busy = state.running > 0
        start = time.perf_counter()
        try:
            output = client.predict(source, api_name="/decode")[0]
        except Exception as e:  # noqa: BLE001
            state.error(f"decode {source!r}", e)
        else:
            seconds = time.perf_counter() - start
            with state.lock:
                calls.append(Call(seconds, busy or state.running > 0, output == " ".join(source.split()[::-1]),
                                  first=i == 0))
        if i < n - 1:
            time.sleep(state.plan.pause)


def run_decoders(state: State, clients: list[Client], go: threading.Event | None, jitter: float) -> list[Call]:
    calls: list[Call] = []
    threads = [threading.Thread(target=decode_loop, args=(state, c, state.plan.decodes_each, 1000 + i, calls, go,
                                                          jitter), daemon=True) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
        if t.is_alive():
            state.error("decode client", "did not finish within 180 s")
    return calls


def train_session(state: State, client: Client, result: TrainResult, started: threading.Event) -> None:
    """One training through /train, its stream read to the end (polled, not busy-waited)."""
    begin = time.perf_counter()
    counted = False
    try:
        job = client.submit(steps=state.plan.train_steps, mode="new", api_name="/train")
        deadline = begin + 240
        while not job.done():
            outputs = job.outputs()
            if outputs and not counted:
                counted = True
                result.waited = time.perf_counter() - begin
                with state.lock:
                    state.running += 1
                started.set()
            if time.perf_counter() > deadline:
                job.cancel()
                raise TimeoutError("the training did not end within 240 s")
            time.sleep(0.05)
        job.result()  # raises the app's error, if that is how it ended
        outputs = job.outputs()
        result.updates = len(outputs)
        result.status = str(outputs[-1][STATUS]) if outputs else "(no update)"
        result.ok = result.status.startswith(("Done", "Stopped"))
        if not result.ok:
            state.error(f"training {result.index}", f"final status {result.status[:160]!r}")
    except Exception as e:  # noqa: BLE001
        result.status = f"{type(e).__name__}: {e}"
        state.error(f"training {result.index}", e)
    finally:
        result.seconds = time.perf_counter() - begin
        started.set()  # a training that ended without streaming must not hold the decoders back
        if counted:
            with state.lock:
                state.running -= 1


class RawProbe(threading.Thread):
    """One decode every 0.5 s over plain HTTP (POST queue/join, read the SSE stream to process_completed): the
    server's own latency, without gradio_client's polling (it checks for new messages every 50 ms)."""

    def __init__(self, url: str, index: int) -> None:
        super().__init__(daemon=True, name="raw-probe")
        self.url, self.index = url, index
        self.times: list[tuple[float, float]] = []  # (when, seconds)
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        with httpx.Client(timeout=30) as http:
            while not self.halt.is_set():
                session = uuid.uuid4().hex[:11]
                body = {"data": [random_source(rng), "auto", 3, "reverse", None], "event_data": None,
                        "fn_index": self.index, "trigger_id": None, "session_hash": session}
                start = time.perf_counter()
                try:
                    http.post(self.url + "gradio_api/queue/join", json=body).raise_for_status()
                    done = False
                    with http.stream("GET", self.url + f"gradio_api/queue/data?session_hash={session}") as stream:
                        for line in stream.iter_lines():
                            if line.startswith("data:") and "process_completed" in line:
                                done = json.loads(line[5:]).get("success", False)
                                break
                    if not done:
                        raise RuntimeError("the call did not complete successfully")
                    self.times.append((time.monotonic(), time.perf_counter() - start))
                except Exception as e:  # noqa: BLE001
                    self.failures.append(f"{type(e).__name__}: {e}")
                self.halt.wait(0.5)

    def between(self, start: float, end: float) -> list[float]:
        return [s for t, s in self.times if start <= t <= end]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95, ordered[-1]


# ------------------------------------------------------------------------------------------ hostile


MESSAGE_PROBLEMS = (("Traceback", "a traceback"), ("/tmp/", "a server path"), ("/work/", "a server path"),
                    ("upstream Gradio app has raised an exception", "Gradio's generic error"),
                    ("Something went wrong on the server", "the app's catch-all (an unexpected exception)"))


def problems_in(text: str) -> list[str]:
    return sorted({what for needle, what in MESSAGE_PROBLEMS if needle in text})


def write_hostile_files(folder: Path) -> dict[str, Path]:
    """The files the upload cases send (built from the bundled reverse checkpoint)."""
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = HERE / "checkpoints" / "reverse"
    config = json.loads((checkpoint / "config.json").read_text())
    weights = (checkpoint / "model.safetensors").read_bytes()
    files: dict[str, Path] = {}

    big = json.loads(json.dumps(config))
    big["model"].update(hidden_dim=2048, n_layers=8, emb_dim=1024)
    files["big"] = folder / "huge-model.zip"
    with zipfile.ZipFile(files["big"], "w") as z:
        z.writestr("config.json", json.dumps(big, indent=2))
        z.writestr("model.safetensors", weights)

    files["bomb"] = folder / "zip-bomb.zip"
    with zipfile.ZipFile(files["bomb"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(config, indent=2))
        with z.open("model.safetensors", "w") as f:   # 1 GiB of zeros, streamed: about 1 MB compressed
            zeros = bytes(1 << 20)
            for _ in range(1024):
                f.write(zeros)

    files["many"] = folder / "many-entries.zip"
    with zipfile.ZipFile(files["many"], "w") as z:
        z.writestr("config.json", json.dumps(config, indent=2))
        z.writestr("model.safetensors", weights)
        for i in range(70_000):
            z.writestr(f"e/{i}", b"")

    files["deep"] = folder / "deep-config.zip"
    deep = json.dumps(config)[:-1] + ', "notes": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with zipfile.ZipFile(files["deep"], "w") as z:
        z.writestr("config.json", deep)
        z.writestr("model.safetensors", weights)

    files["notzip"] = folder / "not-a-zip.zip"
    files["notzip"].write_text("This is a text file with a .zip name.\n" * 50)

    files["random"] = folder / "random-100mb.zip"
    with open(files["random"], "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1_000_000))

    token = secrets.token_hex(4)
    files["traversal"] = folder / "path-traversal.zip"
    with zipfile.ZipFile(files["traversal"], "w") as z:
        z.writestr(f"../../evil-{token}/config.json", json.dumps(config, indent=2))
        z.writestr(f"../../evil-{token}/model.safetensors", weights)
    files["token"] = Path(token)
    return files


def fn_index(url: str, api_name: str) -> int:
    config = httpx.get(url + "config", timeout=10).json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name:
            return dep["id"]
    raise RuntimeError(f"no endpoint /{api_name} in the app's config")


def raw_decode(url: str, index: int, size: int, chunked: bool) -> httpx.Response:
    """POST a /decode call whose source is `size` characters straight to the queue (as a browser would)."""
    source = "1 " * (size // 2)
    body = json.dumps({"data": [source, "auto", 3, "reverse", None], "event_data": None, "fn_index": index,
                       "trigger_id": None, "session_hash": uuid.uuid4().hex[:11]}).encode()
    if chunked:  # no Content-Length: the server must count the bytes as they arrive
        content = (body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20))
    else:
        content = body
    return httpx.post(url + "gradio_api/queue/join", content=content, timeout=60,
                      headers={"content-type": "application/json"})


def raw_upload(url: str, path: Path, chunked: bool) -> httpx.Response:
    if not chunked:
        with open(path, "rb") as f:
            return httpx.post(url + "gradio_api/upload", files={"files": (path.name, f, "application/zip")},
                              timeout=60)
    boundary = "loadtest" + uuid.uuid4().hex

    def parts():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
               f"Content-Type: application/zip\r\n\r\n").encode()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    return httpx.post(url + "gradio_api/upload", content=parts(), timeout=60,
                      headers={"content-type": f"multipart/form-data; boundary={boundary}"})


def judge_refusal(case: Hostile, e: BaseException) -> None:
    """An exception from gradio_client: a clean AppError sentence, or an HTTP 413."""
    text = str(e)
    status = getattr(getattr(e, "response", None), "status_code", None)
    if isinstance(e, AppError):
        case.outcome, case.message = "refused", " ".join(text.split())
        found = problems_in(text)
        case.clean = not found and bool(text.strip())
        if found:
            case.note = "message holds " + ", ".join(found)
    elif status is not None:
        case.outcome, case.message = f"HTTP {status}", " ".join(text.split())
        case.clean = status == 413
        if not case.clean:
            case.note = f"HTTP {status}, not 413"
    else:
        case.outcome, case.message = f"client error ({type(e).__name__})", " ".join(text.split())
        case.clean = False
        case.note = "neither a sentence from the app nor an HTTP status"


def judge_response(case: Hostile, response: httpx.Response) -> None:
    """A raw HTTP answer to an oversize body: 413 with a sentence."""
    text = response.text
    try:
        text = str(response.json().get("detail", text))
    except (ValueError, AttributeError):
        pass
    case.outcome, case.message = f"HTTP {response.status_code}", " ".join(text.split())
    found = problems_in(text)
    if response.status_code == 413 and not found:
        case.clean = True
    elif 400 <= response.status_code < 500 and not found:
        case.clean = True  # refused before anything was parsed, but say it is not the 413 expected
        case.note = f"refused with HTTP {response.status_code}, not 413"
    else:
        case.clean = False
        case.note = f"HTTP {response.status_code}" + (f"; body holds {', '.join(found)}" if found else "")


def find_traversal(token: str, scan_files: dict[str, int]) -> list[str]:
    """Anything named evil-<token> where a ../../ in an archive name could have put it."""
    name = f"evil-{token}"
    bases = {Path("/"), Path(tempfile.gettempdir()), Path(tempfile.gettempdir()) / "gradio", HERE, HERE.parent,
             Path.home(), Path.cwd()}
    hits = [str(base / name) for base in bases if (base / name).exists()]
    hits += [path for path in scan_files if name in path]
    return sorted(set(hits))


def hostile_phase(state: State) -> list[Hostile]:
    own = state.own / "hostile"
    t = time.perf_counter()
    files = write_hostile_files(own)
    state.report["hostile_files_seconds"] = time.perf_counter() - t
    client = state.client()
    decode_index = fn_index(state.url, "decode")
    token = files["token"].name
    cases: list[Hostile] = []
    budget = 20.0  # the time budget given to the largest settings, in case they are accepted

    def run(name: str, action) -> None:
        case = Hostile(name)
        before_files = state.scan.files()
        offset = state.log_size()
        start = time.monotonic()
        try:
            action(case)
        except Exception as e:  # noqa: BLE001
            judge_refusal(case, e)
        case.message = case.message[:160]
        time.sleep(0.3)  # let the server finish writing or deleting
        after_files = state.scan.files()
        # a session's downloads (seq2seq-session-*) are meant to stay until the session ends: see clean-up
        new = {p: s for p, s in after_files.items() if p not in before_files and "/seq2seq-session-" not in p}
        grown = sum(new.values()) + sum(max(0, s - before_files.get(p, 0)) for p, s in after_files.items()
                                        if p in before_files and "/seq2seq-session-" not in p)
        if grown > 10 * MB:
            big = sorted(new.items(), key=lambda kv: -kv[1])[:3]
            case.clean = False
            where = ", ".join(f"{p} ({s / MB:.1f} MB)" for p, s in big)
            case.note = (case.note + "; " if case.note else "") + f"left {grown / MB:.1f} MB in the temp dir: {where}"
            gradio_cache = os.path.join(state.scan.root, "gradio")  # the server's (it gets no GRADIO_TEMP_DIR)
            state.leaked += [p for p, s in big if p.startswith(gradio_cache) and Path(p).name.startswith("tmp")]
        try:  # the bundled model by name: this session's own model may have changed (a training, a load)
            answer = client.predict("3 1 4 1 5 9", "bundled:reverse", api_name="/decode")[0]
            if answer != "9 5 1 4 1 3":
                raise RuntimeError(f"decoded {answer!r}")
        except Exception as e:  # noqa: BLE001
            case.clean = False
            case.note = (case.note + "; " if case.note else "") + "the server did not answer a decode afterwards"
            state.error(f"decode after hostile case {name!r}", e)
        if not case.clean:
            case.log = state.log_since(offset)
        peak = state.sampler.peak(start, time.monotonic())[0] - state.report["idle"]["pss"]
        case.note = (case.note + "; " if case.note else "") + f"{time.monotonic() - start:.1f} s, peak PSS +{mb(peak)} MB"
        cases.append(case)

    def largest(case: Hostile) -> None:
        settings = {"emb_dim": 256, "hidden_dim": 512, "n_layers": 4, "attention": True, "batch_size": 1024,
                    "min_len": 50, "max_len": 50, "teacher_forcing": 0, "steps": 10, "time_budget": budget,
                    "mode": "new"}
        begin = time.monotonic()
        job = client.submit(api_name="/train", **settings)
        while not job.done():
            if time.monotonic() - begin > budget + 20:
                job.cancel()
                raise TimeoutError(f"accepted, and still running {budget + 20:.0f} s later (time budget {budget:.0f} s)")
            time.sleep(0.1)
        job.result()  # raises the refusal
        outputs = job.outputs()
        status = str(outputs[-1][STATUS]) if outputs else ""
        took = time.monotonic() - begin
        case.outcome, case.message = f"accepted, ended after {took:.1f} s", status
        # the app kills a run 1 s after its budget, then keeps its last snapshot and writes its downloads
        case.clean = status.startswith(("Done", "Stopped")) and took <= budget + 5 and not problems_in(status)
        case.note = f"passed the cost check; time budget {budget:.0f} s, allowed up to {budget + 5:.0f} s" + (
            "; killed at its memory limit" if "memory" in status else "")

    def largest_checked(case: Hostile) -> None:
        try:
            largest(case)
        except AppError as e:
            judge_refusal(case, e)
            words = ("budget", "allows", "too big", "too large", "memory")
            if case.clean and not any(w in case.message.lower() for w in words):
                case.note = "refused, but the message does not mention the budget"

    def via_client(call):
        def action(case: Hostile) -> None:
            result = call()
            result = result[-1] if isinstance(result, (tuple, list)) else result
            case.outcome, case.message, case.clean = "accepted", " ".join(str(result).split()), False
            case.note = "expected a refusal"
        return action

    def random_via_client(case: Hostile) -> None:
        try:
            client.predict(handle_file(str(files["random"])), api_name="/load")
        except Exception as e:  # noqa: BLE001
            text = " ".join(str(e).replace(str(files["random"]), "<file>").split())
            status = getattr(getattr(e, "response", None), "status_code", None)
            case.outcome = "HTTP 413" if status == 413 else f"refused by gradio_client ({type(e).__name__})"
            case.message = text
            # gradio_client reads max_file_size from the app's config and refuses before sending anything
            case.clean = status == 413 or isinstance(e, (ValueError, AppError)) and not problems_in(text)
            return
        case.outcome, case.clean, case.note = "accepted", False, "a 100 MB file was loaded"

    def raw(fn):
        def action(case: Hostile) -> None:
            try:
                judge_response(case, fn())
            except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError) as e:
                # the server answered and closed the connection before the client had sent the whole body
                case.outcome, case.message, case.clean = "connection closed by the server", f"{type(e).__name__}: {e}", True
                case.note = "no HTTP status seen: the body was cut off while being sent"
        return action

    def traversal(case: Hostile) -> None:
        try:
            result = client.predict(handle_file(str(files["traversal"])), api_name="/load")
            result = result[-1] if isinstance(result, (tuple, list)) else result
            case.outcome, case.message = "loaded", " ".join(str(result).split())
            case.clean = not problems_in(case.message)
        except AppError as e:
            judge_refusal(case, e)
        hits = find_traversal(token, state.scan.files())
        if hits:
            case.clean = False
            case.note = "wrote outside: " + ", ".join(hits)
        else:
            case.note = "nothing written outside"

    run("/train with the largest form settings (emb 256, hidden 512, 4 layers, attention, batch 1024, "
        "length 50, teacher forcing 0, 10 steps)", largest_checked)
    run("/train lr=1e6", via_client(lambda: client.predict(lr=1e6, steps=10, mode="new", api_name="/train")))
    run("/decode top_k='abc'", via_client(lambda: client.predict("3 1 4", "auto", "abc", api_name="/decode")))
    run("/decode 3 MB source (gradio_client)", via_client(lambda: client.predict("1 " * 1_500_000,
                                                                                  api_name="/decode")))
    run("/decode 100 MB source (raw POST, Content-Length)", raw(lambda: raw_decode(state.url, decode_index,
                                                                                     100_000_000, False)))
    run("/decode 100 MB source (raw POST, chunked, no Content-Length) [extra]",
        raw(lambda: raw_decode(state.url, decode_index, 100_000_000, True)))
    load = lambda key: via_client(lambda: client.predict(handle_file(str(files[key])), api_name="/load"))  # noqa: E731
    run("/load config.json with hidden 2048, 8 layers, emb 1024", load("big"))
    run("/load zip bomb (model.safetensors inflates to 1 GiB)", load("bomb"))
    run("/load zip with 70,000 entries", load("many"))
    run("/load config.json nested 10,000 levels deep", load("deep"))
    run("/load a file that is not a zip", load("notzip"))
    run("/load 100 MB random file (gradio_client)", random_via_client)
    run("/load 100 MB random file (raw upload, Content-Length)", raw(lambda: raw_upload(state.url, files["random"],
                                                                                         False)))
    run("/load 100 MB random file (raw upload, chunked, no Content-Length) [extra]",
        raw(lambda: raw_upload(state.url, files["random"], True)))
    run("/load zip with ../../ member names (a valid checkpoint)", traversal)
    shutil.rmtree(own, ignore_errors=True)
    return cases


# ------------------------------------------------------------------------------------------ phases


def settle_and_measure(state: State, seconds: float = 3.0) -> dict:
    time.sleep(seconds)
    samples = []
    for _ in range(5):
        samples.append(tree_memory(state.server.pid))
        time.sleep(0.2)
    files = state.baseline_files = state.scan.files()
    return {"roles": roles_uss(state.server.pid),"pss": statistics.median(s[0] for s in samples), "rss": statistics.median(s[1] for s in samples),
            "processes": max(s[2] for s in samples), "uss": statistics.median(s[3] for s in samples),
            "files": len(files), "bytes": sum(files.values())}


def harness_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase(state: State, name: str):
    """Context manager: records the phase's wall-clock window and this script's CPU time in it."""
    class _Phase:
        def __enter__(self):
            self.t, self.c, self.s = time.monotonic(), harness_cpu(), state.sampler.own_cpu
            return self

        def __exit__(self, *exc):
            state.phases[name] = (self.t, time.monotonic())
            state.harness[name] = (harness_cpu() - self.c, state.sampler.own_cpu - self.s)
            state.report.setdefault("after", {})[name] = tree_memory(state.server.pid)
            return False
    return _Phase()


def load_phase(state: State, decoders: list[Client]) -> tuple[list[Call], list[TrainResult]]:
    trainers = make_clients(state, state.plan.trainings)
    results = [TrainResult(i + 1) for i in range(len(trainers))]
    started = threading.Event()
    start = time.monotonic()
    threads = [threading.Thread(target=train_session, args=(state, c, r, started), daemon=True)
               for c, r in zip(trainers, results, strict=True)]
    for t in threads:
        t.start()
    # the decoders start once a training streams, their starts spread over 3 s
    calls = run_decoders(state, decoders, started, 3.0)
    for t in threads:
        t.join(max(1.0, start + 260 - time.monotonic()))
        if t.is_alive():
            state.error("training", "its thread did not end within 260 s")
    return calls, results


def cleanup_phase(state: State, idle: dict) -> dict:
    for c in list(state.clients):
        try:
            c.close()
        except Exception as e:  # noqa: BLE001
            state.error("closing a client", e)
    start = time.monotonic()
    back_at = count_back_at = None
    last: dict = {}
    previous, steady_since = None, 0.0
    while True:
        pss, rss, n, uss = tree_memory(state.server.pid)
        files = state.scan.files()
        count, size = len(files), sum(files.values())
        elapsed = time.monotonic() - start
        last = {"pss": pss, "rss": rss, "processes": n, "uss": uss, "files": count, "bytes": size,
                "seconds": elapsed}
        back = pss - idle["pss"] <= GOAL_BACK_MB * MB and size - idle["bytes"] <= GOAL_BACK_MB * MB
        back_at = (back_at if back_at is not None else elapsed) if back else None  # back since then
        count_back_at = (count_back_at if count_back_at is not None else elapsed) if count <= idle["files"] else None
        if (count, size) != previous:  # the files are still changing (sessions being released)
            previous, steady_since = (count, size), elapsed
        if back and (count_back_at is not None or elapsed - steady_since >= 20):
            break
        if elapsed >= CLEANUP_SECONDS:
            break
        time.sleep(1.0)
    last["back_at"], last["count_back_at"], last["steady_since"] = back_at, count_back_at, steady_since
    last["roles"] = roles_uss(state.server.pid)
    new = {p: n for p, n in files.items() if p not in state.baseline_files}
    gone = [p for p in state.baseline_files if p not in files]
    last["new"], last["gone"] = new, gone
    return last


# ------------------------------------------------------------------------------------------ report


def ms(x: float) -> str:
    return "—" if math.isnan(x) else f"{x * 1000:.0f}"


def mb(x: float) -> str:
    return f"{x / MB:,.0f}"


def latency(values: list[float]) -> str:
    p50, p95, top = percentiles(values)
    return f"{ms(p50)} / {ms(p95)} / {ms(top)} ms ({len(values)} calls)"


def cpu_row(state: State, name: str) -> str | None:
    if name not in state.phases:
        return None
    start, end = state.phases[name]
    used = state.sampler.cpu_between(start, end)
    harness, sampler = state.harness.get(name, (0.0, 0.0))
    if not used:
        return None
    tree = used["server"] + used["workers"] + used["zygote"]
    others = max(0.0, used["machine"] - tree - harness)
    cores = os.cpu_count() or 1
    return (f"| CPU-s used, {name} ({end - start:.0f} s × {cores} cores = {cores * (end - start):.0f} CPU-s) | "
            f"server {used['server']:.1f}, training workers {used['workers']:.1f}, zygote {used['zygote']:.1f}; "
            f"this script {harness:.1f} (memory sampling {sampler:.1f}); other programs {others:.1f} | — |")


def folder_of(path: str, root: str) -> str:
    rel = os.path.relpath(path, root).split(os.sep)
    return os.path.join(root, rel[0]) + (os.sep if len(rel) > 1 else "")


def print_report(state: State, total: float, timed_out: bool = False) -> list[str]:
    r = state.report
    plan = state.plan
    idle = r.get("idle")
    failed: list[str] = []
    lines = [f"## seq2seq playground load test ({'quick' if plan is QUICK else 'full'}): "
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs (load average at start "
             f"{state.report.get('loadavg', float('nan')):.1f}), {total:.0f} s"
             + (" — HARD TIMEOUT, incomplete" if timed_out else ""), "",
             f"Clients: gradio_client {CLIENT_VERSION}, one Client per session"
             + (" (ssl_verify on: its default)" if state.ssl_verify else
                " (ssl_verify=False: plain http on loopback; see --stock-client)")
             + f"; server temp dir measured: {state.scan.root}", "",
             "| measure | result | goal |", "|---|---|---|"]

    errors = list(state.errors)
    lines.append(f"| unexpected errors | {len(errors)} | 0 |")
    if errors:
        failed.append(f"{len(errors)} unexpected error(s)")
    if idle:
        lines.append(f"| idle server tree (PSS / RSS sum) | {mb(idle['pss'])} / {mb(idle['rss'])} MB, "
                     f"{idle['processes']} processes | — |")
    probe = state.probe
    if "idle_calls" in r:
        calls = r["idle_calls"]
        lines.append(f"| decode p50 / p95 / max, nothing training ({plan.decode_clients} clients × "
                     f"{plan.decodes_each}) | {latency([c.seconds for c in calls])} | — |")
        lines.append(f"| … without each client's first call (a new session) | "
                     f"{latency([c.seconds for c in calls if not c.first])} | — |")
        if probe is not None and "idle decode" in state.phases:
            lines.append(f"| … the server alone (raw HTTP probe, 2/s) | "
                         f"{latency(probe.between(*state.phases['idle decode']))} | — |")
    if "load_calls" in r:
        calls = r["load_calls"]
        during = [c.seconds for c in calls if c.training]
        p95 = percentiles([c.seconds for c in calls])[1]
        lines.append(f"| decode p50 / p95 / max, {plan.trainings} trainings queued/running "
                     f"({plan.decode_clients} clients × {plan.decodes_each}) | {latency([c.seconds for c in calls])} "
                     f"| p95 ≤ {GOAL_DECODE_P95_MS} ms |")
        lines.append(f"| … of those, calls while a training streamed | {latency(during)} | — |")
        if probe is not None and "load" in state.phases:
            lines.append(f"| … the server alone (raw HTTP probe, 2/s) | "
                         f"{latency(probe.between(*state.phases['load']))} | — |")
        wrong = sum(not c.correct for c in r.get("idle_calls", []) + calls)
        lines.append(f"| decodes that were not the reversed source (bundled model, ≈100%; info) | {wrong} | — |")
        if not calls or not p95 * 1000 <= GOAL_DECODE_P95_MS:
            failed.append(f"decode p95 under load {ms(p95)} ms > {GOAL_DECODE_P95_MS} ms")
    if "trainings" in r:
        results: list[TrainResult] = r["trainings"]
        ok = sum(t.ok for t in results)
        kinds: dict[str, int] = {}
        for t in results:
            word = t.status.split(":")[0] if t.ok else "failed"
            kinds[word] = kinds.get(word, 0) + 1
        what = ", ".join(f"{n} {k}" for k, n in kinds.items())
        wait = max((t.waited for t in results), default=0)
        took = max((t.seconds for t in results), default=0)
        lines.append(f"| trainings ({plan.train_steps} steps each, new model; 2 at once) | {ok}/{len(results)} "
                     f"ended Done/Stopped ({what}); longest queue wait {wait:.1f} s, last ended after {took:.1f} s "
                     f"| all |")
        if ok < len(results):
            failed.append(f"{len(results) - ok} training(s) did not end Done/Stopped")
    for name in ("idle decode", "load"):
        row = cpu_row(state, name)
        if row:
            lines.append(row)
    if "idle decode" in state.phases and "idle_calls" in r:
        used = state.sampler.cpu_between(*state.phases["idle decode"])
        n = len(r["idle_calls"]) + (len(probe.between(*state.phases["idle decode"])) if probe else 0)
        if used and n:
            lines.append(f"| server CPU per decode, nothing training (server CPU-s ÷ {n} calls) | "
                         f"≈ {used['server'] / n * 1000:.0f} ms | — |")
    peaks = []
    for name in ("load", "hostile"):
        if name in r.get("peaks", {}) and idle:
            pss, rss, n = r["peaks"][name]
            peaks.append(pss - idle["pss"])
            lines.append(f"| peak memory above idle, {name} (PSS / RSS sum) | {mb(pss - idle['pss'])} / "
                         f"{mb(rss - idle['rss'])} MB (up to {n} processes) | PSS ≤ {GOAL_PEAK_PSS_MB / 1000:g} GB |")
    if peaks and max(peaks) > GOAL_PEAK_PSS_MB * MB:
        failed.append(f"peak PSS above idle {mb(max(peaks))} MB > {GOAL_PEAK_PSS_MB} MB")
    if "hostile" in r:
        cases: list[Hostile] = r["hostile"]
        clean = sum(c.clean for c in cases)
        lines.append(f"| hostile inputs refused cleanly, server still decoding | {clean}/{len(cases)} | all |")
        if clean < len(cases):
            failed.append(f"{len(cases) - clean} hostile case(s) not handled cleanly")
    if "cleanup" in r and idle:
        c = r["cleanup"]
        lines.append(f"| temp files: idle → after clean-up | {idle['files']} files, {idle['bytes'] / MB:.1f} MB → "
                     f"{c['files']} files, {c['bytes'] / MB:.1f} MB | within {GOAL_BACK_MB} MB |")
        lines.append(f"| server tree: idle → after clean-up (PSS / RSS sum) | {mb(idle['pss'])} / {mb(idle['rss'])} "
                     f"→ {mb(c['pss'])} / {mb(c['rss'])} MB, {c['processes']} processes | PSS within "
                     f"{GOAL_BACK_MB} MB |")
        steps = " → ".join(f"{name} {mb(state.report['after'][name][0])}" for name in ("idle decode", "load", "hostile")
                           if name in state.report.get("after", {}))
        lines.append(f"| server tree PSS at the end of each phase | idle {mb(idle['pss'])} → {steps} → after "
                     f"clean-up {mb(c['pss'])} MB | — |")
        steps = " → ".join(f"{name} {mb(state.report['after'][name][3])}" for name in ("idle decode", "load", "hostile")
                           if name in state.report.get("after", {}))
        lines.append(f"| … its private memory (USS: not moved by other programs sharing libraries) | idle "
                     f"{mb(idle['uss'])} → {steps} → after clean-up {mb(c['uss'])} MB | — |")
        lines.append(f"| … USS by process: idle → after clean-up | server {mb(idle['roles']['server'])} → "
                     f"{mb(c['roles']['server'])}, zygote {mb(idle['roles']['zygote'])} → {mb(c['roles']['zygote'])}, "
                     f"workers {mb(idle['roles']['workers'])} → {mb(c['roles']['workers'])} MB | — |")
        when = f"{c['back_at']:.0f} s" if c["back_at"] is not None else f"not within {CLEANUP_SECONDS} s"
        count = (f"; file count back at {c['count_back_at']:.0f} s" if c["count_back_at"] is not None
                 else f"; file count still {c['files'] - idle['files']:+d} after {c['seconds']:.0f} s (unchanged "
                      f"since {c['steady_since']:.0f} s)")
        lines.append(f"| clean-up time (memory and temp bytes back) | {when}{count} | ≤ {CLEANUP_SECONDS} s |")
        if c["pss"] - idle["pss"] > GOAL_BACK_MB * MB:
            failed.append(f"memory not back: PSS {mb(c['pss'] - idle['pss'])} MB above idle")
        if c["bytes"] - idle["bytes"] > GOAL_BACK_MB * MB:
            failed.append(f"temp files not back: {(c['bytes'] - idle['bytes']) / MB:.0f} MB above idle")
    if timed_out:
        failed.append("hard timeout")
    for name in ("idle_calls", "load_calls", "hostile", "cleanup"):
        if name not in r and not timed_out:
            failed.append(f"phase {name} did not run")

    if "hostile" in r:
        lines += ["", "| hostile input | outcome | clean | message (first 160 chars) |", "|---|---|---|---|"]
        for c in r["hostile"]:
            note = f" ({c.note})" if c.note else ""
            message = c.message.replace("|", "\\|")
            lines.append(f"| {c.name} | {c.outcome}{note} | {'yes' if c.clean else '**NO**'} | {message} |")
    if errors:
        lines += ["", f"Unexpected errors ({len(errors)}), first {min(5, len(errors))}:"]
        lines += [f"- {e}" for e in errors[:5]]
    if probe is not None and probe.failures:
        lines += ["", f"Raw probe failures ({len(probe.failures)}): " + "; ".join(probe.failures[:3])]
    if "cleanup" in r and r["cleanup"]["new"]:
        new = r["cleanup"]["new"]
        by_folder: dict[str, list[int]] = {}
        for path, size in new.items():
            by_folder.setdefault(folder_of(path, state.scan.root), []).append(size)
        where = "; ".join(f"{folder} {len(sizes)} files, {sum(sizes) / MB:.1f} MB"
                          for folder, sizes in sorted(by_folder.items(), key=lambda kv: -sum(kv[1]))[:5])
        largest = ", ".join(f"{p} ({s / MB:.1f} MB)" for p, s in sorted(new.items(), key=lambda kv: -kv[1])[:3])
        lines += ["", (f"Temp files new since the idle baseline ({len(new)}; {len(r['cleanup']['gone'])} of the "
                       f"baseline's are gone; other programs may write there too): {where}. Largest: {largest}")]
    if state.leaked:
        lines += ["", "Files hostile requests left in the server's temp dir (removed by this script at the end): "
                  + ", ".join(state.leaked)]
    bad = [c for c in r.get("hostile", []) if not c.clean and c.log]
    for c in bad:
        lines += ["", f"Server log during “{c.name}”:", "```", c.log, "```"]
    lines += ["", "RESULT: " + ("PASS" if not failed else "FAIL: " + "; ".join(failed))]
    print("\n".join(lines), flush=True)
    return failed


# ------------------------------------------------------------------------------------------ main


def stop_server(server: subprocess.Popen) -> None:
    """SIGTERM the server, then SIGKILL whatever is left of its process group (zygote, workers)."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 5
    while group_pids(server.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_pids(server.pid):
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer clients and trainings")
    parser.add_argument("--port", type=int, default=None, help="the server's port (default: a free one)")
    parser.add_argument("--keep-log", action="store_true", help="keep the server's log (kept anyway on failure)")
    parser.add_argument("--timeout", type=float, default=330.0, help="hard limit for the whole run, seconds")
    parser.add_argument("--stock-client", action="store_true",
                        help="gradio_client with ssl_verify left on (its default): ~50 ms more CPU per call here")
    parser.add_argument("--no-probe", action="store_true",
                        help="no raw-HTTP latency probe beside the gradio_client decoders")
    parser.add_argument("--private-tmp", action="store_true",
                        help="give the server a temp dir of its own (TMPDIR), measured instead of the shared one")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    began = time.monotonic()
    loadavg = os.getloadavg()[0]

    own = Path(tempfile.mkdtemp(prefix=OWN_PREFIX))
    (own / "downloads").mkdir()
    log_path = own / "app.log"
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_TEMP_DIR"}
    env.update(GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), PYTHONUNBUFFERED="1")
    scan_root = tempfile.gettempdir()
    if args.private_tmp:
        scan_root = tempfile.mkdtemp(prefix=OWN_PREFIX + "server-")  # the server's own temp dir, measured alone
        env["TMPDIR"] = scan_root
    with open(log_path, "w") as out:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=HERE, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    sampler = Sampler(server.pid)
    state = State(url=url, own=own, server=server, log_path=log_path, scan=TempScan(scan_root), sampler=sampler,
                  plan=plan, ssl_verify=args.stock_client)
    state.report["loadavg"] = loadavg
    finished = threading.Event()

    def hard_timeout() -> None:
        if finished.is_set():
            return
        print(f"\nHARD TIMEOUT after {args.timeout:.0f} s: killing the server's process group {server.pid} "
              f"(session folders it had not released yet may remain in its Gradio cache)", file=sys.stderr, flush=True)
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            print_report(state, time.monotonic() - began, timed_out=True)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        tidy(keep_log=True)
        print(f"server log: {log_path}", flush=True)
        os._exit(2)

    def tidy(keep_log: bool) -> None:
        """Remove what this run created: its folder (but the log, if asked), the server's private temp dir,
        and files that its own hostile requests made the server leave in the temp dir."""
        for path in state.leaked:
            Path(path).unlink(missing_ok=True)
        if args.private_tmp:
            shutil.rmtree(scan_root, ignore_errors=True)
        if not keep_log:
            shutil.rmtree(own, ignore_errors=True)
            return
        for child in own.iterdir():
            if child != log_path:
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)

    timer = threading.Timer(args.timeout, hard_timeout)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed: list[str] = ["did not finish"]
    try:
        start_s = wait_for_http(url, server, timeout=90)
        print(f"app up on {url} in {start_s:.1f} s (log: {log_path})", flush=True)
        warm = state.client()
        warm.predict("3 1 4 1 5 9", api_name="/decode")

        # 1. idle baseline
        idle = state.report["idle"] = settle_and_measure(state)
        print(f"1. idle: PSS {mb(idle['pss'])} MB, RSS sum {mb(idle['rss'])} MB, {idle['processes']} processes; "
              f"temp {idle['files']} files, {idle['bytes'] / MB:.1f} MB", flush=True)
        sampler.start()
        if not args.no_probe:
            state.probe = RawProbe(url, fn_index(url, "decode"))
            state.probe.start()

        # 2. decode latency, nothing training
        decoders = make_clients(state, plan.decode_clients)
        with phase(state, "idle decode"):
            calls = state.report["idle_calls"] = run_decoders(state, decoders, None, plan.pause)
        p50, p95, top = percentiles([c.seconds for c in calls])
        print(f"2. idle decode: p50 {ms(p50)} ms, p95 {ms(p95)} ms, max {ms(top)} ms ({len(calls)} calls)", flush=True)

        # 3. load
        with phase(state, "load"):
            calls, results = load_phase(state, decoders)
        if state.probe is not None:
            state.probe.halt.set()
        state.report["load_calls"], state.report["trainings"] = calls, results
        state.report.setdefault("peaks", {})["load"] = sampler.peak(*state.phases["load"])
        p50, p95, top = percentiles([c.seconds for c in calls])
        print(f"3. load: decode p50 {ms(p50)} ms, p95 {ms(p95)} ms, max {ms(top)} ms ({len(calls)} calls); "
              f"{sum(t.ok for t in results)}/{len(results)} trainings Done/Stopped", flush=True)

        # 4. hostile
        with phase(state, "hostile"):
            state.report["hostile"] = hostile_phase(state)
        state.report["peaks"]["hostile"] = sampler.peak(*state.phases["hostile"])
        print(f"4. hostile: {sum(c.clean for c in state.report['hostile'])}/{len(state.report['hostile'])} clean",
              flush=True)

        # 5. clean-up
        state.report["cleanup"] = cleanup_phase(state, idle)
        sampler.halt.set()
        print(flush=True)
        failed = print_report(state, time.monotonic() - began)
    except Exception as e:  # noqa: BLE001
        state.error("load test", e)
        traceback.print_exc()
        print(f"--- server log (last lines) ---\n{state.log_since(max(0, state.log_size() - 3000), 3000)}",
              file=sys.stderr)
        failed = print_report(state, time.monotonic() - began) or ["the load test itself failed"]
    finally:
        finished.set()
        timer.cancel()
        sampler.halt.set()
        if state.probe is not None:
            state.probe.halt.set()
        stop_server(server)
        tidy(keep_log=args.keep_log or bool(failed))
        if args.keep_log or failed:
            print(f"server log kept: {log_path}")
    print(f"total {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # gradio_client's threads must not hold the exit
