"""Pledged vehicles and machines: valid VINs, plates of the province, tracker reports."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.services.casefile.identifiers import vin_check_digit
from api.services.imports.demo.places import Place

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # model years 1980/2010 = A, 30-year cycle
_PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
# (WMI, make, model, engine prefix, new energy)
_CARS = (
    ("LSV", "大众", "朗逸", "DJS", False), ("LFV", "大众", "速腾", "DLF", False),
    ("LSG", "别克", "英朗", "LEA", False), ("LHG", "本田", "雅阁", "L15B", False),
    ("LVS", "福特", "福克斯", "CAF", False), ("LGB", "日产", "轩逸", "HR16", False),
    ("LSJ", "名爵", "ZS", "15S4C", False), ("LFM", "丰田", "卡罗拉", "M15A", False),
    ("LBV", "宝马", "3系", "B48B", False), ("LDC", "雪铁龙", "C5", "EP6", False),
    ("LGX", "比亚迪", "秦PLUS", "TZ180", True), ("LGX", "比亚迪", "汉", "TZ200", True),
    ("LRW", "特斯拉", "Model 3", "3D6", True), ("LNB", "北汽", "EU5", "TZ210", True),
)
_TRUCKS = (
    ("LZZ", "中国重汽", "豪沃T7H", "MC13", False), ("LFW", "一汽解放", "J6P", "CA6DM", False),
    ("LZG", "陕汽", "德龙X3000", "WP12", False), ("LGA", "东风", "天龙KL", "DDI13", False),
)
_MACHINES = (
    ("三一", "SY215C", "4HK1"), ("徐工", "XE215DA", "QSB6.7"), ("柳工", "CLG922E", "QSB7"),
    ("中联重科", "ZE215E", "4HK1"), ("山推", "SD16", "WD10G"), ("临工", "L956F", "WD10"),
)
_COLOURS = ("白色", "黑色", "银色", "灰色", "红色", "蓝色")


def _vin(rng: random.Random, wmi: str, year: int) -> str:
    vds = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
    body = f"{wmi}{vds}0{_YEAR_CODES[(year - 1980) % 30]}{rng.choice(_VIN_CHARS)}"
    vin = body + f"{rng.randrange(10**6):06d}"
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def _plate(rng: random.Random, place: Place, kind: str) -> str:
    head = place.plate_prefix[0] + rng.choice(place.plate_prefix[1:])
    if kind == "new_energy_small":
        return (head + rng.choice("DF") + rng.choice(_PLATE_CHARS.replace("Q", "") + "0123456789")
                + f"{rng.randrange(10**4):04d}")
    if kind == "new_energy_large":
        return head + f"{rng.randrange(10**5):05d}" + rng.choice("DF")
    tail = [str(rng.randrange(10)) for _ in range(5)]
    for pos in rng.sample(range(5), rng.choices((0, 1, 2), (5, 4, 1))[0]):
        tail[pos] = rng.choice(_PLATE_CHARS)
    return head + "".join(tail)


def collateral_records(rng: random.Random, product: str, place: Place, year: int,
                       as_of: date, addresses: list[dict]) -> list[dict]:
    """The case's pledged vehicle or machine (none for a consumer loan), often tracked."""
    if product == "consumer_loan":
        return []
    if product == "machinery_finance":
        make, model, engine = rng.choice(_MACHINES)
        row: dict[str, Any] = {"ref": "V1", "kind": "machinery", "vin": None,
                               "engine_no": f"{engine.replace('.', '')}{rng.randrange(10**7):07d}",
                               "plate": None, "make": make, "model": model, "colour": "黄色"}
    else:
        truck = rng.random() < 0.15
        wmi, make, model, engine, nev = rng.choice(_TRUCKS if truck else _CARS)
        plate_kind = ("new_energy_small" if nev else
                      "new_energy_large" if truck and rng.random() < 0.1 else "ordinary")
        row = {"ref": "V1", "kind": "truck" if truck else "car", "vin": _vin(rng, wmi, year),
               "engine_no": f"{engine}{rng.randrange(10**6):06d}",
               "plate": _plate(rng, place, plate_kind), "make": make, "model": model,
               "colour": rng.choice(_COLOURS)}
    if rng.random() < (0.7 if product == "machinery_finance" else 0.5):
        near = rng.choice([a for a in addresses if a["kind"] != "household_registration"])
        seen = datetime.combine(as_of, datetime.min.time(), ZoneInfo("Asia/Shanghai")) \
            - timedelta(minutes=rng.randint(60, 20 * 24 * 60))
        row["tracker"] = {"lat": round(near["lat"] + rng.uniform(-0.002, 0.002), 6),
                          "lon": round(near["lon"] + rng.uniform(-0.002, 0.002), 6),
                          "datum": near["datum"], "at": seen.isoformat()}
    return [row]
