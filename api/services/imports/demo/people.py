"""Debtors as a lender sends them: names, phones, national IDs, contacts and addresses."""

from __future__ import annotations

import random
from datetime import date, timedelta

from api.services.casefile.identifiers import national_id_check_digit
from api.services.imports.demo.places import Place, lender_coordinates, load_places, scatter_point

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


def random_debtor(rng: random.Random, n: int, place: Place, product: str, as_of: date,
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
                  **lender_coordinates(rng, home_lat, home_lon)}]
    if hometown is not place or rng.random() < 0.5:
        reg_district = rng.choice(hometown.districts)[0]
        row = {"kind": "household_registration",
               "text": f"{hometown.city}{reg_district}{rng.choice(_VILLAGES)}村"
                       f"{rng.randint(1, 12)}组{rng.randint(1, 80)}号"}
        if rng.random() < 0.7:  # lenders often have no coordinates for the registration
            row |= lender_coordinates(rng, *scatter_point(rng, hometown.lat, hometown.lon, 8))
        else:
            row |= {"lat": None, "lon": None, "datum": None}
        addresses.append(row)
    if machinery:
        addresses.append({"kind": "worksite", "text": f"{place.city}{district}"
                          f"{rng.choice(_VILLAGES)}村{rng.choice(_PROJECTS)}项目工地",
                          **lender_coordinates(rng, *scatter_point(rng, place.lat, place.lon, 8))})
    if len(addresses) < 2 or (len(addresses) < 3 and debtor["employer"] and rng.random() < 0.7):
        addresses.append({"kind": "work", "text": f"{place.city}{district}{rng.choice(_STREETS)}"
                          f"{rng.randint(1, 399)}号{debtor['employer'] or ''}",
                          **lender_coordinates(rng, *scatter_point(rng, place.lat, place.lon, 5))})
    for k, row in enumerate(addresses):
        row["ref"], row["contact_ref"] = f"A{k + 1}", None
    return debtor, contact_rows, addresses
