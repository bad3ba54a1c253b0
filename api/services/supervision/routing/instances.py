"""Readers for the public benchmark formats, as integer `RoutingProblem`s: TSPLIB (EUC_2D,
rounded), Solomon VRPTW in VRPLIB form (DIMACS convention: distances and times truncated to one
decimal, so everything is scaled by ten) and TSPTW (n, an n×n matrix, n "early late" lines).
Used by `bench/routes.py` and the tests; the planner never reads files."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from api.services.supervision.routing.problem import RoutingProblem, Vehicle, Visit


@dataclass(frozen=True)
class Instance:
    name: str
    problem: RoutingProblem
    scale: int  # objective units per published unit (10 for DIMACS Solomon, 1 for TSPLIB)


def _sections(path: Path) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    specs: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = sections.setdefault(line, [])
        elif current is not None and (line[0].isdigit() or line[0] == "-"):
            current.append(line.split())
        elif ":" in line:
            key, _, value = line.partition(":")
            specs[key.strip()] = value.strip()
            current = None
    return specs, sections


def _euclid(xy: np.ndarray) -> np.ndarray:
    diff = xy[:, None, :] - xy[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def read_tsplib(path: Path) -> Instance:
    """A symmetric EUC_2D TSP: one vehicle from city 1 back to city 1, distances rounded to the
    nearest integer (TSPLIB's nint)."""
    specs, sections = _sections(path)
    if specs.get("EDGE_WEIGHT_TYPE") != "EUC_2D":
        raise ValueError(f"{path.name}: only EUC_2D is supported")
    xy = np.array([[float(r[1]), float(r[2])] for r in sections["NODE_COORD_SECTION"]])
    dist = np.floor(_euclid(xy) + 0.5).astype(np.int64)
    visits = tuple(Visit(location=i) for i in range(1, len(xy)))
    problem = RoutingProblem(dist, np.zeros_like(dist), visits, (Vehicle(start=0, end=0),))
    return Instance(path.stem, problem, 1)


def read_tsplib_tour(path: Path) -> list[int]:
    """An optimal tour (0-based city indices) from a TSPLIB `.opt.tour` file."""
    _, sections = _sections(path)
    return [int(r[0]) - 1 for r in sections["TOUR_SECTION"] if int(r[0]) > 0]


def read_solomon(path: Path, customers: int | None = None) -> Instance:
    """A Solomon VRPTW in VRPLIB form; `customers` keeps the depot and the first 25 or 50
    (Solomon's smaller instances). Distances and times are truncated to one decimal and scaled
    by ten; travel time equals distance; the fleet is the file's VEHICLES, capacity CAPACITY."""
    specs, sections = _sections(path)
    coords = sections["NODE_COORD_SECTION"]
    keep = len(coords) if customers is None else customers + 1
    xy = np.array([[float(r[1]), float(r[2])] for r in coords[:keep]])
    dist = np.floor(_euclid(xy) * 10 + 1e-9).astype(np.int64)
    demand = [int(r[1]) for r in sections["DEMAND_SECTION"][:keep]]
    tw = [(int(r[1]) * 10, int(r[2]) * 10) for r in sections["TIME_WINDOW_SECTION"][:keep]]
    service = int(float(specs.get("SERVICE_TIME", "0")) * 10)
    if "SERVICE_TIME_SECTION" in sections:
        per = [int(float(r[1]) * 10) for r in sections["SERVICE_TIME_SECTION"][:keep]]
    else:
        per = [0] + [service] * (keep - 1)
    depot = int(sections["DEPOT_SECTION"][0][0]) - 1
    if depot != 0:
        raise ValueError(f"{path.name}: the depot must be the first node")
    visits = tuple(
        Visit(location=i, service_s=per[i], earliest=tw[i][0], latest=tw[i][1], demand=demand[i])
        for i in range(1, keep)
    )
    fleet = Vehicle(
        start=0,
        end=0,
        earliest=tw[0][0],
        latest=tw[0][1],
        count=int(specs["VEHICLES"]),
        capacity=int(specs["CAPACITY"]),
    )
    name = path.stem if customers is None else f"{path.stem}.{customers}"
    return Instance(name, RoutingProblem(dist, dist.copy(), visits, (fleet,)), 10)


def read_tsptw(path: Path) -> Instance:
    """A TSPTW file: node 0 is the depot, whose window bounds departure and return; service
    must start by a node's `late`; waiting is allowed. Fractional matrices (Potvin-Bengio)
    are scaled by 10,000 to stay exact in integers."""
    tokens = path.read_text().split()
    n = int(tokens[0])
    raw = tokens[1 : 1 + n * n]
    windows = tokens[1 + n * n : 1 + n * n + 2 * n]
    scale = 1 if all(t.lstrip("-").isdigit() for t in raw + windows) else 10_000
    matrix = np.array([float(t) for t in raw]).reshape(n, n)
    dist = np.rint(matrix * scale).astype(np.int64)
    np.fill_diagonal(dist, 0)
    tw = [
        (math.ceil(float(windows[2 * i]) * scale), math.floor(float(windows[2 * i + 1]) * scale))
        for i in range(n)
    ]
    visits = tuple(Visit(location=i, earliest=tw[i][0], latest=tw[i][1]) for i in range(1, n))
    vehicle = Vehicle(start=0, end=0, earliest=tw[0][0], latest=tw[0][1])
    return Instance(
        path.name.removesuffix(".txt"), RoutingProblem(dist, dist.copy(), visits, (vehicle,)), scale
    )


def read_best_known(path: Path) -> dict[str, float]:
    """Best-known costs from a `best_known_*.txt` file (instance name without `.txt`)."""
    best = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        best[parts[0].removesuffix(".txt")] = float(parts[1])
    return best
