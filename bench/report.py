"""What the benchmark found: cases, their measurements and targets; printed
as one table and written as JSON."""

import json
import statistics

MiB = 1024 * 1024
OK, MISSING, FAILED, NOT_RUN, SKIPPED = "ok", "missing tool", "failed", "not run", "skipped"


class Measurement:
    """Repeated values of one thing (seconds, requests/s, MiB, ...)."""

    def __init__(self, label, unit, size_bytes=None):
        self.label, self.unit, self.size_bytes = label, unit, size_bytes
        self.values = []
        self.status = OK
        self.missing = None  # the tool it needs, if absent
        self.extra = {}      # more numbers about it, by name

    def add(self, value):
        self.values.append(float(value))

    @property
    def median(self):
        return statistics.median(self.values) if self.values else None

    def as_json(self):
        out = {"label": self.label, "unit": self.unit, "status": self.status, "values": self.values}
        if self.missing:
            out["missing"] = self.missing
        if self.values:
            out.update(median=self.median, min=min(self.values), max=max(self.values))
            if self.size_bytes and self.unit == "s":
                out["bytes"] = self.size_bytes
                out["median_mib_per_s"] = self.size_bytes / MiB / self.median
        out.update(self.extra)
        return out


class Target:
    """`value` compared with `limit` by `op` ('<=' or '>='); met is None when
    a number is missing (a tool absent or the case failed)."""

    def __init__(self, name, value, op, limit, unit="x"):
        self.name, self.value, self.op, self.limit, self.unit = name, value, op, limit, unit

    @property
    def met(self):
        if self.value is None:
            return None
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    def as_json(self):
        return {"name": self.name, "value": self.value, "op": self.op, "target": self.limit, "unit": self.unit,
                "met": self.met}


class Case:
    def __init__(self, key, title):
        self.key, self.title = key, title
        self.status = NOT_RUN
        self.error = None
        self.measurements = {}
        self.targets = []
        self.facts = {}  # context: sizes, core count, ...

    def measurement(self, name, label, unit, size_bytes=None, missing=None):
        m = self.measurements[name] = Measurement(label, unit, size_bytes)
        if missing:
            m.status, m.missing = MISSING, missing
        return m

    def skip(self, reason):
        """The case cannot run here (e.g. it needs root): it says why and measures nothing."""
        self.status = SKIPPED
        self.facts["skipped"] = reason

    def median(self, name):
        m = self.measurements.get(name)
        return m.median if m else None

    def ratio(self, name, numerator, denominator, op, limit):
        """A target on median(numerator) / median(denominator)."""
        a, b = self.median(numerator), self.median(denominator)
        self.targets.append(Target(name, a / b if a is not None and b else None, op, limit))

    def target(self, name, value, op, limit, unit):
        self.targets.append(Target(name, value, op, limit, unit))

    def finish(self):
        if self.status == NOT_RUN:
            missing = sorted({m.missing for m in self.measurements.values() if m.missing})
            self.status = OK if not missing else MISSING
            if missing:
                self.facts["missing_tools"] = missing

    def as_json(self):
        out = {"case": self.key, "title": self.title, "status": self.status,
               "measurements": {k: m.as_json() for k, m in self.measurements.items()},
               "targets": [t.as_json() for t in self.targets], **self.facts}
        if self.error:
            out["error"] = self.error
        return out


def write_json(path, header, cases):
    with open(path, "w") as f:
        json.dump({**header, "cases": [c.as_json() for c in cases]}, f, indent=2)
        f.write("\n")


def _number(value, unit):
    if value is None:
        return "-"
    if unit in ("s", "x"):
        return f"{value:.2f}"
    if unit in ("MiB", "%") or unit == "MiB/s" and value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def _measurement_line(m, repetitions):
    label = m.label if len(m.values) in (0, 1, repetitions) else f"{m.label} (x{len(m.values)})"
    label = f"  {label:<46}"
    if not m.values:
        return f"{label} " + (f"{m.status} ({m.missing})" if m.missing else "not measured")
    unit = {"s": "s", "req/s": "/s", "MiB": "MiB", "%": "%", "count": "", "x": "x"}.get(m.unit, m.unit)
    spread = f"{_number(min(m.values), m.unit)} .. {_number(max(m.values), m.unit)}" if len(m.values) > 1 else ""
    line = f"{label} {_number(m.median, m.unit):>9} {unit:<4}{spread:>20}"
    if m.size_bytes and m.unit == "s":
        rate = m.size_bytes / MiB / m.median if m.median else 0
        line += f" {rate:>8.1f} MiB/s" if rate < 10 else f" {rate:>8.0f} MiB/s"  # slow links: one decimal
    return line.rstrip()


def _target_line(t):
    verdict = {True: "met", False: "MISSED", None: "n/a"}[t.met]
    unit = "" if t.unit == "x" else f" {t.unit}"
    shown = "-" if t.value is None else _number(t.value, t.unit) + ("x" if t.unit == "x" else "")
    limit = _number(t.limit, t.unit) + ("x" if t.unit == "x" else "")
    return f"  target: {t.name:<38} {shown:>9}{unit}   {t.op} {limit}{unit}   {verdict}"


def render(header, cases):
    lines = [f"peerlab bench ({header['mode']}): commit {header['commit']}, {header['cpus']} cores, "
             f"{header['date']}; median of {header['repetitions']} (min .. max)"]
    if header.get("asan"):
        lines.append("(the peerlab binary is built with AddressSanitizer: its times and memory are not representative)")
    for case in cases:
        lines.append("")
        lines.append(f"{case.title}" + ("" if case.status == OK else f"  [{case.status}]"))
        if case.error:
            lines.append(f"  error: {case.error.splitlines()[0]}")
        if case.status == SKIPPED:
            lines.append(f"  skipped: {case.facts['skipped']}")
        lines.extend(_measurement_line(m, header["repetitions"]) for m in case.measurements.values())
        lines.extend(_target_line(t) for t in case.targets)
    all_targets = [t for c in cases for t in c.targets]
    met = sum(1 for t in all_targets if t.met)
    missed = sum(1 for t in all_targets if t.met is False)
    lines.append("")
    lines.append(f"targets: {met} met, {missed} missed, {len(all_targets) - met - missed} not measured")
    return "\n".join(lines)
