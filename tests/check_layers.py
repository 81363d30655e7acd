#!/usr/bin/env python3
"""The layering of docs/ARCHITECTURE.md, checked against every #include of core/, ui/ and app/.

The layer table is read from the document itself (between `<!-- layers:begin -->` and
`<!-- layers:end -->`), so the picture and the check cannot drift apart. Rules:
  1. a file may include project headers of its own layer or of lower layers, never of a higher one;
  2. no include cycle between project files;
  3. libtorch (<torch/...>, <ATen/...>, <c10/...>) only in core/, and in core headers only in the
     headers the table names as torch headers, which in turn are included only from core/;
  4. no QtGui / QtWidgets header in core/.
Usage: check_layers.py SOURCE_DIR      (exit 0: clean; 1: violations, one line each)
       check_layers.py --self-test     (builds small trees that break each rule and expects failures)
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
SOURCE_EXT = ('.h', '.hpp', '.cpp')
GUI_HEADERS = re.compile(r'^(QtGui|QtWidgets|QtPrintSupport|QtSvg)/|^Q(Widget|Application|GuiApplication|Color|Image|'
                         r'Painter|Pixmap|Font|Palette|Icon|Window|Dialog|Action)\b')
TORCH_HEADERS = re.compile(r'^(torch|ATen|c10)/')


def read_table(root):
    """Returns ({folder: layer}, {torch header paths}) from docs/ARCHITECTURE.md."""
    text = open(os.path.join(root, 'docs', 'ARCHITECTURE.md'), encoding='utf-8').read()
    match = re.search(r'<!-- layers:begin -->(.*?)<!-- layers:end -->', text, re.S)
    if not match:
        raise SystemExit('check_layers: docs/ARCHITECTURE.md has no <!-- layers:begin --> table')
    layers, torch_headers = {}, set()
    for line in match.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for folder in re.findall(r'`([^`]+)`', cells[1]):
            layers[folder.rstrip('/')] = int(cells[0])
        if len(cells) > 2:
            torch_headers.update(re.findall(r'`([^`]+\.h)`', cells[2]))
    if not layers:
        raise SystemExit('check_layers: the layer table in docs/ARCHITECTURE.md is empty')
    return layers, torch_headers


def layer_of(path, layers):
    """The layer of the longest table folder that contains `path`, or None."""
    best = None
    for folder, layer in layers.items():
        if path == folder or path.startswith(folder + '/'):
            if best is None or len(folder) > len(best[0]):
                best = (folder, layer)
    return best[1] if best else None


def project_files(root, layers):
    tops = sorted({folder.split('/')[0] for folder in layers})
    for top in tops:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, '/')


def check(root):
    layers, torch_headers = read_table(root)
    errors, graph = [], {}
    for path in project_files(root, layers):
        source_layer = layer_of(path, layers)
        if source_layer is None:
            errors.append(f'{path}: its folder is not in the layer table of docs/ARCHITECTURE.md')
            continue
        text = open(os.path.join(root, path), encoding='utf-8', errors='replace').read()
        graph[path] = []
        for kind, target in INCLUDE.findall(text):
            if kind == '<':
                if TORCH_HEADERS.match(target):
                    if not path.startswith('core/'):
                        errors.append(f'{path}: includes libtorch <{target}> outside core/')
                    elif path.endswith('.h') and path not in torch_headers:
                        errors.append(f'{path}: a torch-free header includes <{target}>')
                if path.startswith('core/') and GUI_HEADERS.match(target):
                    errors.append(f'{path}: core/ includes the GUI header <{target}>')
                continue
            if target in torch_headers and not path.startswith('core/'):
                errors.append(f'{path}: includes the torch header "{target}" outside core/')
            target_layer = layer_of(target, layers)
            if target_layer is None:
                continue  # generated or test-local headers
            graph[path].append(target)
            if target_layer > source_layer:
                errors.append(f'{path}: includes "{target}" of layer {target_layer} from layer {source_layer}')
    errors += find_cycles(graph)
    return errors


def find_cycles(graph):
    """One line per include cycle found by a depth-first search over project files."""
    state, stack, errors = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                errors.append('include cycle: ' + ' -> '.join(cycle))
            elif nxt in graph and state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)
    return errors


def self_test():
    table = ('<!-- layers:begin -->\n| layer | folders | torch headers |\n|---|---|---|\n'
             '| 1 | `core/base` | |\n| 2 | `core/model` | `core/model/t.h` |\n| 3 | `ui` | |\n'
             '<!-- layers:end -->\n')
    cases = {
        'upward include': {'core/base/a.h': '#include "core/model/b.h"\n', 'core/model/b.h': ''},
        'cycle': {'core/base/a.h': '#include "core/base/b.h"\n', 'core/base/b.h': '#include "core/base/a.h"\n'},
        'torch in a torch-free header': {'core/model/b.h': '#include <torch/torch.h>\n'},
        'torch in ui': {'ui/v.cpp': '#include <ATen/core/Tensor.h>\n'},
        'torch header in ui': {'ui/v.cpp': '#include "core/model/t.h"\n', 'core/model/t.h': ''},
        'GUI in core': {'core/base/a.cpp': '#include <QWidget>\n'},
        'folder missing from the table': {'core/extra/x.h': ''},
    }
    clean = {'core/base/a.h': '', 'core/model/t.h': '#include <torch/torch.h>\n#include "core/base/a.h"\n',
             'core/model/u.h': '#include "core/base/a.h"\n', 'ui/v.cpp': '#include "core/model/u.h"\n#include <QWidget>\n'}
    failures = 0
    for name, files in list(cases.items()) + [('clean tree', clean)]:
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, 'docs'))
            open(os.path.join(root, 'docs', 'ARCHITECTURE.md'), 'w').write(table)
            for rel, body in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                open(os.path.join(root, rel), 'w').write(body)
            errors = check(root)
            ok = (not errors) if name == 'clean tree' else bool(errors)
            print(f'self-test {name}: {"ok" if ok else "FAILED"} {errors}')
            failures += not ok
    return failures


def main():
    if sys.argv[1:] == ['--self-test']:
        sys.exit(1 if self_test() else 0)
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    errors = check(sys.argv[1])
    for e in errors:
        print(e)
    print(f'check_layers: {len(errors)} violation(s)')
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
