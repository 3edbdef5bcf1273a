#!/usr/bin/env python3
"""prom_check.py: a strict reader of the Prometheus text exposition format
(version 0.0.4), written from the format's description, for t_metrics.

usage: prom_check.py METRICS_FILE [STATUS_JSON_FILE [MAN_PAGE]]

Parses METRICS_FILE and refuses anything the format does not allow: bad
metric or label names, bad escapes in label values, a sample before its
family's TYPE, a family's HELP or TYPE given twice or after its samples,
interleaved families, duplicate series, values that are not numbers,
histograms whose buckets are not cumulative, lack +Inf, disagree with
_count, or lack _sum.  With STATUS_JSON_FILE (the output of `ssfm status
--json`), every sample must equal the status field ssfmd(8) names for it
(volatile figures within a tolerance).  With MAN_PAGE, every family must
be documented there.

Prints the samples as one JSON object {"NAME{l=\"v\",...}": value} on
stdout; problems go to stderr, one per line; exit 1 if there were any.
"""
import json
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\Z')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\Z')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}
problems = []


def problem(lineno, msg):
    problems.append('line %d: %s' % (lineno, msg))


def parse_value(text, lineno):
    if text in ('+Inf', 'Inf'):
        return math.inf
    if text == '-Inf':
        return -math.inf
    if text == 'NaN':
        return math.nan
    if not re.fullmatch(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?', text):
        problem(lineno, 'value %r is not a number' % text)
        return None
    return float(text)


def parse_labels(text, lineno):
    """text starts after '{'; returns (labels, rest after '}')."""
    labels = {}
    i = 0
    while True:
        if text[i:i + 1] == '}':
            return labels, text[i + 1:]
        m = re.match(r'([a-zA-Z_][a-zA-Z0-9_]*)="', text[i:])
        if not m:
            raise ValueError('bad label at %r' % text[i:])
        name = m.group(1)
        i += m.end()
        value = []
        while True:
            if i >= len(text):
                raise ValueError('unterminated label value')
            c = text[i]
            if c == '\\':
                esc = text[i + 1:i + 2]
                if esc not in ('\\', '"', 'n'):
                    raise ValueError('bad escape \\%s in label %s' % (esc, name))
                value.append('\n' if esc == 'n' else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                raise ValueError('newline in label value')
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ValueError('label %s given twice' % name)
        labels[name] = ''.join(value)
        if text[i:i + 1] == ',':
            i += 1
        elif text[i:i + 1] != '}':
            raise ValueError('expected , or } after label %s' % name)


def family_of(name, types):
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) == 'histogram':
            return name[:-len(suffix)]
    return name


def series_key(name, labels):
    return name + '{' + ','.join('%s="%s"' % (k, labels[k]) for k in sorted(labels)) + '}' \
        if labels else name


def parse(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if text and not text.endswith('\n'):
        problem(0, 'the file does not end with a newline')
    helps, types, samples = {}, {}, {}
    seen_families, current = [], None
    hist, sampled = {}, set()
    for lineno, line in enumerate(text.split('\n')[:-1], 1):
        if line == '':
            continue
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                name = parts[2]
                if not NAME.match(name):
                    problem(lineno, 'bad metric name %r' % name)
                if name in seen_families and name != current:
                    problem(lineno, '%s %s after its family ended' % (parts[1], name))
                table = helps if parts[1] == 'HELP' else types
                if name in table:
                    problem(lineno, '%s given twice for %s' % (parts[1], name))
                if parts[1] == 'TYPE':
                    if len(parts) != 4 or parts[3] not in TYPES:
                        problem(lineno, 'bad TYPE line %r' % line)
                    if name in sampled:
                        problem(lineno, 'TYPE of %s after its samples' % name)
                    types[name] = parts[3] if len(parts) == 4 else ''
                else:
                    if len(parts) != 4 or parts[3].strip() == '':
                        problem(lineno, 'HELP without text for %s' % name)
                    helps[name] = parts[3] if len(parts) == 4 else ''
                if name != current:
                    seen_families.append(name)
                    current = name
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)', line)
        if not m:
            problem(lineno, 'not a sample: %r' % line)
            continue
        name, rest = m.group(1), line[m.end():]
        labels = {}
        if rest.startswith('{'):
            try:
                labels, rest = parse_labels(rest[1:], lineno)
            except ValueError as e:
                problem(lineno, str(e))
                continue
        fields = rest.split(' ')
        if len(fields) not in (2, 3) or fields[0] != '':
            problem(lineno, 'expected one space, a value and an optional timestamp: %r' % line)
            continue
        value = parse_value(fields[1], lineno)
        if len(fields) == 3 and not re.fullmatch(r'-?\d+', fields[2]):
            problem(lineno, 'bad timestamp %r' % fields[2])
        fam = family_of(name, types)
        sampled.add(fam)
        if fam not in types:
            problem(lineno, 'sample %s before its TYPE' % name)
        elif fam != current:
            problem(lineno, 'sample %s interleaved with family %s' % (name, current))
        if types.get(fam) == 'counter' and not name.endswith('_total'):
            problem(lineno, 'counter %s does not end in _total' % name)
        if types.get(fam) == 'histogram':
            if name == fam:
                problem(lineno, 'histogram %s sample without _bucket/_sum/_count' % name)
            if name.endswith('_bucket'):
                if 'le' not in labels:
                    problem(lineno, 'bucket without le')
                else:
                    le = parse_value(labels['le'], lineno)
                    hist.setdefault(fam, {'buckets': []})['buckets'].append((le, value))
            else:
                hist.setdefault(fam, {'buckets': []})[name[len(fam) + 1:]] = value
        key = series_key(name, labels)
        if key in samples:
            problem(lineno, 'duplicate series %s' % key)
        if value is not None:
            samples[key] = value
    for fam, h in hist.items():
        b = h['buckets']
        les = [le for le, _ in b]
        if les != sorted(les):
            problem(0, '%s: buckets not in ascending le order' % fam)
        if not les or les[-1] != math.inf:
            problem(0, '%s: no +Inf bucket' % fam)
        counts = [c for _, c in b]
        if any(counts[i] > counts[i + 1] for i in range(len(counts) - 1)):
            problem(0, '%s: bucket counts are not cumulative' % fam)
        if 'count' not in h or 'sum' not in h:
            problem(0, '%s: _count or _sum missing' % fam)
        elif les and counts[-1] != h['count']:
            problem(0, '%s: +Inf bucket %s != _count %s' % (fam, counts[-1], h['count']))
    for fam in types:
        if fam not in helps:
            problem(0, 'no HELP for %s' % fam)
    return types, samples


# Metric family -> (status field path, scale), as ssfmd(8) METRICS lists them.
FIELDS = {
    'ssfm_role_since_timestamp_seconds': ('role_since', 0.001),
    'ssfm_accepting_writes': ('accepting_writes', None),
    'ssfm_service_up': ('service', None),
    'ssfm_epoch': ('epoch', 1),
    'ssfm_committed_seq': ('committed_seq', 1),
    'ssfm_applied_seq': ('applied_seq', 1),
    'ssfm_lag_seq': ('lag_seq', 1),
    'ssfm_lag_seconds': ('lag_seconds', 1),
    'ssfm_keys': ('keys', 1),
    'ssfm_snapshot_seq': ('snapshot_seq', 1),
    'ssfm_lease_renewal_age_seconds': ('lease_renewal_age_seconds', 1),
    'ssfm_lease_left_seconds': ('lease_left_ms', 0.001),
    'ssfm_writes_in_flight': ('writes_in_flight', 1),
    'ssfm_connections': ('connections', 1),
    'ssfm_quarantined_files': ('quarantined_files', 1),
    'ssfm_failovers_total': ('failovers', 1),
    'ssfm_digest_mismatches_total': ('digest_mismatches', 1),
    'ssfm_snapshots_written_total': ('snapshots_written', 1),
    'ssfm_last_failover_timestamp_seconds': ('failover.detected', 0.001),
    'ssfm_last_failover_epoch': ('failover.epoch', 1),
}
# Figures that move without anything happening: compared within a bound.
VOLATILE = {'ssfm_lease_renewal_age_seconds': 30, 'ssfm_lease_left_seconds': 30,
            'ssfm_connections': 4, 'ssfm_writes_in_flight': 0}


def field(status, path):
    for part in path.split('.'):
        if not isinstance(status, dict) or part not in status:
            return None
        status = status[part]
    return status


def compare(samples, status):
    def check(key, got, want, tol=0.0):
        if want is None:
            problems.append('%s = %s but the status has no such field' % (key, got))
        elif abs(got - want) > tol + 1e-9 * max(1.0, abs(want)):
            problems.append('%s = %r but status --json says %r' % (key, got, want))

    seen = set()
    for key, value in samples.items():
        name = key.split('{')[0]
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', key))
        seen.add(name)
        if name in FIELDS:
            path, scale = FIELDS[name]
            want = field(status, path)
            if scale is None:
                want = 1.0 if want in (True, 'started') else 0.0 if want is not None else None
            elif want is not None:
                want = want * scale
            check(key, value, want, VOLATILE.get(name, 0))
        elif name == 'ssfm_info':
            if labels.get('group') != status.get('group') or labels.get('host') != status.get('host'):
                problems.append('%s does not name group %r host %r' % (key, status.get('group'), status.get('host')))
        elif name == 'ssfm_role':
            check(key, value, 1.0 if labels.get('role') == status.get('role') else 0.0)
        elif name == 'ssfm_hook_failures_total':
            check(key, value, field(status, 'hook_failures.' + labels.get('hook', '')))
        elif name == 'ssfm_last_failover_phase_seconds':
            check(key, value, field(status, 'failover.phase_seconds.' + labels.get('phase', '')))
        elif name.endswith('_bucket') or name.endswith('_sum') or name.endswith('_count'):
            fam, part = name.rsplit('_', 1)
            h = status.get(fam[len('ssfm_'):])
            if not isinstance(h, dict):
                problems.append('%s: status has no histogram %s' % (key, fam[len('ssfm_'):]))
            elif part == 'bucket':
                check(key, value, h.get('buckets', {}).get(labels.get('le')))
            else:
                check(key, value, h.get(part))
        else:
            problems.append('%s: no status field known for this metric' % key)
    if status.get('role') and 'ssfm_role' not in seen:
        problems.append('no ssfm_role sample')


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    types, samples = parse(sys.argv[1])
    if len(sys.argv) > 2:
        with open(sys.argv[2], encoding='utf-8') as f:
            compare(samples, json.load(f))
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding='utf-8') as f:
            man = f.read()
        for fam in types:
            if not re.search(r'\b%s\b' % re.escape(fam), man):
                problems.append('%s is not documented in %s' % (fam, sys.argv[3]))
    json.dump({k: (None if isinstance(v, float) and (math.isinf(v) or math.isnan(v)) else v)
               for k, v in samples.items()}, sys.stdout)
    sys.stdout.write('\n')
    for p in problems:
        sys.stderr.write(p + '\n')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
