"""Prometheus text-format helpers for the benchmark reports (Python stdlib only).

parse(text)               -> {(name, labels_tuple): value}
histograms(before, after) -> {family: {labels_str: {"count", "p50_ms", "p90_ms", "p99_ms", "mean_ms"}}}
                             for every *_seconds histogram, over the interval between two scrapes
counter_delta(before, after, name) -> sum of a counter's increase over all its label sets
"""
import math
import re

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    out = {}
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(3) or "")))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            pass
    return out


def _quantile(q, buckets, count):
    """Prometheus' histogram_quantile: linear interpolation inside the bucket."""
    if count <= 0 or not buckets:
        return None
    rank = q * count
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def histograms(before, after, unit_suffix="_seconds"):
    fams = {}
    for (name, labels), v in after.items():
        if not name.endswith("_bucket"):
            continue
        fam = name[: -len("_bucket")]
        if not fam.endswith(unit_suffix):
            continue
        le = dict(labels).get("le")
        rest = tuple(kv for kv in labels if kv[0] != "le")
        d = v - before.get((name, labels), 0.0)
        le_f = math.inf if le in ("+Inf", "Inf") else float(le)
        fams.setdefault(fam, {}).setdefault(rest, []).append((le_f, d))
    res = {}
    for fam, series in fams.items():
        for rest, buckets in series.items():
            buckets.sort()
            count = buckets[-1][1] if buckets else 0
            if count <= 0:
                continue
            s_after = after.get((fam + "_sum", rest), 0.0)
            s_before = before.get((fam + "_sum", rest), 0.0)
            ms = lambda x: None if x is None else round(x * 1000, 3)
            key = ",".join(f"{k}={v}" for k, v in rest) or "-"
            res.setdefault(fam, {})[key] = {
                "count": int(count),
                "p50_ms": ms(_quantile(0.5, buckets, count)),
                "p90_ms": ms(_quantile(0.9, buckets, count)),
                "p99_ms": ms(_quantile(0.99, buckets, count)),
                "mean_ms": ms((s_after - s_before) / count),
            }
    return res


def counter_delta(before, after, name):
    return sum(v - before.get(k, 0.0) for k, v in after.items() if k[0] == name)
