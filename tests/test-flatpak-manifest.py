#!/usr/bin/env python3
# test-flatpak-manifest.py: the Flatpak manifest parses, names the app as its desktop file and
# metainfo do, keeps to the agreed sandbox holes, and pins every source it fetches.
#
# Copyright 2026 The Likeness authors
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-flatpak-manifest.py SOURCE_ROOT   (TAP output)

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

APP_ID_DESKTOP = 'data/io.github.likeness.Likeness.desktop.in'
METAINFO = 'data/io.github.likeness.Likeness.metainfo.xml.in'
MANIFEST = 'flatpak/io.github.likeness.Likeness.json'
REGISTRY = 'data/models.json'
# The models the Flatpak bundles so faces work offline.
FACE_ROLES = {'face-detect', 'face-mesh', 'segmentation', 'landmarks', 'face-id'}
FINISH_ARGS = {
    '--device=dri',
    '--share=ipc',
    '--socket=wayland',
    '--socket=fallback-x11',
    '--share=network',
}
SHA256 = re.compile(r'^[0-9a-f]{64}$')
COMMIT = re.compile(r'^[0-9a-f]{40}$')
# Sources that live in the checkout itself need no pin.
LOCAL_TYPES = {'dir', 'script', 'inline', 'shell', 'patch'}

results = []


def check(name, ok, detail=''):
    results.append((name, ok, detail))


def modules(items):
    for module in items:
        if isinstance(module, str):  # a path to another manifest file: none here
            yield module, None
            continue
        yield module.get('name', '?'), module
        yield from modules(module.get('modules', []))


def source_pinned(source):
    kind = source.get('type', '')
    if kind in LOCAL_TYPES:
        return kind != 'patch' or 'url' not in source
    if kind == 'file' and 'path' in source and 'url' not in source:
        return True  # a file from the checkout itself
    if kind == 'git':
        return bool(COMMIT.match(source.get('commit', '')))
    if kind in ('file', 'archive', 'extra-data'):
        return bool(SHA256.match(source.get('sha256', '')))
    return False


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    try:
        with open(os.path.join(root, MANIFEST), encoding='utf-8') as f:
            manifest = json.load(f)
        check('manifest parses as JSON', isinstance(manifest, dict))
    except (OSError, ValueError) as e:
        check('manifest parses as JSON', False, str(e))
        manifest = {}

    app_id = manifest.get('id') or manifest.get('app-id')
    desktop_id = os.path.basename(APP_ID_DESKTOP)[:-len('.desktop.in')]
    check('id equals the desktop file basename', app_id == desktop_id,
          f'{app_id!r} != {desktop_id!r}')
    metainfo_id = ET.parse(os.path.join(root, METAINFO)).getroot().findtext('id')
    check('id equals the metainfo <id>', app_id == metainfo_id, f'{app_id!r} != {metainfo_id!r}')
    check('command is likeness', manifest.get('command') == 'likeness',
          repr(manifest.get('command')))

    finish = manifest.get('finish-args', [])
    check('finish-args are exactly the agreed set',
          set(finish) == FINISH_ARGS and len(finish) == len(FINISH_ARGS),
          f'extra {sorted(set(finish) - FINISH_ARGS)}, missing {sorted(FINISH_ARGS - set(finish))}')
    check('no filesystem access (portals only)',
          not any(a.startswith('--filesystem') for a in finish))

    all_modules = list(modules(manifest.get('modules', [])))
    check('manifest has modules', len(all_modules) > 0)
    for name, module in all_modules:
        if module is None:
            check(f'module {name} is inline', False, 'external module files are not checked')
            continue
        sources = module.get('sources', [])
        for i, source in enumerate(sources):
            if isinstance(source, str):
                check(f'module {name} source {i} is inline', False, source)
                continue
            what = source.get('url') or source.get('path') or source.get('type')
            check(f'module {name} source {i} ({what}) is pinned', source_pinned(source),
                  'needs sha256 (file/archive) or commit (git)')

    # Every folder a fetched model lands in also gets a licence file, from the checkout.
    manifest_dir = os.path.dirname(os.path.join(root, MANIFEST))
    for name, module in all_modules:
        if module is None:
            continue
        sources = [s for s in module.get('sources', []) if isinstance(s, dict)]
        model_dests = {s.get('dest') for s in sources
                       if s.get('url') and str(s.get('dest', '')).startswith('models/')}
        for dest in sorted(model_dests):
            licences = [s for s in sources if s.get('dest') == dest and 'path' in s and
                        os.path.basename(s['path']).startswith('LICENSE')]
            check(f'module {name}: {dest} ships a licence', len(licences) > 0)
        for source in sources:
            if source.get('type') == 'file' and 'path' in source:
                check(f'module {name}: {source["path"]} exists',
                      os.path.isfile(os.path.join(manifest_dir, source['path'])))

    # The bundled models are the registry's own: the same files, pins, URLs and licence texts.
    with open(os.path.join(root, REGISTRY), encoding='utf-8') as f:
        registry = {m['name']: m for m in json.load(f)['models']}
    bundled = {}
    for name, module in all_modules:
        for source in (module or {}).get('sources', []):
            dest = str(source.get('dest', '')) if isinstance(source, dict) else ''
            if dest.startswith('models/'):
                bundled.setdefault(dest[len('models/'):], []).append(source)
    check('the Flatpak bundles the face models',
          {n for n, m in registry.items() if m['role'] in FACE_ROLES} == set(bundled),
          f'bundled {sorted(bundled)}')
    for model, sources in sorted(bundled.items()):
        entry = registry.get(model)
        if entry is None:
            check(f'bundled {model} is a registry model', False)
            continue
        files = {f['path']: f for f in entry['files']}
        fetched = [s for s in sources if s.get('url')]
        names = {s.get('dest-filename') or os.path.basename(s['url']) for s in fetched}
        check(f'bundled {model} has every file of the model', names == set(files),
              f'{sorted(names)} != {sorted(files)}')
        for s in fetched:
            spec = files.get(s.get('dest-filename') or os.path.basename(s['url']), {})
            urls = [s['url']] + s.get('mirror-urls', [])
            check(f'bundled {model}: {os.path.basename(s["url"])} has the registry pin and URLs',
                  s.get('sha256') == spec.get('sha256') and urls == spec.get('urls'),
                  f'{s.get("sha256")} / {urls}')
        licences = {os.path.basename(s['path']) for s in sources if 'path' in s}
        check(f'bundled {model} ships the registry licence texts',
              licences == set(entry.get('license_files', [])) and len(licences) > 0,
              f'{sorted(licences)} != {sorted(entry.get("license_files", []))}')

    likeness = [m for n, m in all_modules if n == 'likeness' and m is not None]
    check('likeness module runs its tests',
          len(likeness) == 1 and likeness[0].get('run-tests') is True)

    # flatpak-builder's own reading of the manifest (offline: no runtime, no download): every
    # property known to it, the JSON well-formed in its eyes too.
    skip = None
    builder = shutil.which('flatpak-builder')
    if builder is None:
        skip = 'flatpak-builder is not installed'
    else:
        # It keeps a .flatpak-builder state folder in its working directory: a throwaway one.
        with tempfile.TemporaryDirectory() as scratch:
            run = subprocess.run([builder, '--show-manifest',
                                  os.path.abspath(os.path.join(root, MANIFEST))],
                                 capture_output=True, text=True, check=False, cwd=scratch)
        complaints = [line for line in run.stderr.splitlines() if line.strip()]
        check('flatpak-builder --show-manifest reads it without a complaint',
              run.returncode == 0 and not complaints, '; '.join(complaints[:3]))

    print(f'1..{len(results) + (skip is not None)}')
    failed = 0
    for n, (name, ok, detail) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {n} - {name}')
        if not ok:
            failed += 1
            if detail:
                print(f'# {detail}')
    if skip is not None:
        print(f'ok {len(results) + 1} - flatpak-builder --show-manifest # SKIP {skip}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
