"""Evidence files: completing a 5 MB photo, memory while streaming uploads of 5 and 50 MB through
the local PUT endpoint, and streaming an evidence pack of 200 photos.

Everything goes through the API as a phone and legal staff use it: files are declared in visit
reports pushed through `/sync/push`, uploaded to the signed URL from `upload-url` and completed.
Uploads and the pack go over a real HTTP socket (werkzeug's threaded server, in process, local
blob store); memory is the Python heap peak (tracemalloc, a separate run) and the process's
resident set size sampled every 2 ms, both relative to just before the operation. Usage:

    .venv/bin/python bench/evidence.py [--photos 200] [--runs 5] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageFilter, TiffImagePlugin  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from api import create_app  # noqa: E402
from api.config import Config  # noqa: E402
from api.extensions import db  # noqa: E402
from api.models import Bucket, Case, Debtor, Product, Role  # noqa: E402
from api.services.casefile.assignment import set_assignment  # noqa: E402
from api.services.evidence.pack_format import verify_pack  # noqa: E402
from api.services.identity import accounts  # noqa: E402
from bench.databases import database  # noqa: E402

PASSWORD = "bench password 1"
HOME = (22.54554, 114.0683)  # Futian, Shenzhen (WGS84)
MB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- test material


def _dms(value: float) -> tuple:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return tuple(TiffImagePlugin.IFDRational(v) for v in (degrees, minutes, seconds))


def phone_photo(width: int, height: int, target_bytes: int, seed: int = 0) -> bytes:
    """A JPEG with a phone camera's EXIF (time, GPS at HOME) and enough texture that its size
    and decoding cost are those of a real photo of that many pixels."""

    def channel(blur: float) -> Image.Image:
        coarse = Image.effect_noise((width // 4, height // 4), 80 + seed)
        coarse = coarse.filter(ImageFilter.GaussianBlur(blur)).resize(
            (width, height), Image.Resampling.BICUBIC
        )
        return Image.blend(coarse, Image.effect_noise((width, height), 40), 0.35)

    image = Image.merge("RGB", [channel(3), channel(4), channel(5)])
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Bench", "Phone 1"
    exif[0x0132] = "2026:11:20 10:05:00"
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 10:05:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", _dms(HOME[0]), "E", _dms(HOME[1])
    gps[18] = "WGS-84"
    best = b""
    for quality in range(80, 99):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif)
        best = out.getvalue()
        if len(best) >= target_bytes:
            break
    return best


class Generated(io.RawIOBase):
    """`size` bytes of a "scanned document" made on demand, never held at once."""

    def __init__(self, size: int):
        self.left = size
        self.head = b"%PDF-1.7\n"
        self.block = hashlib.sha256(b"bench").digest() * 2048  # 64 KiB

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            chunk, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        else:
            chunk = self.block[: len(buffer)]
        chunk = chunk[: self.left]
        buffer[: len(chunk)] = chunk
        self.left -= len(chunk)
        return len(chunk)


def generated_digest(size: int) -> str:
    digest, stream = hashlib.sha256(), Generated(size)
    while block := stream.read(MB):
        digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- measuring


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@contextmanager
def rss_peak() -> Iterator[dict]:
    """Peak resident set size above the starting point, sampled every 2 ms."""
    result = {"base": rss(), "peak": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            result["peak"] = max(result["peak"], rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()
        result["peak"] = max(result["peak"], rss())
        result["delta"] = result["peak"] - result["base"]


def measured(action: Callable[[], object]) -> tuple[float, int, dict]:
    """(seconds, tracemalloc peak above start, RSS {base, peak, delta}): timed in a plain run
    (which also warms up), memory measured in a second, traced run."""
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    with rss_peak() as resident:
        action()
    heap = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return seconds, heap, resident


# --------------------------------------------------------------------------- the world


class Field:
    """A team, a collector with a phone, legal staff and one case, through the API."""

    def __init__(self, app, client, server_port: int):
        self.app, self.client, self.port = app, client, server_port
        team = accounts.create_team(db.session, "BENCH", "Bench team")
        collector = accounts.create_user(
            db.session,
            username="collector",
            full_name="Bench Collector",
            role=Role.COLLECTOR,
            password=PASSWORD,
            team_id=team.id,
        )
        accounts.create_user(
            db.session,
            username="legal",
            full_name="Bench Legal",
            role=Role.LEGAL,
            password=PASSWORD,
            team_id=None,
        )
        db.session.commit()
        self.team_id, self.collector_id = team.id, collector.id
        self.case_id = self.new_case("HT-BENCH-1")
        self.device_id = str(uuid.uuid4())
        self.phone = self._login("collector", self.device_id)
        self.legal = self._login("legal", str(uuid.uuid4()))
        self.mutation_id = 0

    def new_case(self, contract_no: str) -> int:
        """A case held by the collector; later declarations go to it."""
        cipher = self.app.extensions["fieldvisit.pii"]
        national_id = "440308199901101512"
        debtor = Debtor(
            lender_ref=f"D-{contract_no}",
            name="Debtor",
            national_id_cipher=cipher.encrypt(national_id),
            national_id_digest=cipher.digest(national_id + contract_no),
            national_id_last4=national_id[-4:],
        )
        case = Case(
            contract_no=contract_no,
            debtor=debtor,
            product=Product.CAR_LOAN,
            principal_fen=12_000_000,
            disbursed_on=date(2026, 1, 15),
            days_past_due=45,
            bucket=Bucket.M2,
            overdue_fen=1_050_000,
            outstanding_fen=9_000_000,
            total_due_fen=12_600_000,
        )
        db.session.add(case)
        db.session.flush()
        set_assignment(
            db.session,
            case,
            team_id=self.team_id,
            collector_id=self.collector_id,
            assigned_by_id=None,
            reason="bench",
        )
        db.session.commit()
        return case.id

    def _login(self, username: str, device_id: str) -> dict:
        answer = self.client.post(
            "/auth/login",
            json={
                "username": username,
                "password": PASSWORD,
                "device": {"id": device_id, "label": "bench", "platform": "bench"},
            },
        )
        assert answer.status_code == 200, answer.get_json()
        return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}

    def declare(self, files: list[dict]) -> None:
        """One visit report declaring `files` (at most 50)."""
        self.mutation_id += 1
        visit = {
            "id": str(uuid.uuid4()),
            "case_id": self.case_id,
            "started_at": "2026-11-20T10:00:00+08:00",
            "ended_at": "2026-11-20T10:20:00+08:00",
            "met": "debtor",
            "outcome": "promise_to_pay",
            "next_step": "revisit",
            "files": files,
        }
        body = {
            "device_id": self.device_id,
            "mutations": [
                {
                    "mutation_id": self.mutation_id,
                    "type": "visit_report",
                    "client_time": "2026-11-20T10:25:00+08:00",
                    "payload": visit,
                }
            ],
        }
        answer = self.client.post("/sync/push", headers=self.phone, json=body)
        result = answer.get_json()["results"][0]
        assert result["status"] == "applied", result

    def upload_url(self, file_id: str) -> dict:
        answer = self.client.post(f"/evidence/{file_id}/upload-url", headers=self.phone)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def put(self, file_id: str, body, size: int) -> None:
        """PUT over a real socket, the body read from `body` in 1 MB blocks."""
        target = self.upload_url(file_id)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120, blocksize=MB)
        try:
            headers = {**target["headers"], "Content-Length": str(size)}
            conn.request("PUT", target["url"], body=body, headers=headers)
            answer = conn.getresponse()
            payload = answer.read()
            assert answer.status == 200, payload
        finally:
            conn.close()

    def complete(self, file_id: str) -> dict:
        answer = self.client.post(f"/evidence/{file_id}/complete", headers=self.phone)
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def download_pack(self, out_path: Path) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        written = 0
        try:
            conn.request("GET", f"/cases/{self.case_id}/evidence-pack", headers=self.legal)
            answer = conn.getresponse()
            assert answer.status == 200, answer.read()
            with out_path.open("wb") as out:
                while block := answer.read(MB):
                    out.write(block)
                    written += len(block)
        finally:
            conn.close()
        return written


def declaration(data: bytes | None = None, *, size: int = 0, sha256: str = "", mime: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "kind": "site" if mime.startswith("image/") else "document",
        "sha256": hashlib.sha256(data).hexdigest() if data is not None else sha256,
        "size": len(data) if data is not None else size,
        "mime": mime,
        "captured_at": "2026-11-20T10:05:00+08:00",
        "lat": HOME[0],
        "lon": HOME[1],
        "accuracy_m": 8.0,
    }


# --------------------------------------------------------------------------- the benchmark


def bench(engine: str, args, big_photo: bytes, pack_photo: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp_name, database(engine) as url:
        tmp = Path(tmp_name)
        config = Config(
            database_url=url,
            blob_store=f"local:{tmp / 'blobs'}",
            secret_key="bench-secret",
            debug=True,
            argon2_profile="CHEAPEST",
        )
        app = create_app(config)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with app.app_context():
                field = Field(app, app.test_client(), server.server_port)
                print(f"\n== {engine}")
                _complete_5mb(field, args.runs, big_photo)
                _stream_uploads(field)
                _pack(field, args.photos, pack_photo, tmp)
        finally:
            server.shutdown()
            with app.app_context():
                db.engine.dispose()


def _complete_5mb(field: Field, runs: int, photo: bytes) -> None:
    declared = [declaration(photo, mime="image/jpeg") for _ in range(runs)]
    field.declare(declared)
    times, flags = [], set()
    for d in declared:
        field.put(d["id"], io.BytesIO(photo), len(photo))
        db.session.commit()  # end the read transaction the upload-url call opened
        started = time.perf_counter()
        body = field.complete(d["id"])
        times.append(time.perf_counter() - started)
        flags |= set(body["flags"])
    print(
        f"complete a {len(photo) / MB:.1f} MB photo ({body['exif']['width']}x"
        f"{body['exif']['height']}, EXIF time+GPS): median {statistics.median(times) * 1000:.0f} ms"
        f", min {min(times) * 1000:.0f} ms over {runs} (verify, full decode, EXIF compare, "
        f"thumbnail, audit, commit); flags {sorted(flags) or 'none'}"
    )


def _stream_uploads(field: Field) -> None:
    rows = []
    for size in (5 * MB, 50 * MB):
        digest = generated_digest(size)
        slots = [declaration(size=size, sha256=digest, mime="application/pdf") for _ in range(2)]
        field.declare(slots)
        ids = iter(s["id"] for s in slots)

        def upload(ids=ids, size=size) -> None:
            field.put(next(ids), Generated(size), size)

        seconds, heap, resident = measured(upload)
        db.session.commit()
        rows.append((size, seconds, heap, resident))
    print("local streaming PUT (real socket, body generated on the fly, verified on the way):")
    for size, seconds, heap, resident in rows:
        print(
            f"  {size // MB:>3} MB: {seconds * 1000:6.0f} ms ({size / MB / seconds:4.0f} MB/s), "
            f"heap peak +{heap / MB:5.2f} MB, RSS peak {resident['peak'] / MB:6.1f} MB "
            f"(+{resident['delta'] / MB:.1f})"
        )
    (_, _, heap5, rss5), (_, _, heap50, rss50) = rows
    print(
        f"  ratio 50 MB / 5 MB (the file is 10x): heap peak {heap50 / heap5:.2f}, "
        f"RSS peak {rss50['peak'] / rss5['peak']:.2f}"
    )


def _pack(field: Field, count: int, photo: bytes, tmp: Path) -> None:
    field.case_id = field.new_case("HT-BENCH-PACK")  # a case holding only these photos
    started = time.perf_counter()
    declared = [declaration(photo, mime="image/jpeg") for _ in range(count)]
    for first in range(0, count, 50):
        field.declare(declared[first : first + 50])
    for d in declared:
        field.put(d["id"], io.BytesIO(photo), len(photo))
        db.session.commit()
    upload_s = time.perf_counter() - started
    started = time.perf_counter()
    for d in declared:
        field.complete(d["id"])
    complete_s = time.perf_counter() - started
    print(
        f"evidence pack of {count} photos of {len(photo) / MB:.2f} MB "
        f"(setup: upload {upload_s:.1f} s, complete {complete_s:.1f} s = "
        f"{complete_s / count * 1000:.0f} ms/photo):"
    )
    db.session.commit()
    out = tmp / "pack.zip"
    seconds, heap, resident = measured(lambda: field.download_pack(out))
    size = out.stat().st_size
    print(
        f"  stream {size / MB:.0f} MB over HTTP to disk: {seconds:.2f} s "
        f"({size / MB / seconds:.0f} MB/s), heap peak +{heap / MB:.2f} MB, "
        f"RSS peak {resident['peak'] / MB:.1f} MB (+{resident['delta'] / MB:.1f})"
    )
    started = time.perf_counter()
    report = verify_pack(out)
    print(
        f"  `evidence verify`: {'ok' if report.ok else report.problems[:3]}, "
        f"{report.files_checked} files in {time.perf_counter() - started:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=200, help="photos in the pack")
    parser.add_argument("--runs", type=int, default=5, help="completions of the 5 MB photo")
    parser.add_argument("--engines", default="sqlite")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    big = phone_photo(4000, 3000, 5 * MB)
    pack_photo = phone_photo(2400, 1800, 1_500_000, seed=5)
    print(
        f"photos made in {time.perf_counter() - started:.1f} s: {len(big) / MB:.2f} MB "
        f"(4000x3000), {len(pack_photo) / MB:.2f} MB (2400x1800); Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    for engine in args.engines.split(","):
        bench(engine, args, big, pack_photo)


if __name__ == "__main__":
    main()
