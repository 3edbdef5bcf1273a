#!/usr/bin/env python3
"""check_storage_agree.py: does `ssfm check-storage --json` say what the test
itself observed of the filesystem (fs_observe.py)?

usage: check_storage_agree.py CHECK_JSON OBSERVE_JSON EXIT_STATUS

Prints one line per comparison: "PASS description" or "FAIL description";
the shell test turns them into TAP checks.
"""
import json
import sys

EXIT = {'ok': 0, 'warn': 1, 'fail': 3}
ITEMS = ['configuration', 'filesystem', 'o_direct', 'no_clobber', 'fsync', 'inotify',
         'timeout_chain']


def main():
    with open(sys.argv[1]) as f:
        report = json.load(f)
    with open(sys.argv[2]) as f:
        seen = json.load(f)
    status = int(sys.argv[3])
    items = {it['item']: it for it in report['items']}
    where = seen['fstype']

    def say(cond, desc):
        print('%s %s: %s' % ('PASS' if cond else 'FAIL', where, desc))
        if not cond:
            sys.stderr.write('check-storage said: %s\nthe test saw: %s\n' % (
                json.dumps(report)[:3000], json.dumps(seen)))

    def verdict(name):
        return items.get(name, {}).get('verdict')

    say(all(n in items for n in ITEMS), 'every item is reported (%s)' % ', '.join(ITEMS))
    say(items.get('filesystem', {}).get('figures', {}).get('type') == seen['fstype'],
        'filesystem type is findmnt\'s (%s)' % seen['fstype'])
    say(verdict('o_direct') == ('ok' if seen['o_direct'] else 'fail'),
        'o_direct %s, as observed (O_DIRECT %s)' % (verdict('o_direct'),
                                                    'works' if seen['o_direct'] else 'fails'))
    want = 'ok' if seen['rename_noreplace'] else 'warn' if seen['link_noclobber'] else 'fail'
    say(verdict('no_clobber') == want,
        'no_clobber %s, as observed (RENAME_NOREPLACE %s, link %s)' % (
            verdict('no_clobber'), seen['rename_noreplace'], seen['link_noclobber']))
    figs = items.get('no_clobber', {}).get('figures', {})
    say(figs.get('rename_noreplace') == seen['rename_noreplace'] and
        figs.get('link') == seen['link_noclobber'], 'no_clobber figures as observed')
    ino = items.get('inotify', {})
    own = ino.get('figures', {}).get('sees_own_changes')
    say(own == seen['inotify_own'], 'inotify on own changes: %s, as observed' % own)
    if seen['inotify_other'] is not None:
        texts = ' '.join(f['text'] for f in ino.get('findings', []))
        say(seen['inotify_other'] is False and ino.get('figures', {}).get('sees_other_clients') is False
            and 'never seen' in texts and 'poll' in texts,
            'other clients\' changes: never seen by inotify (the test saw %s), and poll is required'
            % seen['inotify_other'])
    fs = items.get('fsync', {}).get('figures', {})
    say(0 <= fs.get('p50_ms', -1) <= fs.get('p99_ms', -1) <= fs.get('max_ms', -1),
        'fsync p50 <= p99 <= max (%s, %s, %s ms)' % (fs.get('p50_ms'), fs.get('p99_ms'), fs.get('max_ms')))
    worst = max((it['verdict'] for it in report['items']), key=lambda v: EXIT[v])
    say(report['verdict'] == worst and status == EXIT[worst] and report['exit'] == status,
        'verdict %s is the worst item\'s, exit %d' % (report['verdict'], status))
    for it in report['items']:
        if it['verdict'] != 'ok':
            say(any(f['verdict'] == it['verdict'] and f['advice'] for f in it['findings']),
                '%s: its %s finding comes with advice' % (it['item'], it['verdict']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
