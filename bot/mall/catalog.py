"""Products as data: a YAML file of categories and products, checked whole, loaded all or nothing.

`stock` in the file is the stock left to sell: loading sets it, and keeps `sold` and every order.
A product left out of the file is unlisted (its orders stay). A virtual product's `codes` names a
pool file beside the YAML, one code a line; codes already in the pool are kept, new ones added.
"""
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select, update

from models import MallCategory, Product, VirtualCode
from models.mall import PHYSICAL, VIRTUAL

FIELDS = {"code", "name", "category", "points", "stock", "limit_per_member", "image", "description",
          "from", "to", "levels", "stores", "kind", "codes"}


class CatalogError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def parse(path: Path) -> dict:
    """The file's categories and products, each product with its line; every problem at once."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CatalogError([f"line {mark.line + 1 if mark else '?'}: not valid YAML"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise CatalogError(["line 1: the file needs a 'products' list (and 'categories')"])
    lines = _product_lines(root)
    categories = data.get("categories") or []
    problems: list[str] = []
    known = set()
    for c in categories:
        if not isinstance(c, dict) or not c.get("code") or not c.get("name"):
            problems.append("categories: each is {code, name}")
        else:
            known.add(str(c["code"]))
    products, codes = [], set()
    for n, p in enumerate(data["products"]):
        line = lines[n] if n < len(lines) else "?"
        bad = _check(p, known, path.parent)
        if isinstance(p, dict) and p.get("code") in codes:
            bad.append(f"code {p['code']} appears twice")
        problems += [f"line {line}: {b}" for b in bad]
        if not bad:
            codes.add(p["code"])
            products.append(p)
    if problems:
        raise CatalogError(problems)
    return {"categories": categories, "products": products, "base": path.parent}


def _product_lines(root) -> list[int]:
    for key, value in getattr(root, "value", []):
        if key.value == "products" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _check(p, categories: set, base: Path) -> list[str]:
    if not isinstance(p, dict):
        return ["a product is a mapping of fields"]
    bad = [f"unknown field '{k}'" for k in p if k not in FIELDS]
    for field in ("code", "name", "category", "points", "stock"):
        if p.get(field) in (None, ""):
            bad.append(f"'{field}' is required")
    if p.get("category") is not None and str(p["category"]) not in categories:
        bad.append(f"category '{p['category']}' is not in categories")
    for field, low in (("points", 1), ("stock", 0), ("limit_per_member", 1)):
        v = p.get(field)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
            bad.append(f"'{field}' must be a whole number ≥ {low}")
    kind = p.get("kind", PHYSICAL)
    if kind not in (PHYSICAL, VIRTUAL):
        bad.append("'kind' is physical or virtual")
    if kind == VIRTUAL and not p.get("codes"):
        bad.append("a virtual product needs 'codes': a file of codes beside this one")
    for field in ("codes", "image"):
        if p.get(field) and not (base / str(p[field])).is_file():
            bad.append(f"'{field}' file {p[field]} is not beside the products file")
    for field in ("from", "to"):
        if p.get(field) is not None and not isinstance(p[field], date):
            bad.append(f"'{field}' is a China date, YYYY-MM-DD")
    if isinstance(p.get("from"), date) and isinstance(p.get("to"), date) and p["from"] > p["to"]:
        bad.append("'from' is after 'to'")
    for field in ("levels", "stores"):
        if p.get(field) is not None and not isinstance(p[field], list):
            bad.append(f"'{field}' is a list")
    return bad


def load(db, catalog: dict) -> dict[str, int]:
    """Write a parsed catalog in the caller's transaction; counts of what changed."""
    cats = {}
    for n, c in enumerate(catalog["categories"]):
        row = db.scalar(select(MallCategory).where(MallCategory.code == str(c["code"])))
        row = row or MallCategory(code=str(c["code"]))
        row.name, row.position = str(c["name"]), n
        db.add(row)
        db.flush()
        cats[row.code] = row.id
    db.execute(update(Product).values(listed=False))
    added = codes_added = 0
    for p in catalog["products"]:
        row = db.scalar(select(Product).where(Product.code == str(p["code"])))
        if row is None:
            row, added = Product(code=str(p["code"]), sold=0), added + 1
        row.name, row.category_id, row.points, row.stock = str(p["name"]), cats[str(p["category"])], p["points"], p["stock"]
        row.kind, row.limit_per_member = p.get("kind", PHYSICAL), p.get("limit_per_member")
        row.description, row.image = str(p.get("description") or ""), p.get("image")
        row.starts_on, row.ends_on = p.get("from"), p.get("to")
        row.levels, row.stores = [str(x) for x in p.get("levels") or []], [str(x) for x in p.get("stores") or []]
        row.listed = True
        db.add(row)
        db.flush()
        if row.kind == VIRTUAL:
            codes_added += _fill_pool(db, row, catalog["base"] / str(p["codes"]))
    return {"products": len(catalog["products"]), "new": added, "codes_added": codes_added}


def _fill_pool(db, product: Product, path: Path) -> int:
    have = set(db.scalars(select(VirtualCode.code).where(VirtualCode.product_id == product.id)))
    fresh = [c for c in dict.fromkeys(l.strip() for l in path.read_text(encoding="utf-8").splitlines()) if c and c not in have]
    db.add_all(VirtualCode(product_id=product.id, code=c) for c in fresh)
    return len(fresh)
