"""Real places around which the book lives (api/data/places.csv), and the teams covering them."""

from __future__ import annotations

import csv
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from api.services.geo import gcj02_to_bd09, wgs84_to_gcj02

PLACES_CSV = Path(__file__).resolve().parents[3] / "data" / "places.csv"
# (team code, places.csv group): one team per region group.
DEFAULT_TEAMS: list[tuple[str, str]] = [
    ("BJ-01", "beijing_metro"), ("PRD-01", "pearl_river_delta"), ("IC-01", "intercity")]
TEAM_NAMES = {"beijing_metro": "北京外访一组", "pearl_river_delta": "珠三角外访一组",
              "intercity": "异地外访组"}
_GROUP_WEIGHTS = {"beijing_metro": 0.25, "pearl_river_delta": 0.35, "intercity": 0.40}

# geonameid -> (city, ((district, GB/T 2260 county code), ...), plate province + letters, area)
_PLACE_CN: dict[int, tuple[str, tuple[tuple[str, str], ...], str, str]] = {
    1816670: ("北京市", (("东城区", "110101"), ("西城区", "110102"), ("朝阳区", "110105"),
                        ("丰台区", "110106"), ("海淀区", "110108")), "京ACEFHJKLMNPQ", "010"),
    1796236: ("上海市", (("黄浦区", "310101"), ("徐汇区", "310104"), ("静安区", "310106"),
                        ("闵行区", "310112"), ("浦东新区", "310115")), "沪ABDEFGHJKLMN", "021"),
    1809858: ("广州市", (("越秀区", "440104"), ("海珠区", "440105"), ("天河区", "440106"),
                        ("白云区", "440111")), "粤A", "020"),
    1795565: ("深圳市", (("罗湖区", "440303"), ("福田区", "440304"), ("南山区", "440305"),
                        ("宝安区", "440306"), ("龙岗区", "440307")), "粤B", "0755"),
    1815286: ("成都市", (("锦江区", "510104"), ("青羊区", "510105"), ("武侯区", "510107"),
                        ("成华区", "510108")), "川AG", "028"),
    1814906: ("重庆市", (("渝中区", "500103"), ("江北区", "500105"), ("九龙坡区", "500107"),
                        ("南岸区", "500108")), "渝ABCD", "023"),
    1791247: ("武汉市", (("江岸区", "420102"), ("江汉区", "420103"), ("武昌区", "420106"),
                        ("洪山区", "420111")), "鄂A", "027"),
    1790630: ("西安市", (("新城区", "610102"), ("碑林区", "610103"), ("莲湖区", "610104"),
                        ("雁塔区", "610113")), "陕AU", "029"),
    1808926: ("杭州市", (("上城区", "330102"), ("拱墅区", "330105"), ("西湖区", "330106"),
                        ("滨江区", "330108")), "浙A", "0571"),
    1799962: ("南京市", (("玄武区", "320102"), ("秦淮区", "320104"), ("建邺区", "320105"),
                        ("鼓楼区", "320106")), "苏A", "025"),
    1792947: ("天津市", (("和平区", "120101"), ("河东区", "120102"), ("河西区", "120103"),
                        ("南开区", "120104")), "津ABCDEFGH", "022"),
    2037013: ("哈尔滨市", (("道里区", "230102"), ("南岗区", "230103"), ("道外区", "230104")),
              "黑A", "0451"),
    2034937: ("沈阳市", (("和平区", "210102"), ("沈河区", "210103"), ("皇姑区", "210105")),
              "辽A", "024"),
    1804651: ("昆明市", (("五华区", "530102"), ("盘龙区", "530103"), ("官渡区", "530111")),
              "云A", "0871"),
    1529102: ("乌鲁木齐市", (("天山区", "650102"), ("沙依巴克区", "650103"),
                            ("新市区", "650104")), "新A", "0991"),
    1280737: ("拉萨市", (("城关区", "540102"),), "藏A", "0891"),
    1809078: ("海口市", (("秀英区", "460105"), ("龙华区", "460106"), ("美兰区", "460108")),
              "琼A", "0898"),
    1800657: ("北京市", (("门头沟区", "110109"),), "京ACEFHJKLMNPQ", "010"),
    1792520: ("北京市", (("通州区", "110112"),), "京ACEFHJKLMNPQ", "010"),
    2034754: ("北京市", (("顺义区", "110113"),), "京ACEFHJKLMNPQ", "010"),
    1807544: ("北京市", (("大兴区", "110115"),), "京ACEFHJKLMNPQ", "010"),
    1811542: ("北京市", (("房山区", "110111"),), "京ACEFHJKLMNPQ", "010"),
    2038154: ("北京市", (("昌平区", "110114"),), "京ACEFHJKLMNPQ", "010"),
    1803948: ("北京市", (("房山区良乡镇", "110111"),), "京ACEFHJKLMNPQ", "010"),
    1812545: ("东莞市", (("莞城街道", "441900"), ("南城街道", "441900")), "粤S", "0769"),
    1811103: ("佛山市", (("禅城区", "440604"),), "粤E", "0757"),
    1806299: ("江门市", (("蓬江区", "440703"),), "粤J", "0750"),
    1795060: ("中山市", (("石岐街道", "442000"),), "粤T", "0760"),
    1814082: ("佛山市", (("顺德区大良街道", "440606"),), "粤EX", "0757"),
    1806882: ("江门市", (("新会区", "440705"),), "粤J", "0750"),
    1806696: ("东莞市", (("虎门镇", "441900"),), "粤S", "0769"),
    1803791: ("广州市", (("增城区荔城街道", "440118"),), "粤A", "020"),
    1795055: ("广州市", (("番禺区市桥街道", "440113"),), "粤A", "020"),
    1801799: ("惠州市", (("博罗县罗阳街道", "441322"),), "粤L", "0752"),
    1807301: ("广州市", (("黄埔区大沙街道", "440112"),), "粤A", "020"),
    1795184: ("东莞市", (("石龙镇", "441900"),), "粤S", "0769"),
    1794947: ("佛山市", (("禅城区石湾镇街道", "440604"),), "粤E", "0757"),
}
# GeoNames (2018) gives Lhasa Asia/Urumqi; Tibet keeps Beijing time.
_TIMEZONE_FIX = {1280737: "Asia/Shanghai"}


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str
    lat: float
    lon: float
    population: int
    timezone: str
    group: str
    city: str
    districts: tuple[tuple[str, str], ...]
    plate_prefix: str  # province character followed by the authority letters in use
    area_code: str


@lru_cache(maxsize=1)
def load_places() -> tuple[Place, ...]:
    """The places of api/data/places.csv with their Chinese names and codes."""
    with PLACES_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    places = []
    for row in rows:
        gid = int(row["geonameid"])
        city, districts, plates, area = _PLACE_CN[gid]
        places.append(Place(gid, row["name"], float(row["lat"]), float(row["lon"]),
                            int(row["population"]), _TIMEZONE_FIX.get(gid, row["timezone"]),
                            row["group"], city, districts, plates, area))
    return tuple(places)


def scatter_point(rng: random.Random, lat: float, lon: float, max_km: float) -> tuple[float, float]:
    """A WGS84 point at a random bearing, up to `max_km` away (local flat approximation)."""
    d = max_km * 1000 * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    return (lat + d * math.cos(bearing) / 111_320,
            lon + d * math.sin(bearing) / (111_320 * math.cos(math.radians(lat))))


def lender_coordinates(rng: random.Random, lat: float, lon: float) -> dict[str, Any]:
    """The point as a lender gives it: mostly WGS84, some from AMap (GCJ02) or Baidu (BD09)."""
    datum = rng.choices(("WGS84", "GCJ02", "BD09"), (70, 25, 5))[0]
    if datum != "WGS84":
        lat, lon = wgs84_to_gcj02(lat, lon)
        if datum == "BD09":
            lat, lon = gcj02_to_bd09(lat, lon)
    return {"lat": round(lat, 6), "lon": round(lon, 6), "datum": datum}


def team_places(teams: list[tuple[str, str]]) -> list[tuple[Place, str, float]]:
    """(place, team code, weight): each group's places shared round-robin among its teams."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for code, group in teams:
        if group not in _GROUP_WEIGHTS:
            raise ValueError(f"unknown places group {group!r} for team {code}")
        by_group[group].append(code)
    out = []
    for group, codes in by_group.items():
        places = sorted((p for p in load_places() if p.group == group),
                        key=lambda p: -p.population)
        total = sum(math.sqrt(p.population) for p in places)
        for i, place in enumerate(places):
            weight = _GROUP_WEIGHTS[group] * math.sqrt(place.population) / total
            out.append((place, codes[i % len(codes)], weight))
    return out
