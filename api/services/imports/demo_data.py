"""Demo data: a realistic lender book around real places, and a one-shot demo seed.

`generate_cases_file` writes a `fieldvisit.cases.v1` document (docs/import-format.md) whose
debtors live within a few km of the places in `api/data/places.csv` (GeoNames, CC BY 4.0).
Every identifier is valid (national ID check digit and region, ISO 3779 VIN check digit, plates
of the place's province, Chinese phones) and the schedules and payments are shaped so that the
buckets computed from them spread as a collection book does. Deterministic for a seed.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import json
import math
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import Case, ImportRun, Role, Team, User
from api.services.casefile.identifiers import national_id_check_digit, vin_check_digit
from api.services.casefile.loan_figures import (
    PaymentRecord,
    ScheduledInstalment,
    bucket_for,
    compute_figures,
)
from api.services.geo import gcj02_to_bd09, wgs84_to_gcj02
from api.services.identity import accounts
from api.services.identity.pii import PiiCipher
from api.services.imports.runs import import_cases

CASES_FORMAT = "fieldvisit.cases.v1"
PAYMENTS_FORMAT = "fieldvisit.payments.v1"
PLACES_CSV = Path(__file__).resolve().parents[2] / "data" / "places.csv"
DEMO_PREFIX = "demo-"
# (team code, places.csv group): one team per region group.
DEFAULT_TEAMS: list[tuple[str, str]] = [
    ("BJ-01", "beijing_metro"), ("PRD-01", "pearl_river_delta"), ("IC-01", "intercity")]
TEAM_NAMES = {"beijing_metro": "北京外访一组", "pearl_river_delta": "珠三角外访一组",
              "intercity": "异地外访组"}
_GROUP_WEIGHTS = {"beijing_metro": 0.25, "pearl_river_delta": 0.35, "intercity": 0.40}

# --------------------------------------------------------------------------- places

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


# --------------------------------------------------------------------------- people

_FAMILY = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
           "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾")
_GIVEN_M = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳建国志文海峰亮成东"
_GIVEN_F = "芳娜敏静丽艳娟霞燕玲婷雪慧琳颖倩洁佳莉梅兰凤琴云红秀萍晶丹妍"
_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                    "152", "153", "155", "156", "157", "158", "159", "166", "173", "176", "177",
                    "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "198",
                    "199")
_STREETS = ("人民路", "建设路", "解放路", "中山路", "和平路", "新华路", "朝阳路",
            "胜利路", "文化路", "工业大道", "创业路", "滨江路", "青年路", "幸福路",
            "光明路", "东风路", "花园路")
_ESTATES = ("阳光", "翠苑", "金色家园", "锦绣", "华府", "碧桂园", "万科城", "幸福里",
            "御景湾", "康城", "丽景", "和园")
_VILLAGES = ("李家", "王庄", "陈屯", "新安", "石桥", "柳树", "大石", "河东", "杨柳", "红星")
_FIRM_WORDS = ("华创", "鑫达", "恒泰", "永盛", "宏远", "金桥", "瑞丰", "天成", "博远",
               "众信", "顺发", "安捷")
_FIRM_KINDS = ("电子科技", "物流", "餐饮管理", "商贸", "装饰工程", "汽车服务", "服装",
               "印刷", "家具制造", "网络科技")
_BUILD_KINDS = ("建筑工程", "土石方工程", "机械设备租赁", "市政工程", "路桥工程")
_PROJECTS = ("安置房", "物流园", "地铁站", "污水处理厂", "产业园", "道路改造", "学校",
             "商业综合体")
_REASONS = ("经营资金周转困难", "市场变化，订单减少", "离婚，家庭变故", "家人生病住院",
            "子女上学开支大", "房屋装修超支", "失业，收入中断", "疑似赌博", "多头借贷",
            "认为别人也不还", "称是银行的错", "工程款被拖欠")


def random_name(rng: random.Random, male: bool, family: str | None = None) -> str:
    given = _GIVEN_M if male else _GIVEN_F
    return (family or rng.choice(_FAMILY)) + "".join(
        rng.choice(given) for _ in range(rng.choices((1, 2), (3, 7))[0]))


def random_mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random, place: Place) -> str:
    rest = 6 if place.area_code == "0891" else 7  # Lhasa numbers have 7 digits, others 8
    return f"{place.area_code}-{rng.randint(2, 8)}{rng.randrange(10**rest):0{rest}d}"


def random_national_id(rng: random.Random, region: str, born: date, male: bool,
                       used: set[str]) -> str:
    """A valid GB 11643 number (sex in the parity of digit 17) not yet in `used`."""
    while True:
        seq = rng.randrange(100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        body = f"{region}{born:%Y%m%d}{seq:03d}"
        nid = body + national_id_check_digit(body)
        if nid not in used:
            used.add(nid)
            return nid


# --------------------------------------------------------------------------- vehicles

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


# --------------------------------------------------------------------------- places and maps


def scatter_point(rng: random.Random, lat: float, lon: float, max_km: float) -> tuple[float, float]:
    """A WGS84 point at a random bearing, up to `max_km` away (local flat approximation)."""
    d = max_km * 1000 * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    return (lat + d * math.cos(bearing) / 111_320,
            lon + d * math.sin(bearing) / (111_320 * math.cos(math.radians(lat))))


def _coordinates(rng: random.Random, lat: float, lon: float) -> dict[str, Any]:
    """The point as a lender gives it: mostly WGS84, some from AMap (GCJ02) or Baidu (BD09)."""
    datum = rng.choices(("WGS84", "GCJ02", "BD09"), (70, 25, 5))[0]
    if datum != "WGS84":
        lat, lon = wgs84_to_gcj02(lat, lon)
        if datum == "BD09":
            lat, lon = gcj02_to_bd09(lat, lon)
    return {"lat": round(lat, 6), "lon": round(lon, 6), "datum": datum}


def _team_places(teams: list[tuple[str, str]]) -> list[tuple[Place, str, float]]:
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


# --------------------------------------------------------------------------- money


def _add_months(day: date, months: int, anchor_day: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(y, m + 1, min(anchor_day, calendar.monthrange(y, m + 1)[1]))


# product -> (principal range in yuan, monthly rate, tenors in months)
_PRODUCTS = {
    "consumer_loan": ((5_000, 200_000), 0.012, (6, 12, 12, 24)),
    "car_loan": ((60_000, 300_000), 0.0045, (12, 24, 36, 36)),
    "machinery_finance": ((300_000, 1_200_000), 0.006, (12, 24, 36)),
}
# (bucket, share of the book, days past due range)
_BUCKET_MIX = (("current", 0.20, 0, 0), ("M1", 0.25, 1, 30), ("M2", 0.25, 31, 60),
               ("M3", 0.15, 61, 90), ("M3+", 0.15, 91, 720))


def _amortise(principal_fen: int, rate: float, n: int) -> list[tuple[int, int]]:
    """(amount, principal part) of n equal monthly instalments; the last one takes the rest."""
    payment = round(principal_fen * rate / (1 - (1 + rate) ** -n))
    left, out = principal_fen, []
    for i in range(n):
        interest = round(left * rate)
        part = left if i == n - 1 else min(left, payment - interest)
        out.append((part + interest, part))
        left -= part
    return out


def random_days_past_due(rng: random.Random) -> int:
    _, _, lo, hi = rng.choices(_BUCKET_MIX, [b[1] for b in _BUCKET_MIX])[0]
    if hi > 90:
        return min(hi, lo + int(rng.expovariate(1 / 90)))
    return rng.randint(lo, hi)


def _loan(rng: random.Random, product: str, as_of: date, case_no: int) -> dict[str, Any]:
    """Schedule and payments whose first unpaid instalment fell due `dpd` days before as_of."""
    (lo, hi), rate, tenors = _PRODUCTS[product]
    principal = rng.randint(lo // 1000, hi // 1000) * 1000 * 100
    n = rng.choice(tenors)
    dpd = random_days_past_due(rng)
    # u: due date of the first unpaid instalment (in the future for a current loan).
    u = as_of - timedelta(days=dpd) if dpd else as_of + timedelta(days=rng.randint(0, 27))
    paid_count = rng.randint(0, min(n - 1, 24))
    anchor = u.day
    dues = [_add_months(u, j - paid_count, anchor) for j in range(n)]
    plan = _amortise(principal, rate, n)
    schedule = [{"seq": j + 1, "due_on": dues[j].isoformat(), "amount_fen": amt,
                 "principal_fen": part} for j, (amt, part) in enumerate(plan)]
    payments: list[dict[str, Any]] = []
    methods = ("auto_debit", "bank_transfer", "wechat_pay", "alipay", "cash")
    for j in range(paid_count):
        late = rng.randint(1, 20) if rng.random() < 0.15 else -rng.randint(0, 3)
        paid_on = min(dues[j] + timedelta(days=late), as_of)
        payments.append({"ref": f"P{case_no:06d}-{j + 1:02d}", "paid_on": paid_on.isoformat(),
                         "amount_fen": plan[j][0], "method": rng.choice(methods)})
    partly = dpd > 0 and rng.random() < 0.2
    if partly:
        paid_on = u + timedelta(days=rng.randint(1, dpd))
        payments.append({"ref": f"P{case_no:06d}-{paid_count + 1:02d}",
                         "paid_on": paid_on.isoformat(),
                         "amount_fen": plan[paid_count][0] * rng.randint(20, 70) // 100,
                         "method": rng.choice(methods)})
    return {"principal_fen": principal, "disbursed_on": _add_months(u, -paid_count - 1, anchor),
            "schedule": schedule, "payments": payments, "partly": partly}


def figures_of(case: dict[str, Any], as_of: date):
    """Loan figures of a generated case (the same computation the import makes)."""
    return compute_figures(
        [ScheduledInstalment(i["seq"], date.fromisoformat(i["due_on"]), i["amount_fen"],
                             i["principal_fen"]) for i in case["schedule"]],
        [PaymentRecord(date.fromisoformat(p["paid_on"]), p["amount_fen"])
         for p in case["payments"]],
        as_of,
    )


# --------------------------------------------------------------------------- a case


def _debtor(rng: random.Random, n: int, place: Place, product: str, as_of: date,
            ids: set[str]) -> tuple[dict, list[dict], list[dict]]:
    """Debtor, contacts and addresses: at home near `place`, registered in a home town."""
    male = rng.random() < 0.62
    born = as_of - timedelta(days=rng.randint(22 * 365, 60 * 365))
    places = load_places()
    hometown = place if rng.random() < 0.7 else rng.choice(places)
    region = rng.choice(hometown.districts)[1]
    district = rng.choice(place.districts)[0]
    machinery = product == "machinery_finance"
    employer = (f"{place.city[:-1]}{rng.choice(_FIRM_WORDS)}"
                f"{rng.choice(_BUILD_KINDS if machinery else _FIRM_KINDS)}有限公司")
    debtor = {
        "ref": f"D{n:06d}", "name": random_name(rng, male),
        "national_id": random_national_id(rng, region, born, male, ids),
        "mobile_phone": random_mobile(rng),
        "home_phone": _landline(rng, place) if rng.random() < 0.3 else None,
        "work_phone": _landline(rng, place) if rng.random() < 0.4 else None,
        "employer": employer if rng.random() < 0.85 else None,
        "risk_notes": rng.choice(_REASONS) if rng.random() < 0.6 else None,
        "timezone": place.timezone,
    }
    contacts = []
    secured = product != "consumer_loan"
    if born < as_of - timedelta(days=26 * 365) and rng.random() < 0.65:
        contacts.append(("spouse", random_name(rng, not male),
                         "guarantor" if secured and rng.random() < 0.5 else "reference",
                         rng.random() < 0.85))
    if rng.random() < 0.5:
        father = rng.random() < 0.5
        family = debtor["name"][0] if father else None
        contacts.append(("parent", random_name(rng, father, family), "reference",
                         rng.random() < 0.4))
    if rng.random() < 0.5 or not contacts:
        relation = rng.choice(("friend", "colleague", "sibling"))
        role = "counter_guarantor" if machinery and rng.random() < 0.3 else "reference"
        contacts.append((relation, random_name(rng, rng.random() < 0.5), role,
                         rng.random() < (0.6 if relation == "sibling" else 0.3)))
    contact_rows = [{"ref": f"C{k + 1}", "name": name, "relation": relation, "role": role,
                     "phone": random_mobile(rng), "knows_of_loan": knows or role != "reference"}
                    for k, (relation, name, role, knows) in enumerate(contacts[:3])]

    home_lat, home_lon = scatter_point(rng, place.lat, place.lon, 6)
    addresses = [{"kind": "home", "text": f"{place.city}{district}{rng.choice(_STREETS)}"
                  f"{rng.randint(1, 399)}号{rng.choice(_ESTATES)}小区{rng.randint(1, 30)}栋"
                  f"{rng.randint(1, 4)}单元{rng.randint(1, 32)}{rng.randint(1, 4):02d}室",
                  **_coordinates(rng, home_lat, home_lon)}]
    if hometown is not place or rng.random() < 0.5:
        reg_district = rng.choice(hometown.districts)[0]
        row = {"kind": "household_registration",
               "text": f"{hometown.city}{reg_district}{rng.choice(_VILLAGES)}村"
                       f"{rng.randint(1, 12)}组{rng.randint(1, 80)}号"}
        if rng.random() < 0.7:  # lenders often have no coordinates for the registration
            row |= _coordinates(rng, *scatter_point(rng, hometown.lat, hometown.lon, 8))
        else:
            row |= {"lat": None, "lon": None, "datum": None}
        addresses.append(row)
    if machinery:
        addresses.append({"kind": "worksite", "text": f"{place.city}{district}"
                          f"{rng.choice(_VILLAGES)}村{rng.choice(_PROJECTS)}项目工地",
                          **_coordinates(rng, *scatter_point(rng, place.lat, place.lon, 8))})
    if len(addresses) < 2 or (len(addresses) < 3 and debtor["employer"] and rng.random() < 0.7):
        addresses.append({"kind": "work", "text": f"{place.city}{district}{rng.choice(_STREETS)}"
                          f"{rng.randint(1, 399)}号{debtor['employer'] or ''}",
                          **_coordinates(rng, *scatter_point(rng, place.lat, place.lon, 5))})
    for k, row in enumerate(addresses):
        row["ref"], row["contact_ref"] = f"A{k + 1}", None
    return debtor, contact_rows, addresses


def _collateral(rng: random.Random, product: str, place: Place, year: int, as_of: date,
                addresses: list[dict]) -> list[dict]:
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


def _case(rng: random.Random, n: int, place: Place, team_code: str, as_of: date,
          ids: set[str], debtor_of: dict | None) -> dict[str, Any]:
    product = rng.choices(("consumer_loan", "car_loan", "machinery_finance"), (50, 35, 15))[0]
    if debtor_of is not None:  # a repeat borrower takes the same kind of loan again
        product = debtor_of["product"]
    loan = _loan(rng, product, as_of, n)
    if debtor_of is None:
        debtor, contacts, addresses = _debtor(rng, n, place, product, as_of, ids)
    else:  # a second loan of the same debtor: the same person, as the lender sends it again
        debtor, contacts, addresses = (json.loads(json.dumps(debtor_of[k]))
                                       for k in ("debtor", "contacts", "addresses"))
    case: dict[str, Any] = {
        "contract_no": f"HT-{loan['disbursed_on']:%Y}-{n:06d}", "product": product,
        "currency": "CNY", "principal_fen": loan["principal_fen"],
        "disbursed_on": loan["disbursed_on"].isoformat(), "status": "active",
        "lender_bucket": None, "penalty_fen": 0, "fees_fen": 0,
        "penalty_basis": "0.05% per day on the overdue amount", "team_code": team_code,
        "debtor": debtor, "contacts": contacts, "addresses": addresses,
        "collateral": _collateral(rng, product, place, loan["disbursed_on"].year, as_of,
                                  addresses),
        "schedule": loan["schedule"], "payments": loan["payments"],
    }
    figures = figures_of(case, as_of)
    dpd = figures.days_past_due
    case["penalty_fen"] = figures.overdue_fen * 5 * dpd // 10_000
    case["fees_fen"] = rng.choice((0, 5_000, 20_000)) if dpd > 30 else 0
    # The lender's bucket is from its own overnight run: now and then a day behind.
    case["lender_bucket"] = bucket_for(max(0, dpd - (rng.random() < 0.05)))
    if loan["partly"]:
        case["status"] = "partly_paid"
    elif dpd > 90 and rng.random() < 0.3:
        case["status"] = "legal"
    elif 0 < dpd <= 60 and rng.random() < 0.15:
        case["status"] = "promised"
    return case


def generate_cases_file(n_cases: int, *, seed: int = 7, as_of: date,
                        teams: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A lender "cases" document (fieldvisit.cases.v1) of `n_cases` loans as of `as_of`.

    `teams` are (team code, places group) pairs: cases lie around the places of those groups
    and carry the code of the team covering their place (default: one team per group). About
    3% of cases are a second loan of an earlier debtor. No `collector_username` is set.
    """
    rng = random.Random(seed)
    weighted = _team_places(teams or DEFAULT_TEAMS)
    weights = [w for _, _, w in weighted]
    ids: set[str] = set()
    cases: list[dict[str, Any]] = []
    for n in range(1, n_cases + 1):
        if cases and rng.random() < 0.03:
            earlier = rng.choice(cases)
            place = next(p for p, _, _ in weighted if p.geonameid == earlier["_place"])
            code = earlier["team_code"]
        else:
            earlier = None
            place, code, _ = rng.choices(weighted, weights)[0]
        case = _case(rng, n, place, code, as_of, ids, earlier)
        case["_place"] = place.geonameid
        cases.append(case)
    for case in cases:
        del case["_place"]
    return {"format": CASES_FORMAT, "as_of": as_of.isoformat(), "cases": cases}


def generate_payments_file(cases_doc: dict[str, Any], *, seed: int = 7,
                           as_of: date) -> dict[str, Any]:
    """The lender's daily payments file: money received on `as_of` for a random 10% of cases,
    with the balances (penalty, fees, status) the lender's core system reports after it."""
    rng = random.Random(seed * 7919 + as_of.toordinal())
    cases = cases_doc["cases"]
    picked = sorted(rng.sample(range(len(cases)), max(1, len(cases) // 10)) if cases else [])
    payments, balances = [], []
    for k, idx in enumerate(picked):
        case = cases[idx]
        figures = figures_of(case, as_of)
        next_amount = next((i["amount_fen"] for i in case["schedule"]
                            if date.fromisoformat(i["due_on"]) >= as_of), 0)
        if figures.overdue_fen == 0:
            amount = next_amount or figures.outstanding_fen
        else:
            amount = rng.choice((figures.overdue_fen, next_amount or figures.overdue_fen,
                                 figures.overdue_fen * rng.randint(10, 60) // 100))
        amount = max(100, min(amount, figures.outstanding_fen or amount))
        payments.append({"contract_no": case["contract_no"],
                         "ref": f"P{as_of:%Y%m%d}-{k + 1:05d}", "paid_on": as_of.isoformat(),
                         "amount_fen": amount,
                         "method": rng.choice(("bank_transfer", "wechat_pay", "alipay", "cash"))})
        cleared = amount >= figures.overdue_fen
        status = case["status"] if case["status"] == "legal" else (
            "active" if cleared else "partly_paid")
        balances.append({"contract_no": case["contract_no"],
                         "penalty_fen": 0 if cleared else case["penalty_fen"],
                         "fees_fen": case["fees_fen"], "status": status})
    return {"format": PAYMENTS_FORMAT, "as_of": as_of.isoformat(), "payments": payments,
            "balances": balances}


# --------------------------------------------------------------------------- demo seed


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: str
    team_code: str | None
    password: str


@dataclass
class DemoSeed:
    """What `seed_demo` did. Passwords are here once, to be shown once."""

    created: bool
    message: str
    users: list[DemoUser] = field(default_factory=list)
    run: ImportRun | None = None
    buckets: dict[str, int] = field(default_factory=dict)


def bucket_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Case.bucket, func.count()).group_by(Case.bucket)).all()
    counts = {b.value if hasattr(b, "value") else str(b): n for b, n in rows}
    return {b: counts.get(b, 0) for b in ("current", "M1", "M2", "M3", "M3+")}


def seed_demo(session: Session, cipher: PiiCipher, *, n_cases: int = 2000, seed: int = 7,
              as_of: date | None = None) -> DemoSeed:
    """Teams, users and a generated book imported through `import_cases`, each case assigned
    to a collector of its team by the file's `collector_username`. Does nothing when demo
    users exist. The caller commits."""
    if session.scalar(select(User.id).where(User.username.startswith(DEMO_PREFIX)).limit(1)):
        return DemoSeed(False, "Demo users already exist; nothing was done.",
                        buckets=bucket_counts(session))
    as_of = as_of or datetime.now(ZoneInfo("Asia/Shanghai")).date()
    rng = random.Random(seed)
    users: list[DemoUser] = []

    def add(username: str, role: Role, team: Team | None) -> User:
        password = secrets.token_urlsafe(12)
        full_name = random_name(rng, rng.random() < 0.5)
        user = accounts.create_user(session, username=DEMO_PREFIX + username, full_name=full_name,
                                    role=role, password=password,
                                    team_id=team.id if team else None)
        users.append(DemoUser(user.username, full_name, role.value,
                              team.code if team else None, password))
        return user

    admin = add("admin", Role.ADMIN, None)
    add("legal", Role.LEGAL, None)
    collectors: dict[str, list[str]] = {}
    for code, group in DEFAULT_TEAMS:
        team = session.scalar(select(Team).where(Team.code == code)) \
            or accounts.create_team(session, code, TEAM_NAMES[group])
        slug = code.lower().replace("-", "")
        add(f"{slug}-supervisor", Role.SUPERVISOR, team)
        collectors[code] = [add(f"{slug}-collector{j}", Role.COLLECTOR, team).username
                            for j in range(1, rng.randint(4, 6) + 1)]

    doc = generate_cases_file(n_cases, seed=seed, as_of=as_of)
    assign_collectors(doc, collectors)
    raw = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    run = import_cases(session, cipher, doc, actor_id=admin.id, filename="demo-cases.json",
                       file_sha256=hashlib.sha256(raw).hexdigest(), as_of=as_of)
    return DemoSeed(True, f"Demo seeded: {len(users)} users, {n_cases} cases.", users, run,
                    bucket_counts(session))


def assign_collectors(doc: dict[str, Any], collectors: dict[str, list[str]]) -> None:
    """Set `collector_username` on every case: each team's debtors, in order of their home
    address (so neighbours go together), are split into one contiguous run per collector."""
    by_team: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for case in doc["cases"]:
        by_team[case["team_code"]][case["debtor"]["ref"]].append(case)
    for code, debtors in by_team.items():
        names = collectors[code]
        order = sorted(debtors.values(), key=lambda cs: (cs[0]["addresses"][0]["text"],
                                                         cs[0]["debtor"]["ref"]))
        for k, group in enumerate(order):
            for case in group:
                case["collector_username"] = names[k * len(names) // len(order)]
