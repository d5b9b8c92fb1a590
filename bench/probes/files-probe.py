#!/usr/bin/env python3
"""Files probe (issue 9): 1,000 files in a temp folder; client A pipelines 1,000 `files`
requests; client B meanwhile asks `get` one at a time and times each answer.
Usage: files-probe.py SERVER_DLL LABEL HOCON  (all traffic on 127.0.0.1; bounded to 180 s).
See bench/README.md, "Probes"."""
import json, multiprocessing, os, random, re, shutil, socket, subprocess, sys, tempfile, threading, time

dll, label, hocon = sys.argv[1], sys.argv[2], sys.argv[3]
N_FILES, N_REQUESTS, DEADLINE = 1000, 1000, 180.0

work = tempfile.mkdtemp(prefix="files-probe-")
folder = os.path.join(work, "files")
os.makedirs(folder)
rnd = random.Random(1)
for i in range(N_FILES):
    with open(os.path.join(folder, f"file-{i:04d}-some-descriptive-name.bin"), "wb") as f:
        f.write(rnd.randbytes(1024))
cfg = os.path.join(work, "probe.hocon")
with open(cfg, "w") as f:
    f.write(hocon + "\nakka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\n")

server = subprocess.Popen(["dotnet", dll, "--chat-port", "0", "--file-port", "0", "--udp-port", "0",
                           "--files", folder, "--config", cfg],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
port = None
t_end = time.time() + 60
for line in server.stdout:
    m = re.search(r"chat tcp [\d.]+:(\d+)", line)
    if m:
        port = int(m.group(1)); break
    if time.time() > t_end: break
threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
assert port, "server did not start"


class Client:
    def __init__(self, name):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.received = 0
        self.send({"type": "hello", "user": name})
        assert self.frame()["type"] == "welcome"

    def send(self, obj):
        self.s.sendall((json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def frame(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk: raise EOFError
            self.received += len(chunk)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def until(self, types):
        while True:
            f = self.frame()
            if f["type"] in types: return f


a = Client("flooder")
# Warm up: wait until all files are listed (the old catalog hashes on the first request).
t0 = time.time()
while True:
    a.send({"type": "files"})
    f = a.until({"files", "error"})
    if f["type"] == "files" and f.get("total", len(f["files"])) >= N_FILES: break
    if time.time() - t0 > 60: sys.exit("files never listed")
    time.sleep(0.05)

def getter(done, out):
    # Its own process, so the flooder's JSON parsing (Python's GIL) does not inflate its timings.
    b = Client("getter")
    latencies, answers = [], {}
    i = 0
    while not done.is_set():
        t = time.perf_counter()
        b.send({"type": "get", "file": f"file-{i % N_FILES:04d}-some-descriptive-name.bin", "via": "tcp"})
        f = b.until({"ticket", "error"})
        latencies.append(time.perf_counter() - t)
        key = f["type"] if f["type"] == "ticket" else f["code"]
        answers[key] = answers.get(key, 0) + 1
        i += 1
        time.sleep(0.01)
    out.put((latencies, answers))
done = multiprocessing.Event()
out = multiprocessing.Queue()
gt = multiprocessing.Process(target=getter, args=(done, out)); gt.start()
time.sleep(0.5)  # let the getter log in and start before the flood

request = (json.dumps({"type": "files"}, separators=(",", ":")) + "\n").encode()
a.received = 0
start = time.perf_counter()
a.s.sendall(request * N_REQUESTS)
kinds = {}
got = 0
try:
    a.s.settimeout(DEADLINE)
    while got < N_REQUESTS and time.perf_counter() - start < DEADLINE:
        f = a.until({"files", "error"})
        key = "files" if f["type"] == "files" else f["code"]
        kinds[key] = kinds.get(key, 0) + 1
        got += 1
except (EOFError, socket.timeout, ConnectionError) as e:
    kinds["ended:" + type(e).__name__] = 1
elapsed = time.perf_counter() - start
done.set(); latencies, answers = out.get(timeout=60); gt.join()
server.terminate()
try: server.wait(10)
except subprocess.TimeoutExpired: server.kill()
shutil.rmtree(work, ignore_errors=True)

lat = sorted(latencies)
def pct(p): return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
print(f"{label}: A answers={kinds} bytes_in={a.received} bytes/request={a.received / N_REQUESTS:,.0f} "
      f"amplification={a.received / (len(request) * N_REQUESTS):,.0f}x total={elapsed:.2f}s | "
      f"B get n={len(lat)} p50={pct(0.5):.1f}ms p99={pct(0.99):.1f}ms max={pct(1.0):.1f}ms answers={answers}")
