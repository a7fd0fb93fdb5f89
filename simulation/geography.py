"""Where the areas are: centroids of the Stadtteil polygons and distances between them.

Source: frankfurt_stadtteile_boundaries_codeforfrankfurt.geojson (44 polygons, WGS84). That
file has one polygon for Gutleutviertel and Bahnhofsviertel together (STTLNR 10, "Gutleut-/
Bahnhofsviertel"): both areas take its centroid, so their distance is 0. Distances are
great-circle distances between centroids in km (area-weighted centroid of the outer rings).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from simulation import data
from simulation.errors import InputError

GEOJSON = "frankfurt_stadtteile_boundaries_codeforfrankfurt.geojson"
MERGED = {3: 10}  # Bahnhofsviertel (3) lies in the merged polygon numbered 10
EARTH_RADIUS_KM = 6371.0


def _ring_centroid(ring: np.ndarray) -> tuple[float, float, float]:
    """Signed area and centroid (lon, lat) of a closed ring, planar formula."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    area = cross.sum() / 2.0
    if area == 0:
        return 0.0, float(x.mean()), float(y.mean())
    cx = ((x[:-1] + x[1:]) * cross).sum() / (6 * area)
    cy = ((y[:-1] + y[1:]) * cross).sum() / (6 * area)
    return abs(area), float(cx), float(cy)


def _feature_centroid(geometry: dict) -> tuple[float, float]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    parts = [_ring_centroid(np.asarray(poly[0], float)) for poly in polygons]
    total = sum(p[0] for p in parts)
    return (sum(p[0] * p[1] for p in parts) / total, sum(p[0] * p[2] for p in parts) / total)


@lru_cache(maxsize=4)
def centroids(data_dir: Path) -> dict[int, tuple[float, float]]:
    """Stadtteil number -> (lon, lat) of its polygon's centroid."""
    path = Path(data_dir) / GEOJSON
    if not path.is_file():
        raise InputError(path, None, "data file not found", "the Stadtteil boundaries GeoJSON (see PROVENANCE.md)")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    out = {int(f["properties"]["STTLNR"]): _feature_centroid(f["geometry"]) for f in features}
    for part, whole in MERGED.items():
        out.setdefault(part, out[whole])
    return out


def distance_matrix(data_dir: Path, area_numbers: list[int]) -> np.ndarray:
    """Great-circle distances in km between the centroids of the given Stadtteile."""
    data.note_read(Path(data_dir) / GEOJSON)
    cents = centroids(data_dir)
    missing = [n for n in area_numbers if n not in cents]
    if missing:
        raise InputError(Path(data_dir) / GEOJSON, "STTLNR", f"no polygon for Stadtteil number {missing[0]}")
    lon, lat = np.radians(np.array([cents[n] for n in area_numbers])).T
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
